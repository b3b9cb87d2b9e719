"""Segment KPIs against their targets: fill rate, turns, inventory value, stockout duration (pure).

Targets come from the segment's policies (:func:`plan_targets`): the fill rate is the catalogue's
target for a fill-rate segment and the policies' expected fill rate (weighted by mean demand) for a
cycle-service segment; the inventory value is what the policies plan to hold, safety stock plus
half an order, at unit value; the turns are planned annual sales at unit value over that. The
stockout duration (periods out of stock per stockout spell, averaged over the segment's spells)
has no target but a tolerance: how long a stockout may last on average.

Measured values come per period (:func:`kpi_history`) over a trailing window ending at each of the
last few periods, so a breach can be seen to persist (:func:`judge_kpis`): a KPI beyond its
tolerance raises an alert; one beyond it at every one of the last ``persist`` period ends proposes
re-segmentation (the products may no longer behave like the segment's archetype).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ml import columns as C
from ml.columns import SEGMENT
from ml.config.policy import KpiTolerance

__all__ = [
    "CAUSE_FIT",
    "CAUSE_POLICY",
    "KPI_NAMES",
    "drifted_share",
    "judge_kpis",
    "kpi_history",
    "longest_run",
    "plan_targets",
]

KPI_NAMES = (C.FILL_RATE, C.TURNS, "inventory_value", C.STOCKOUT_DURATION)
END = "period_end_index"
CAUSE_FIT = "fit"  # the products no longer fit the segment: re-segment
CAUSE_POLICY = "policy"  # the policy misses its target with the products unchanged: fix the plan


def longest_run(flags: NDArray[np.bool_]) -> NDArray[np.int64]:
    """The longest run of consecutive True per row (a loop over columns, arrays over rows)."""
    run = np.zeros(flags.shape[0], dtype=np.int64)
    best = np.zeros(flags.shape[0], dtype=np.int64)
    for j in range(flags.shape[1]):
        run = np.where(flags[:, j], run + 1, 0)
        np.maximum(best, run, out=best)
    return best


def plan_targets(policies: pd.DataFrame) -> pd.DataFrame:
    """Per segment: the fill-rate target, the planned inventory value and the planned turns."""
    d = policies[C.DEMAND_MEAN].to_numpy(dtype=np.float64)
    value = policies[C.UNIT_VALUE].fillna(0.0).to_numpy(dtype=np.float64)
    held = (
        np.maximum(policies[C.SAFETY_STOCK].to_numpy(dtype=np.float64), 0.0)
        + 0.5 * policies[C.ORDER_QTY].to_numpy(dtype=np.float64)
    ) * value
    frame = pd.DataFrame(
        {
            SEGMENT: policies[SEGMENT].to_numpy(),
            "d": d,
            "fill_x_d": policies[C.EXPECTED_FILL_RATE].to_numpy(dtype=np.float64) * d,
            "held": held,
            "annual": d * policies[C.PERIODS_PER_YEAR].to_numpy(dtype=np.float64) * value,
            "is_fill": (policies[C.SERVICE_LEVEL_TYPE] == "fill_rate").to_numpy(),
            "target": policies[C.TARGET_SERVICE_LEVEL].to_numpy(dtype=np.float64),
        }
    )
    g = frame.groupby(SEGMENT)
    sums = g[["d", "fill_x_d", "held", "annual"]].sum()
    all_fill = g["is_fill"].all()
    expected = sums["fill_x_d"] / sums["d"].where(sums["d"] > 0)
    out = pd.DataFrame(
        {
            C.FILL_RATE: np.where(all_fill, g["target"].max(), expected),
            "fill_rate_basis": np.where(all_fill, "catalogue target", "policies' expected"),
            "inventory_value": sums["held"],
            C.TURNS: sums["annual"] / sums["held"].where(sums["held"] > 0),
            C.STOCKOUT_DURATION: 0.0,
        },
        index=sums.index,
    )
    return out


def kpi_history(
    segments: Sequence[str] | NDArray,
    demand: NDArray[np.float64],
    served: NDArray[np.float64],
    on_hand: NDArray[np.float64],
    stocked_out: NDArray[np.bool_],
    unit_value: NDArray[np.float64],
    *,
    window: int,
    periods_per_year: float,
    ends: Sequence[int],
) -> pd.DataFrame:
    """Per evaluation end (a period index) and segment, the KPIs over the ``window`` periods
    ending there: fill rate (served / demand), average inventory value (on hand at period end
    x unit value; periods without a count are skipped), turns (annualised demand served at unit
    value / average inventory value), stockout periods per product (mean), the stockout
    duration (stockout periods / stockout spells; 0 without a stockout) and the longest run of
    stockout periods (max over products). Arrays are products x periods."""
    seg = np.asarray(segments, dtype=object)
    names, code = np.unique(seg, return_inverse=True)
    rows = []
    for end in ends:
        cols = slice(max(0, end - window + 1), end + 1)
        width = cols.stop - cols.start
        d = demand[:, cols].sum(axis=1)
        s = served[:, cols].sum(axis=1)
        stock = on_hand[:, cols] * unit_value[:, None]
        counted = np.isfinite(stock)
        inv_sum = np.where(counted, stock, 0.0).sum(axis=1)
        out_flags = stocked_out[:, cols]
        run = longest_run(out_flags)
        spells = (out_flags & ~np.pad(out_flags, ((0, 0), (1, 0)))[:, :-1]).sum(axis=1)
        out_periods = out_flags.sum(axis=1)
        for g, name in enumerate(names):
            rows_g = code == g
            demand_g = float(d[rows_g].sum())
            periods_counted = counted[rows_g].any(axis=0).sum()
            avg_value = (
                float(inv_sum[rows_g].sum()) / periods_counted if periods_counted else np.nan
            )
            served_value = float((s[rows_g] * unit_value[rows_g]).sum())
            rows.append(
                {
                    END: end,
                    SEGMENT: name,
                    C.PRODUCTS: int(rows_g.sum()),
                    C.FILL_RATE: float(s[rows_g].sum()) / demand_g if demand_g > 0 else np.nan,
                    "inventory_value": avg_value,
                    C.TURNS: (
                        served_value * periods_per_year / width / avg_value
                        if avg_value and np.isfinite(avg_value) and avg_value > 0
                        else np.nan
                    ),
                    C.STOCKOUT_PERIODS: float(out_flags[rows_g].sum(axis=1).mean())
                    if rows_g.any()
                    else np.nan,
                    C.STOCKOUT_DURATION: (
                        float(out_periods[rows_g].sum() / spells[rows_g].sum())
                        if spells[rows_g].sum()
                        else 0.0
                    ),
                    C.LONGEST_STOCKOUT: float(run[rows_g].max(initial=0)),
                }
            )
    return pd.DataFrame(rows)


def _breach(kpi: str, value: float, target: float, tol: KpiTolerance) -> tuple[bool, float | None]:
    """(breached, tolerance) of one KPI value; NaN values and unset tolerances never breach."""
    rules: dict[str, tuple[float | None, Callable[[float, float, float], bool]]] = {
        C.FILL_RATE: (tol.fill_rate, lambda v, t, x: v < t - x),
        C.TURNS: (tol.turns, lambda v, t, x: v < t * (1.0 - x)),
        "inventory_value": (tol.inventory_value, lambda v, t, x: v > t * (1.0 + x)),
        C.STOCKOUT_DURATION: (tol.stockout_duration, lambda v, t, x: v > x),
    }
    limit, test = rules[kpi]
    if limit is None or not np.isfinite(value) or not np.isfinite(target):
        return False, limit
    return bool(test(value, target, float(limit))), limit


def drifted_share(
    segments: ArrayLike,
    planned_mean: ArrayLike,
    planned_sd: ArrayLike,
    planned_adi: ArrayLike,
    window_demand: ArrayLike,
    *,
    mean_change: float,
    adi_cutoff: float,
    z: float = 3.0,
) -> dict[str, float]:
    """Per segment, the share of its products whose demand in the window no longer matches what
    the policy planned with: mean demand changed by more than ``mean_change`` (as a ratio, either
    way) and by more than ``z`` standard errors (sd / sqrt(periods): noise in a short window of a
    sparse seller is not a change), or the average demand interval crossed ``adi_cutoff``
    (Syntetos, Boylan & Croston 2005: 1.32 separates smooth/erratic from intermittent/lumpy) by
    the same factor."""
    d = np.asarray(window_demand, dtype=np.float64)
    mean = d.mean(axis=1)
    selling = (d > 0).sum(axis=1)
    planned = np.asarray(planned_mean, dtype=np.float64)
    error = np.asarray(planned_sd, dtype=np.float64) / np.sqrt(d.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = np.where(selling > 0, d.shape[1] / selling, np.inf)
        ratio = mean / planned
    significant = np.abs(mean - planned) > z * np.nan_to_num(error, nan=0.0)
    moved = ((ratio > 1.0 + mean_change) | (ratio < 1.0 / (1.0 + mean_change))) & significant
    p_adi = np.asarray(planned_adi, dtype=np.float64)
    wide = 1.0 + mean_change
    crossed = np.isfinite(p_adi) & (
        ((p_adi <= adi_cutoff) & (adi > adi_cutoff * wide))
        | ((p_adi > adi_cutoff) & (adi < adi_cutoff / wide))
    )
    frame = pd.DataFrame({SEGMENT: np.asarray(segments), "drifted": moved | crossed})
    return {str(k): float(v) for k, v in frame.groupby(SEGMENT)["drifted"].mean().items()}


def _proposal(
    name: str, kpi: str, streak: int, drifted: Mapping[str, float] | None, fit_share: float
) -> tuple[str, str]:
    """(cause, proposal) of a persistent breach: products that moved, or the policy itself."""
    share = None if drifted is None else drifted.get(name)
    if share is None or share >= fit_share:
        moved = "" if share is None else f" ({share:.0%} of its products' demand has moved)"
        return CAUSE_FIT, (
            f"re-segment: {kpi} has breached its tolerance for {streak} periods in a row; "
            f"the products of '{name}' may no longer match its archetype{moved} — re-score "
            f"(`strata score`) and review the segment's policy"
        )
    return CAUSE_POLICY, (
        f"review the policy: {kpi} has missed its target for {streak} periods in a row while "
        f"only {share:.0%} of the products of '{name}' changed their demand; the plan, not the "
        "segment, misses (`strata simulate` shows planned against achieved)"
    )


def judge_kpis(
    history: pd.DataFrame,
    targets: pd.DataFrame,
    tolerance: Callable[[str], KpiTolerance],
    persist: int,
    drifted: Mapping[str, float] | None = None,
    fit_share: float = 0.3,
) -> pd.DataFrame:
    """Per segment and KPI at the newest end: value, target, tolerance, breached, how many
    consecutive period ends (newest backwards) breached, and, for a persistent breach, its cause
    and proposal: re-segmentation only where at least ``fit_share`` of the segment's products
    drifted (:func:`drifted_share`; unknown drift counts as drifted), else a policy review."""
    newest = history[END].max()
    rows = []
    for name, part in history.groupby(SEGMENT, sort=True):
        part = part.sort_values(END)
        tol = tolerance(str(name))
        for kpi in KPI_NAMES:
            target = float(targets.loc[name, kpi]) if name in targets.index else np.nan
            flags = [_breach(kpi, float(v), target, tol)[0] for v in part[kpi]]
            streak = 0
            for flag in reversed(flags):
                if not flag:
                    break
                streak += 1
            latest = part[part[END] == newest]
            value = float(latest[kpi].iloc[0]) if len(latest) else np.nan
            breached, limit = _breach(kpi, value, target, tol)
            cause, proposal = "", ""
            if breached and streak >= persist:
                cause, proposal = _proposal(str(name), kpi, streak, drifted, fit_share)
            rows.append(
                {
                    SEGMENT: name,
                    C.KPI: kpi,
                    C.VALUE: value,
                    C.TARGET: target,
                    C.TOLERANCE: np.nan if limit is None else float(limit),
                    C.BREACHED: breached,
                    "periods_breached": streak if breached else 0,
                    C.PROPOSAL: proposal,
                    C.CAUSE: cause,
                }
            )
    return pd.DataFrame(rows)
