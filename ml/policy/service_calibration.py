"""Service calibration: what a segment's policies achieved against what their formulas planned.

A policy's expected fill rate is exact for its own demand model (replayed on demand drawn from
that model, the catalogue's policies land within about 3 points of plan), but real demand is less
stationary than any per-product model fitted to one year: on Online Retail three quarters of the
long tail's lost units come from products whose next quarter sold more than four times their
forecast. No stock level a planner would accept serves those surges, so the honest fix is in
the plan, not the stock: measure per segment how many times more shortage the policies had than
they planned,

    ratio = (1 - achieved) / (1 - planned),

pooled over earlier replay windows (the sums of the shortages over the sums of the planned
shortages, so one bad quarter does not swing it), and plan with

    calibrated fill rate = 1 - ratio x (1 - expected fill rate), clipped to [0, 1].

The backtest learns each origin's ratios only from windows that ended before it (no look-ahead);
this is the persistence forecast of a calibration error, as in Gneiting, Balabdaoui & Raftery
(2007), "Probabilistic forecasts, calibration and sharpness", JRSS B 69, 243-268, applied to the
fill rate's complement.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ml.columns import SEGMENT

__all__ = ["calibrated_fill_rate", "pooled_shortage_ratios"]

Array = NDArray[np.float64]


def pooled_shortage_ratios(history: list[pd.DataFrame], min_products: int = 1) -> dict[str, float]:
    """Per segment: summed achieved shortage over summed planned shortage across ``history``.

    Each frame has ``segment``, ``planned_fill_rate`` and ``fill_rate`` (one replay window's
    calibration table) and, to apply ``min_products``, ``products``: a window in which a segment
    held fewer products teaches it nothing (SCMS's first window had a handful of sparse-history
    products and no shortage: ratio 0, which planned the next quarter at 100% and got 0.5%).
    Segments without a planned shortage, or with no finite figures, are left out (their plan
    stays uncalibrated).
    """
    if not history:
        return {}
    frame = pd.concat(history, ignore_index=True)
    planned = 1.0 - frame["planned_fill_rate"].astype(float)
    achieved = 1.0 - frame["fill_rate"].astype(float)
    ok = np.isfinite(planned) & np.isfinite(achieved)
    if min_products > 1 and "products" in frame.columns:
        ok &= frame["products"].astype(float).to_numpy() >= min_products
    sums = (
        pd.DataFrame({SEGMENT: frame[SEGMENT], "planned": planned, "achieved": achieved})[ok]
        .groupby(SEGMENT, sort=True)
        .sum()
    )
    sums = sums[sums["planned"] > 0]
    return {str(k): float(r["achieved"] / r["planned"]) for k, r in sums.iterrows()}


def calibrated_fill_rate(expected_fill_rate: ArrayLike, ratio: ArrayLike) -> Array:
    """1 - ratio x (1 - expected fill rate), clipped to [0, 1]; NaN ratios leave it as it is."""
    e = np.asarray(expected_fill_rate, dtype=np.float64)
    r = np.asarray(ratio, dtype=np.float64)
    out = np.clip(1.0 - r * (1.0 - e), 0.0, 1.0)
    return np.where(np.isfinite(r), out, e)
