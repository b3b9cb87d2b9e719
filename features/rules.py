"""Row rules from config: which rows are excluded (non-product codes) and what kind each row is.

A rule holds for a row when all its conditions hold. Conditions test the typed canonical fields
(after parsing and SKU case normalisation, before unit and currency conversion). A missing
value satisfies no condition except ``is_null: true``. ``matches`` and ``not_matches`` test the
whole value (``re.fullmatch``): write ``\\d{5}.*`` for "starts with five digits".
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ml.config import Condition, ExcludeRule, KindRule
from ml.contracts import FieldType

__all__ = ["condition_problems", "excluded_by", "kinds", "rule_mask"]

_TEXT_TESTS = ("startswith", "matches", "not_matches")
_NUMBER_TESTS = ("lt", "le", "gt", "ge", "eq")


def condition_problems(
    cond: Condition, types: dict[str, FieldType], provided: set[str]
) -> list[str]:
    """What is wrong with a condition for a source: unknown field, test not fitting its type."""
    if cond.field not in types:
        return [
            f"condition field '{cond.field}' is not a field of this table; fields: "
            f"{', '.join(sorted(types))}"
        ]
    if cond.field not in provided:
        return [f"condition field '{cond.field}' is not mapped by this source; add it to 'columns'"]
    out = []
    kind = types[cond.field]
    tests = [t for t in (*_TEXT_TESTS, *_NUMBER_TESTS, "is_null") if getattr(cond, t) is not None]
    if not tests:
        out.append(
            f"condition on '{cond.field}' has no test; use one of "
            f"{', '.join((*_TEXT_TESTS, *_NUMBER_TESTS, 'is_null'))}"
        )
    for test in tests:
        if test in _TEXT_TESTS and kind not in ("id", "text"):
            out.append(f"condition '{test}' needs a text field; '{cond.field}' is a {kind}")
        if test in _NUMBER_TESTS and kind != "number":
            out.append(f"condition '{test}' needs a number field; '{cond.field}' is a {kind}")
        if test in ("matches", "not_matches"):
            try:
                re.compile(getattr(cond, test))
            except re.error as exc:
                out.append(f"condition '{test}' on '{cond.field}' is not a valid regex: {exc}")
    return out


def _condition_mask(values: pd.Series, cond: Condition) -> pd.Series:
    present = values.notna()
    mask = pd.Series(True, index=values.index)
    if cond.is_null is not None:
        mask &= ~present if cond.is_null else present
    if cond.startswith is not None:
        mask &= values.str.startswith(cond.startswith).fillna(False).astype(bool)
    if cond.matches is not None:
        mask &= values.str.fullmatch(cond.matches).fillna(False).astype(bool)
    if cond.not_matches is not None:
        mask &= present & ~values.str.fullmatch(cond.not_matches).fillna(True).astype(bool)
    for test, op in (("lt", "lt"), ("le", "le"), ("gt", "gt"), ("ge", "ge"), ("eq", "eq")):
        bound = getattr(cond, test)
        if bound is not None:
            mask &= getattr(values, op)(bound).fillna(False).astype(bool)
    return mask


def rule_mask(frame: pd.DataFrame, when: list[Condition]) -> pd.Series:
    """Rows for which every condition holds."""
    mask = pd.Series(True, index=frame.index)
    for cond in when:
        mask &= _condition_mask(frame[cond.field], cond)
    return mask


def excluded_by(frame: pd.DataFrame, rules: list[ExcludeRule]) -> pd.Series:
    """Per row, the position of the first exclude rule that holds (-1 when none does)."""
    chosen = pd.Series(-1, index=frame.index, dtype="int64")
    for position, rule in enumerate(rules):
        chosen = chosen.mask(rule_mask(frame, rule.when) & (chosen < 0), position)
    return chosen


def kinds(frame: pd.DataFrame, rules: list[KindRule]) -> pd.Series:
    """Per row, the kind of the first kind rule that holds; 'sale' when none does."""
    if not rules:
        return pd.Series("sale", index=frame.index, dtype="str")
    masks = [rule_mask(frame, rule.when).to_numpy() for rule in rules]
    chosen = np.select(masks, [rule.kind for rule in rules], default="sale")
    return pd.Series(chosen, index=frame.index, dtype="str")
