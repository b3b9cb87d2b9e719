"""Demand attributes of every key from its dense sale history (vectorised over all keys).

Definitions (formulas and sources in `ml/demand_stats.py`):

- Window: the last `calendar.window_periods` complete periods (see `features/period_grid.py`).
  Observation starts at the later of the window start and the first-ever sale (all history up
  to as_of), so `periods_observed = window - max(0, first sale - window start)`; 0 if the key
  never sold. `adi = periods_observed / nonzero_periods`.
- Cleansing (config.cleansing): a period is a *spike* when it sells more than median + k * MAD
  of the key's non-zero periods in the window (MAD = 0 -> 0.8453 x mean absolute deviation;
  fewer than `min_nonzero_periods` non-zero periods -> not screened), and *promotional* when at
  least `promo_period_share` of its units sold on promotion (`use_promo_flag`). Flagged periods
  are capped at that median, over the whole held history (so seasonality is cleansed too).
  `_raw` attributes and `total_qty`, `promo_share`, `outlier_share` use the recorded units.
- `mean_qty = cleansed units / periods_observed`; `std_qty` ddof = 1 over the observed periods
  (zeros included), missing below `config.min_observed_periods`; `cv = std_qty / mean_qty`;
  `cv2` = squared CV of the non-zero sizes, ddof = 1 (missing with < 2 non-zero periods).
- `seasonality_strength`: correlation of each period with the one a season later (52 weeks /
  12 months) over the seasonal history (`config.seasonal_history_periods`, default two
  seasons), clipped at 0, missing with fewer than `config.seasonality_min_pairs` observed pairs
  (default half a season).
- `trend`: OLS slope over the observed window periods / mean (per period); `growth`: last
  `calendar.recent_periods` vs the same number before, minus 1; `peak_to_mean`: best cleansed
  period / mean_qty; `age_periods` / `staleness_periods`: latest period minus the period of the
  first / last sale; `promo_share`: units sold on promotion / units; `outlier_share`: units
  in spike periods that were not promotional / units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from features.demand_accumulator import DemandHistory
from features.dense_ops import for_row_blocks
from features.period_grid import SEASON, PeriodGrid
from ml import demand_stats as ds
from ml.attributes import attribute_names
from ml.config import Calendar, Cleansing, FeaturesConfig

__all__ = ["SpikeScreen", "demand_attributes", "spike_screen"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class SpikeScreen:
    """Per key: median of the non-zero window periods and the spike fence above it."""

    median: F64
    fence: F64


def spike_screen(
    window: NDArray[np.floating],
    positive: NDArray[np.bool_],
    nonzero: NDArray[np.integer],
    cleansing: Cleansing,
) -> SpikeScreen:
    """Median and Hampel fence (median + k * MAD) of each key's non-zero window periods."""
    median = ds.positive_row_median(window, positive, nonzero)
    if cleansing.method == "none":
        return SpikeScreen(median, np.full(len(median), np.inf))
    # On the log scale the fence is multiplicative (median x e^(k*MAD)): order sizes of
    # wholesale demand are right-skewed, and a linear fence flags ordinary case-pack orders.
    log_scale = cleansing.scale == "log"
    x = np.log(np.where(positive, window, 1.0)) if log_scale else window
    centre = ds.positive_row_median(x, positive, nonzero) if log_scale else median
    mad = ds.median_absolute_deviation(x, centre, positive, nonzero)
    screened = nonzero >= cleansing.min_nonzero_periods
    mean_ad = np.zeros(len(mad))
    rows = np.flatnonzero(screened & (mad == 0))
    if len(rows):
        sub = x[rows].astype(np.float64)
        dev = np.abs(sub - centre[rows, None]) * positive[rows]
        mean_ad[rows] = dev.sum(axis=1) / nonzero[rows]
    fence = ds.spike_threshold(centre, mad, mean_ad, cleansing.k_mad)
    if log_scale:
        fence = np.exp(fence)
    return SpikeScreen(median, np.where(screened, fence, np.inf))


def demand_attributes(
    history: DemandHistory, calendar: Calendar, config: FeaturesConfig, workers: int = 1
) -> dict[str, F64]:
    """The 20 demand attributes of every key, as float64 arrays in key-code order.

    Keys are independent, so the work runs in row blocks on `workers` threads.
    """
    out = {name: np.empty(history.n) for name in attribute_names("demand")}

    def block(rows: slice) -> None:
        for name, values in _block_attributes(history, rows, calendar, config).items():
            out[name][rows] = values

    for_row_blocks(history.n, block, workers, block_rows=8192)
    return out


