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

A segment of few products measures its own ratio badly (SCMS's learning window: ten
sparse-history products, none short, ratio 0, which planned the next quarter at 100% and got
0.5%). Its ratio is therefore a credibility blend (Buhlmann & Gisler 2005, "A Course in
Credibility Theory", ch. 4) of its own and the window's, all segments pooled:

    ratio = Z x own + (1 - Z) x window's,    Z = n / (n + k),

with n the segment's products over the windows and k the products at which both weigh the same
(``credibility``; 0 keeps each segment's own ratio). A segment too small in every window to
teach itself (``min_products``) plans with the window's pooled ratio.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ml.columns import SEGMENT
from ml.config.policy import BacktestConfig

__all__ = ["calibrated_fill_rate", "configured_shortage_ratios", "pooled_shortage_ratios"]

Array = NDArray[np.float64]


def pooled_shortage_ratios(
    history: list[pd.DataFrame], min_products: int = 1, credibility: float = 0.0
) -> dict[str, float]:
    """Per segment: summed achieved shortage over summed planned shortage across ``history``.

    Each frame has ``segment``, ``planned_fill_rate`` and ``fill_rate`` (one replay window's
    calibration table) and, to apply ``min_products`` or ``credibility``, ``products``. A window
    in which a segment held fewer than ``min_products`` teaches it no ratio of its own. With
    ``credibility`` k > 0 every segment seen with finite figures gets
    Z x own + (1 - Z) x pooled, Z = n / (n + k), n its products summed over the windows that
    taught it (0 if none), pooled the windows' shortages over all segments weighted by their
    products; with k = 0 a segment without its own ratio is left out. Left out too: segments
    without a planned shortage (their plan stays uncalibrated).
    """
    if not history:
        return {}
    frame = pd.concat(history, ignore_index=True)
    has_products = "products" in frame.columns
    rows = pd.DataFrame(
        {
            SEGMENT: frame[SEGMENT].to_numpy(),
            "planned": 1.0 - frame["planned_fill_rate"].astype(float).to_numpy(),
            "achieved": 1.0 - frame["fill_rate"].astype(float).to_numpy(),
            "products": frame["products"].astype(float).to_numpy() if has_products else 1.0,
        }
    )
    rows = rows[np.isfinite(rows["planned"]) & np.isfinite(rows["achieved"])]
    teaches = rows["products"] >= min_products if has_products else np.ones(len(rows), bool)
    sums = rows[teaches].groupby(SEGMENT, sort=True)[["planned", "achieved", "products"]].sum()
    sums = sums[sums["planned"] > 0]
    own = sums["achieved"] / sums["planned"]
    weighted = rows[["planned", "achieved"]].mul(rows["products"], axis=0).sum()
    if credibility > 0 and weighted["planned"] > 0:
        pooled = float(weighted["achieved"] / weighted["planned"])
        segments = pd.Index(sorted(set(rows[SEGMENT])))
        n = sums["products"].reindex(segments, fill_value=0.0)
        z = n / (n + credibility)
        own = z * own.reindex(segments, fill_value=0.0) + (1.0 - z) * pooled
    return {str(k): float(v) for k, v in own.items()}


def configured_shortage_ratios(
    history: list[pd.DataFrame], backtest: BacktestConfig
) -> dict[str, float]:
    """:func:`pooled_shortage_ratios` with the backtest config's minimum and credibility."""
    return pooled_shortage_ratios(
        history, backtest.calibration_min_products, backtest.calibration_credibility
    )


def calibrated_fill_rate(expected_fill_rate: ArrayLike, ratio: ArrayLike) -> Array:
    """1 - ratio x (1 - expected fill rate), clipped to [0, 1]; NaN ratios leave it as it is."""
    e = np.asarray(expected_fill_rate, dtype=np.float64)
    r = np.asarray(ratio, dtype=np.float64)
    out = np.clip(1.0 - r * (1.0 - e), 0.0, 1.0)
    return np.where(np.isfinite(r), out, e)
