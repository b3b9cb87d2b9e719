"""Demand for products without their own history, borrowed from like items (pure).

A product in the master that never sold has no demand statistics, so no policy could be set for
it. Like-item forecasting, the usual practice for launches (Silver, Pyke & Thomas 2017, ch. 4,
"forecasting for new items"), borrows the demand of comparable products: here the median mean,
sd, ADI and CV² of the selling products of its family, else of its category. The source is kept
so every such policy says where its demand came from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml import columns as C

__all__ = ["DEMAND_SOURCE", "OWN_HISTORY", "like_item_demand"]

DEMAND_SOURCE = "demand_source"  # own history | like items: <level> <value> (<n> products)
OWN_HISTORY = "own history"
_STATISTICS = ("mean_qty", "std_qty", "adi", "cv2")
_LEVELS = (C.FAMILY, C.CATEGORY)


def _numbers(features: pd.DataFrame, column: str) -> pd.Series:
    if column not in features.columns:
        return pd.Series(np.nan, index=features.index)
    return pd.to_numeric(features[column], errors="coerce").astype("float64")


def like_item_demand(features: pd.DataFrame) -> pd.DataFrame:
    """Per product (in the order of ``features``): mean_qty, std_qty, adi, cv2 — its own, else
    its like items' medians — and ``demand_source`` saying which."""
    out = pd.DataFrame({s: _numbers(features, s) for s in _STATISTICS}, index=features.index)
    source = pd.Series(np.where(out["mean_qty"].notna(), OWN_HISTORY, ""), index=out.index)
    selling = out["mean_qty"].gt(0)
    for level in _LEVELS:
        missing = out["mean_qty"].isna()
        if level not in features.columns or not missing.any():
            continue
        key = features[level].astype("str")
        donors = out[selling].groupby(key[selling])
        medians, counts = donors.median(), donors.size()
        borrowed = medians.reindex(key[missing])
        borrowed.index = key[missing].index
        found = borrowed["mean_qty"].notna()
        rows = borrowed.index[found.to_numpy()]
        out.loc[rows, list(_STATISTICS)] = borrowed.loc[rows, list(_STATISTICS)].to_numpy()
        n = counts.reindex(key[rows]).astype("str").to_numpy(dtype=object)
        source[rows] = f"like items: {level} " + key[rows].to_numpy(dtype=object) + " (" + n + ")"
    out[DEMAND_SOURCE] = source.to_numpy()
    return out.reset_index(drop=True)