def _block_attributes(
    history: DemandHistory, rows: slice, calendar: Calendar, config: FeaturesConfig
) -> dict[str, F64]:
    """The demand attributes of the keys in `rows`."""
    grid = history.grid
    span, width = grid.n_periods, grid.window_periods
    w0 = span - width
    x = history.qty[rows]
    promo_qty = None if history.promo_qty is None else history.promo_qty[rows]
    has, first = history.has_sale[rows], history.first_sale[rows]
    last = history.last_sale[rows]
    start_span = np.where(has, np.clip(first, 0, span), span)
    start = np.where(has, np.clip(first - w0, 0, width), width)
    observed = (width - start).astype(np.float64)
    raw_window = x[:, w0:]
    positive = raw_window > 0
    nonzero = positive.sum(axis=1)

    raw = _shape(x, start_span, nonzero, grid, calendar, config)
    clean, outlier_units = _cleansed_shape(
        x, promo_qty, raw, start_span, nonzero, positive, grid, calendar, config
    )

    latest = span - 1
    promo_units = (
        np.zeros(len(x)) if promo_qty is None else promo_qty[:, w0:].sum(axis=1, dtype=np.float64)
    )
    total_raw = raw["total"]
    return {
        "periods_observed": observed,
        "nonzero_periods": nonzero.astype(np.float64),
        "total_qty": total_raw,
        "mean_qty": clean["mean"],
        "std_qty": clean["std"],
        "std_qty_raw": raw["std"],
        "cv": ds.cv(clean["mean"], clean["std"]),
        "cv_raw": ds.cv(raw["mean"], raw["std"]),
        "adi": ds.adi(observed, nonzero),
        "cv2": ds.cv2(clean["size_mean"], clean["size_std"]),
        "cv2_raw": ds.cv2(raw["size_mean"], raw["size_std"]),
        "zero_share": ds.zero_share(observed, nonzero),
        "seasonality_strength": clean["seasonality"],
        "trend": clean["trend"],
        "growth": clean["growth"],
        "peak_to_mean": clean["peak"],
        "age_periods": np.where(has, latest - first, np.nan).astype(np.float64),
        "staleness_periods": np.where(has, latest - last, np.nan).astype(np.float64),
        "promo_share": ds.row_mean(promo_units, total_raw),
        "outlier_share": ds.row_mean(outlier_units, total_raw),
    }


def _cleansed_shape(
    x: NDArray[np.float32],
    promo_qty: NDArray[np.float32] | None,
    raw: dict[str, F64],
    start_span: NDArray[np.int64],
    nonzero: NDArray[np.int64],
    positive: NDArray[np.bool_],
    grid: PeriodGrid,
    calendar: Calendar,
    config: FeaturesConfig,
) -> tuple[dict[str, F64], F64]:
    """The shape statistics after spikes and promotions are cleansed, and the outlier units."""
    w0 = grid.n_periods - grid.window_periods
    raw_window = x[:, w0:]
    screen = spike_screen(raw_window, positive, nonzero, config.cleansing)
    spikes = x > screen.fence.astype(np.float32)[:, None]
    promo = _promotional(x, promo_qty, config.cleansing)
    flagged = spikes if promo is None else spikes | promo
    outliers = spikes[:, w0:] if promo is None else spikes[:, w0:] & ~promo[:, w0:]
    outlier_units = _masked_total(raw_window, outliers)
    del spikes, outliers
    # a key without flagged periods has cleansed = raw history: recompute only the others
    hit = np.flatnonzero(flagged.any(axis=1))
    clean = {k: v.copy() for k, v in raw.items()}
    if len(hit):
        cap = np.where(np.isnan(screen.median[hit]), np.inf, screen.median[hit])
        cleansed_rows = ds.cleansed(x[hit], flagged[hit], cap)
        part = _shape(cleansed_rows, start_span[hit], nonzero[hit], grid, calendar, config)
        for k, v in part.items():
            clean[k][hit] = v
    return clean, outlier_units


def _shape(
    x: NDArray[np.floating],
    start_span: NDArray[np.int64],
    nonzero: NDArray[np.integer],
    grid: PeriodGrid,
    calendar: Calendar,
    config: FeaturesConfig,
) -> dict[str, F64]:
    """Level, spread, size spread, seasonality, trend, growth and peak of each row of `x`.

    `x` holds the whole span (grid.n_periods columns); window statistics use its last
    grid.window_periods columns. Applied to the raw history and to the cleansed rows. Cells
    before a row's first sale are 0, so one sum and sum of squares give both the spread per
    observed period and the spread of the non-zero sizes.
    """
    span, width = grid.n_periods, grid.window_periods
    w0 = span - width
    lag = SEASON[calendar.bucket]
    seasonal = min(span, config.seasonal_history_periods or 2 * lag)
    s0 = min(w0, span - seasonal, span - 2 * calendar.recent_periods)
    x64 = np.asarray(x[:, s0:], dtype=np.float64)  # one conversion, shared below
    window = x64[:, w0 - s0 :]
    start = np.clip(start_span - w0, 0, width)
    observed = width - start
    enough = observed >= config.min_observed_periods
    total, total_sq = ds.row_sums(window)
    mean = ds.row_mean(total, observed)
    first_seasonal = span - seasonal - s0
    return {
        "total": total,
        "mean": mean,
        "std": np.where(enough, ds.std_from_sums(total, total_sq, observed), np.nan),
        "size_mean": ds.row_mean(total, nonzero),
        "size_std": ds.std_from_sums(total, total_sq, nonzero),
        "seasonality": ds.seasonal_correlation(
            x64[:, first_seasonal:],
            lag,
            np.clip(start_span - (span - seasonal), 0, seasonal),
            config.seasonality_min_pairs or lag // 2,
        ),
        "trend": np.where(enough, ds.ols_trend(window, start, 2, total), np.nan),
        "growth": ds.growth(x64, calendar.recent_periods, start_span - s0),
        "peak": ds.peak_to_mean(x[:, w0:], mean),
    }


def _promotional(
    x: NDArray[np.floating], promo_qty: NDArray[np.floating] | None, cleansing: Cleansing
) -> NDArray[np.bool_] | None:
    """Periods where at least `promo_period_share` of the units sold on promotion."""
    if not cleansing.use_promo_flag or promo_qty is None:
        return None
    return (promo_qty >= np.float32(cleansing.promo_period_share) * x) & (x > 0)


def _masked_total(x: NDArray[np.floating], mask: NDArray[np.bool_]) -> F64:
    """Per row, the sum of the cells where mask holds."""
    return np.einsum("ij,ij->i", x, mask.astype(x.dtype)).astype(np.float64)
