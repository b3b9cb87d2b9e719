"""Row rules: conditions on typed fields, first matching rule wins, missing values match nothing."""

import numpy as np
import pandas as pd

from features.rules import condition_problems, excluded_by, kinds, rule_mask
from ml.config import Condition, ExcludeRule, KindRule
from ml.contracts import SOURCE_FIELDS

FRAME = pd.DataFrame(
    {
        "document_id": pd.Series(["C1", "A2", "3", "4", np.nan], dtype="str"),
        "sku_id": pd.Series(["85123A", "POST", "DCGS0058", np.nan, "22423"], dtype="str"),
        "qty": [-1.0, 1.0, -5.0, 2.0, np.nan],
        "unit_price": [2.5, 0.0, 0.0, 1.0, 3.0],
    }
)


def cond(**kw) -> Condition:
    return Condition.model_validate(kw)


def hits(*conditions: Condition) -> list[int]:
    return np.flatnonzero(rule_mask(FRAME, list(conditions))).tolist()


def test_each_test_of_a_condition():
    assert hits(cond(field="document_id", startswith="C")) == [0]
    assert hits(cond(field="sku_id", matches=r"\d{5}.*")) == [0, 4]
    # a missing value matches no pattern, and does not count as 'not matching' either
    assert hits(cond(field="sku_id", not_matches=r"\d{5}.*")) == [1, 2]
    assert hits(cond(field="sku_id", is_null=True)) == [3]
    assert hits(cond(field="qty", lt=0)) == [0, 2]
    assert hits(cond(field="qty", ge=1), cond(field="unit_price", le=1)) == [1, 3]


def test_first_matching_kind_rule_wins_else_sale():
    rules = [
        KindRule(kind="cancellation", when=[cond(field="document_id", startswith="C")]),
        KindRule(kind="write_off", when=[cond(field="qty", lt=0), cond(field="unit_price", eq=0)]),
        KindRule(kind="return", when=[cond(field="qty", lt=0)]),
    ]
    assert kinds(FRAME, rules).tolist() == ["cancellation", "sale", "write_off", "sale", "sale"]


def test_exclusion_reports_the_first_rule_that_holds():
    rules = [
        ExcludeRule(reason="postage", when=[cond(field="sku_id", matches="POST|DOT")]),
        ExcludeRule(reason="non_product_code", when=[cond(field="sku_id", not_matches=r"\d{5}.*")]),
    ]
    assert excluded_by(FRAME, rules).tolist() == [-1, 0, 1, -1, -1]


def test_conditions_that_cannot_work_are_named():
    types = SOURCE_FIELDS["demand"].types
    provided = {"sku_id", "qty", "date"}
    assert condition_problems(cond(field="colour", eq=1), types, provided) == [
        "condition field 'colour' is not a field of this table; fields: " + ", ".join(sorted(types))
    ]
    assert condition_problems(cond(field="qty", startswith="1"), types, provided) == [
        "condition 'startswith' needs a text field; 'qty' is a number"
    ]
    assert condition_problems(cond(field="unit_price", eq=0), types, provided) == [
        "condition field 'unit_price' is not mapped by this source; add it to 'columns'"
    ]
