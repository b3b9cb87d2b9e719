"""Assignment of products to segments by the catalogue's rules, with the conditions that matched.

Each segment's archetype is a conjunction of conditions (see `ml.catalogue_checks`, which
validates the catalogue exactly); the matching segment with the lowest priority number wins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.catalogue_checks import validate_catalogue
from ml.columns import AS_OF, FAMILY, LOCATION_ID, MATCHED_CONDITIONS, SEGMENT, SKU_ID
from ml.config.catalogue import ArchetypeCondition, Catalogue, Segment
from ml.errors import StrataError
from ml.segment_rules import rule_classes

# validate_catalogue lives in ml.catalogue_checks; re-exported for training/train.py
__all__ = ["assign_by_rules", "validate_catalogue"]

_CATCH_ALL_TEXT = "catch-all: no segment with a lower priority number matched"


def _condition_text(key: str, cond: ArchetypeCondition, values: pd.Series) -> pd.Series:
    if cond.classes is not None:
        return key + "=" + values.astype(str)
    shown = values.astype("float64").round(4).astype(str).str.removesuffix(".0")
    return key + "=" + shown + " (" + cond.text(key) + ")"


def assign_by_rules(
    frame: pd.DataFrame, catalogue: Catalogue, classes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The segment of every product by the catalogue's rules, with the conditions that matched.

    `classes` are the rule labels (from rule_classes); computed from `frame` with the
    catalogue's drivers when None. The segment with the lowest priority number among those whose
    every condition holds wins (file order breaks a tie, which validate_catalogue reports).
    Returns the frame's keys (sku_id, or family at family grain; location_id; as_of),
    `segment`, `matched_conditions` (e.g. "abc=A; pattern=smooth") and the rule labels, aligned
    on the frame's index. A product no segment matches raises.
    """
    if classes is None:
        classes = rule_classes(frame, catalogue.drivers)
    data = pd.concat(
        [frame.drop(columns=[c for c in classes.columns if c in frame.columns]), classes], axis=1
    )
    order = sorted(range(len(catalogue.segments)), key=lambda i: catalogue.segments[i].priority)
    segments = [catalogue.segments[i] for i in order]
    _check_archetype_columns(segments, data)
    masks = np.ones((len(segments), len(data)), dtype=bool)
    for row, s in enumerate(segments):
        for key, cond in s.archetype.items():
            masks[row] &= cond.mask(data[key])
    _check_every_product_matched(masks, data)
    first = masks.argmax(axis=0)
    names = np.array([s.name for s in segments], dtype=object)[first]
    matched = _matched_conditions(data, segments, first)
    entity = SKU_ID if SKU_ID in frame.columns else FAMILY  # family grain: one row per family
    keys = [c for c in (entity, LOCATION_ID, AS_OF) if c in frame.columns]
    out = frame[keys].copy()
    out[SEGMENT] = pd.Series(names, index=data.index, dtype="str")
    out[MATCHED_CONDITIONS] = matched
    for c in classes.columns:
        out[c] = classes[c]
    return out


def _check_archetype_columns(segments: list[Segment], data: pd.DataFrame) -> None:
    missing = sorted({(s.name, k) for s in segments for k in s.archetype if k not in data.columns})
    if missing:
        listed = ", ".join(f"'{k}' (segment '{n}')" for n, k in missing)
        raise StrataError(
            f"the frame lacks columns the catalogue's archetypes test: {listed}; build the "
            f"snapshot with these attributes or change the archetypes in configs/segments.yaml"
        )


def _matched_conditions(
    data: pd.DataFrame, segments: list[Segment], first: np.ndarray
) -> pd.Series:
    """Per product, the conditions of its winning segment in words ("abc=A; pattern=smooth")."""
    matched = pd.Series(_CATCH_ALL_TEXT, index=data.index, dtype="str")
    for row, s in enumerate(segments):
        rows = first == row
        if not rows.any() or s.is_catch_all:
            continue
        part = data.loc[rows]
        texts = [_condition_text(k, c, part[k]) for k, c in s.archetype.items()]
        joined = texts[0]
        for t in texts[1:]:
            joined = joined + "; " + t
        matched.loc[rows] = joined
    return matched


def _check_every_product_matched(masks: np.ndarray, data: pd.DataFrame) -> None:
    matched_any = masks.any(axis=0)
    if not matched_any.all():
        bad = data.loc[~matched_any]
        label = (
            bad[SKU_ID].astype(str).head(5).tolist()
            if SKU_ID in bad.columns
            else bad.index[:5].tolist()
        )
        raise StrataError(
            f"{int((~matched_any).sum())} product(s) match no segment, e.g. {label}; add a "
            f"catch-all segment (archetype: {{}}) to configs/segments.yaml or widen an archetype "
            f"(validate_catalogue names the uncovered region)"
        )
