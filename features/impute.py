"""Fallback for missing attribute values: product -> family -> category -> configured default.

A value the product's own data cannot give (too short a history, no supply lines, stale supply,
no product-master field) is filled, per attribute, by the first level that has one:

1. family: the median of that attribute over the products of the same family that have their
   own (non-missing, non-stale) value;
2. category: the same median over the category;
3. default: `FeaturesConfig.defaults[attribute]`.

Every filled value is flagged in `<attribute>_imputed`; values no level can fill stay missing and
are listed (never dropped). Medians are taken before any filling, so a filled value never feeds
another product's fallback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml import columns as C
from ml.attributes import imputed_column

__all__ = ["LEVELS", "Imputation", "fill_by_hierarchy"]

LEVELS: tuple[str, ...] = (C.FAMILY, C.CATEGORY, "default")


@dataclass(frozen=True)
class Imputation:
    """Filled values, their flags, counts per attribute and level, and what stayed missing."""

    values: pd.DataFrame
    flags: pd.DataFrame
    counts: dict[str, dict[str, int]]
    unresolved: dict[str, np.ndarray]


def fill_by_hierarchy(
    values: pd.DataFrame,
    groups: pd.DataFrame,
    defaults: Mapping[str, float],
    columns: Sequence[str],
) -> Imputation:
    """Fill missing `columns` of `values` from family, then category medians, then defaults.

    `groups` holds the family and category of each row (same index as `values`; missing group
    = no fallback at that level). Returns new frames; the inputs are not changed.
    """
    filled = values[list(columns)].copy()
    flags = pd.DataFrame(False, index=values.index, columns=[imputed_column(c) for c in columns])
    counts: dict[str, dict[str, int]] = {}
    unresolved: dict[str, np.ndarray] = {}
    gaps = [c for c in columns if filled[c].isna().any()]
    medians = {
        level: filled[gaps].groupby(groups[level], dropna=True, sort=False).transform("median")
        for level in (C.FAMILY, C.CATEGORY)
        if gaps and level in groups.columns
    }
    for col in gaps:
        level_counts: dict[str, int] = {}
        current = filled[col]
        missing = current.isna().to_numpy().copy()
        for level in LEVELS:
            if not missing.any():
                break
            if level == "default":
                fallback = pd.Series(defaults.get(col, np.nan), index=values.index, dtype=float)
            elif level in medians:
                fallback = medians[level][col]
            else:
                continue
            take = missing & fallback.notna().to_numpy()
            if take.any():
                current = current.where(~take, fallback)
                level_counts[level] = int(take.sum())
                missing &= ~take
        filled[col] = current
        flags[imputed_column(col)] = current.notna().to_numpy() & values[col].isna().to_numpy()
        counts[col] = level_counts
        if missing.any():
            unresolved[col] = np.flatnonzero(missing)
    return Imputation(filled, flags, counts, unresolved)
