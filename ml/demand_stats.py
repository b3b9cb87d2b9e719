"""Demand statistics as pure formulas over a product x period matrix (one row per product).

Conventions shared by every function here:

- ``x`` is a 2-D array, one row per product (or product x location), one column per period,
  oldest first; the last column is the latest complete period. Cells are units sold (>= 0).
- ``start`` is, per row, the first *observed* column: observation starts at the later of the
  matrix's first column and the product's first-ever sale, so every cell before ``start`` is 0.
  ``observed = n_columns - start`` periods are observed (trailing zeros after the last sale
  count: a product that stopped selling is observed as not selling).
- Sample statistics use ddof = 1 (the `sd()` of R that tsintermittent's ``idclass`` uses);
  a statistic needing more observations than a row has is NaN, never a silent 0.
- Float32 input is accepted for speed; sums are accumulated in float64 where cancellation
  would matter and results are float64.

Sources: Syntetos, Boylan & Croston (2005), "On the categorization of demand patterns", Journal
of the Operational Research Society 56(5), 495-503 (ADI and CV² of demand sizes, cut-offs 1.32
and 0.49); Syntetos & Boylan (2005), "The accuracy of intermittent demand estimates", IJF 21(2),
303-314; Hampel (1974), "The influence curve and its role in robust estimation", JASA 69(346)
and Leys et al. (2013), "Detecting outliers: Do not use standard deviation around the mean, use
absolute deviation around the median", JESP 49(4) (median/MAD spike screening); Iglewicz &
Hoaglin (1993), "How to Detect and Handle Outliers", ASQC (mean absolute deviation when MAD=0);
Box, Jenkins, Reinsel & Ljung (2015), "Time Series Analysis", 5th ed., §2.1 (autocorrelation);
Hyndman & Athanasopoulos (2021), "Forecasting: Principles and Practice", 3rd ed., §2.8 and §7.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MEAN_AD_TO_MAD",
    "adi",
    "cleansed",
    "cv",
    "cv2",
    "first_positive_column",
    "growth",
    "last_positive_column",
    "median_absolute_deviation",
    "ols_trend",
    "peak_to_mean",
    "positive_row_median",
    "row_mean",
    "row_sums",
    "seasonal_correlation",
    "spike_threshold",
    "std_from_sums",
    "trailing_mask",
    "zero_share",
]

F64 = NDArray[np.float64]

# Under normality MAD = 0.6745 sigma and mean absolute deviation = 0.7979 sigma, so a MAD of 0
# is replaced by 0.8453 x mean absolute deviation (Iglewicz & Hoaglin 1993 use 1.253314 x MeanAD
# in place of 1.4826 x MAD; 1.253314 / 1.4826 = 0.8453).
MEAN_AD_TO_MAD = 1.253314 / 1.4826


def _f64(a: ArrayLike) -> F64:
    return np.asarray(a, dtype=np.float64)


def _ratio(num: ArrayLike, den: ArrayLike) -> F64:
    """num / den, NaN where den <= 0 (no warnings)."""
    num, den = _f64(num), _f64(den)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def trailing_mask(start: ArrayLike, n_columns: int) -> NDArray[np.bool_]:
    """Per row, True for the observed columns ``start .. n_columns-1``."""
    return np.arange(n_columns)[None, :] >= np.asarray(start)[:, None]


def first_positive_column(positive: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Index of each row's first True column; -1 when the row has none."""
    first = positive.argmax(axis=1)
    return np.where(positive[np.arange(len(first)), first], first, -1).astype(np.int64)


def last_positive_column(positive: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Index of each row's last True column; -1 when the row has none."""
    n = positive.shape[1]
    back = positive[:, ::-1].argmax(axis=1)
    hit = positive[np.arange(len(back)), n - 1 - back]
    return np.where(hit, n - 1 - back, -1).astype(np.int64)


def adi(periods_observed: ArrayLike, nonzero_periods: ArrayLike) -> F64:
    """Average demand interval: observed periods per period with demand; NaN without demand.

    ADI = periods_observed / nonzero_periods (Syntetos, Boylan & Croston 2005, p. 497: the
    average number of periods between two successive demands). Observation starts at the later
    of the window start and the first-ever sale, so the first interval of a product launched
    inside the window counts from its first sale (that sale ends an interval of length 1), and
    a product older than the window has its first interval counted from the window start.
    Always >= 1. Example: 0 0 5 0 3 0 0 2 with the first sale in column 2 -> 6 observed
    periods, 3 with demand, ADI = 2.0.
    """
    return _ratio(periods_observed, nonzero_periods)


def zero_share(periods_observed: ArrayLike, nonzero_periods: ArrayLike) -> F64:
    """Share of observed periods without demand, in [0, 1]; NaN when nothing is observed."""
    observed = _f64(periods_observed)
    return _ratio(observed - _f64(nonzero_periods), observed)


def row_mean(total: ArrayLike, count: ArrayLike) -> F64:
    """Mean per counted cell: total / count, NaN when count is 0."""
    return _ratio(total, count)


def row_sums(x: NDArray[np.floating]) -> tuple[F64, F64]:
    """(sum, sum of squares) of each row, accumulated in float64.

    Squares of float32 values are exact in float64, so the one-pass variance below loses
    precision only for a coefficient of variation under ~1e-6.
    """
    x = np.asarray(x, dtype=np.float64)
    return np.einsum("ij->i", x), np.einsum("ij,ij->i", x, x)


def std_from_sums(total: ArrayLike, total_sq: ArrayLike, count: ArrayLike, ddof: int = 1) -> F64:
    """Standard deviation of `count` values from their sum and sum of squares, with `ddof`.

    var = (sum x² - (sum x)² / n) / (n - ddof); NaN when n <= ddof. Cells outside the counted
    ones must be 0 (unobserved periods before the first sale, or zero periods when counting
    non-zero sizes), so one pair of row sums serves both the per-period std (n = observed
    periods) and the std of non-zero sizes (n = non-zero periods).
    """
    n = _f64(count)
    mean_sq = _ratio(_f64(total) ** 2, n)
    var = _ratio(np.maximum(_f64(total_sq) - np.nan_to_num(mean_sq), 0.0), n - ddof)
    return np.where(n > 0, np.sqrt(var), np.nan)


def cv(mean: ArrayLike, std: ArrayLike) -> F64:
    """Coefficient of variation std / mean; NaN when the mean is not positive."""
    return _ratio(std, mean)


def cv2(size_mean: ArrayLike, size_std: ArrayLike) -> F64:
    """Squared coefficient of variation of non-zero demand sizes (Syntetos et al. 2005).

    CV² = (sd of the non-zero sizes / their mean)², sd with ddof = 1 (as R's ``sd`` in
    tsintermittent::idclass), so NaN with fewer than two non-zero periods. Sizes 2, 4 ->
    mean 3, sd 1.414, CV² = 2 / 9 = 0.222.
    """
    return _ratio(size_std, size_mean) ** 2


def positive_row_median(
    x: NDArray[np.floating], positive: NDArray[np.bool_], count: ArrayLike
) -> F64:
    """Median of each row's positive cells (NaN when none), by one sort along the rows.

    Zero cells become +inf so they sort last; the median sits at positions (n-1)//2 and n//2
    of the n positive values.
    """
    s = np.where(positive, x, np.inf).astype(x.dtype, copy=False)
    s.sort(axis=1)
    return _middle(s, np.asarray(count))


def _middle(sorted_rows: NDArray[np.floating], n: NDArray[np.integer]) -> F64:
    n = n.astype(np.int64)
    lo = np.maximum((n - 1) // 2, 0)[:, None]
    hi = np.maximum(n // 2, 0)[:, None]
    m = (
        np.take_along_axis(sorted_rows, lo, 1)[:, 0].astype(np.float64)
        + np.take_along_axis(sorted_rows, hi, 1)[:, 0].astype(np.float64)
    ) / 2
    return np.where(n > 0, m, np.nan)


def median_absolute_deviation(
    x: NDArray[np.floating], median: ArrayLike, positive: NDArray[np.bool_], count: ArrayLike
) -> F64:
    """MAD of each row's positive cells: median of |x - median| (unscaled; Hampel 1974)."""
    d = np.subtract(x, np.asarray(median, dtype=x.dtype)[:, None])
    np.abs(d, out=d)
    np.copyto(d, np.inf, where=~positive)
    d.sort(axis=1)
    return _middle(d, np.asarray(count))


def spike_threshold(median: ArrayLike, mad: ArrayLike, mean_ad: ArrayLike, k: float) -> F64:
    """Upper fence median + k * MAD; a zero MAD is replaced by 0.8453 x mean absolute deviation.

    Hampel's identifier (Hampel 1974; Leys et al. 2013 for the choice of k). With k = 5 and an
    unscaled MAD the fence sits about 3.4 standard deviations above the median under
    normality. Many equal sizes give MAD = 0, which would flag any larger value; the mean
    absolute deviation about the median then takes its place (Iglewicz & Hoaglin 1993). Rows
    whose sizes are all equal get fence = median: nothing above it exists.
    """
    mad = _f64(mad)
    spread = np.where(mad > 0, mad, MEAN_AD_TO_MAD * _f64(mean_ad))
    return _f64(median) + k * spread


def cleansed(
    x: NDArray[np.floating], flagged: NDArray[np.bool_], replacement: ArrayLike
) -> NDArray[np.floating]:
    """A new matrix where flagged cells are capped at the row's replacement value (median).

    A spike is replaced by the median of the product's non-zero periods (the Hampel filter's
    replacement); a promotional period selling less than the median is left as it is.
    """
    out = x.copy()
    cap = np.asarray(replacement, dtype=x.dtype)[:, None]
    np.minimum(out, cap, out=out, where=flagged)
    return out


def seasonal_correlation(
    x: NDArray[np.floating], lag: int, start: ArrayLike, min_pairs: int
) -> F64:
    """Correlation between each period and the same period one season (`lag`) later, >= 0.

    The Pearson correlation of the pairs (x[t], x[t+lag]) for the observed t (t >= start), i.e.
    the lagged autocorrelation at the seasonal lag (Box et al. 2015 §2.1; Hyndman &
    Athanasopoulos 2021 §2.8) computed as a correlation between the two aligned stretches, so
    that a perfectly repeating pattern scores 1 (the textbook ACF estimator divides by all n
    periods and would cap it near (n - lag) / n). Negative values are clipped to 0 (a pattern
    that does not repeat is not seasonal); a row with zero variance in either stretch scores 0.
    NaN when fewer than `min_pairs` pairs are observed. Sums in float64 (exact squares).
    """
    n_cols = x.shape[1]
    if lag >= n_cols:
        return np.full(x.shape[0], np.nan)
    x = np.asarray(x, dtype=np.float64)
    start = np.asarray(start, dtype=np.int64)
    pairs = np.maximum(n_cols - lag - start, 0).astype(np.float64)
    a, b = x[:, : n_cols - lag], x[:, lag:]
    sa, saa = row_sums(a)
    sb, sbb = row_sums(b)
    sab = np.einsum("ij,ij->i", a, b)  # a is 0 before start: unobserved pairs add nothing
    partial = np.flatnonzero(start > 0)
    if len(partial):
        # the later stretch's cells paired with an unobserved t drop out
        sb[partial], sbb[partial] = row_sums(
            b[partial] * trailing_mask(start[partial], n_cols - lag)
        )
    var_a = pairs * saa - sa * sa
    var_b = pairs * sbb - sb * sb
    tiny = 1e-12 * np.maximum(pairs * saa, pairs * sbb)
    den = np.sqrt(np.where((var_a > tiny) & (var_b > tiny), var_a * var_b, 0.0))
    r = np.zeros(x.shape[0])
    np.divide(pairs * sab - sa * sb, den, out=r, where=den > 0)
    r = np.clip(r, 0.0, 1.0)
    return np.where(pairs >= min_pairs, r, np.nan)


def ols_trend(
    x: NDArray[np.floating], start: ArrayLike, min_periods: int = 3, total: ArrayLike | None = None
) -> F64:
    """Least-squares slope of x on the period index over the observed periods, / the mean.

    slope = sum((t - t̄)(x - x̄)) / sum((t - t̄)²) over t = start .. n-1 (Hyndman &
    Athanasopoulos 2021 §7.1), divided by the mean x̄ of those periods: the change per period
    as a share of the average (0.01 = +1 % of the mean per period). NaN with fewer than
    `min_periods` observed periods or a zero mean. Series 1, 2, 3 -> slope 1, mean 2, 0.5.
    `total` passes the row sums when already known.
    """
    n_cols = x.shape[1]
    x = np.asarray(x, dtype=np.float64)
    start = np.asarray(start, dtype=np.int64)
    # centred time keeps n*Stx - St*Sx free of cancellation
    t = np.arange(n_cols, dtype=np.float64) - (n_cols - 1) / 2
    suffix_t = np.concatenate([np.cumsum(t[::-1])[::-1], [0.0]])
    suffix_tt = np.concatenate([np.cumsum((t * t)[::-1])[::-1], [0.0]])
    s = np.clip(start, 0, n_cols)
    n = (n_cols - s).astype(np.float64)
    st, stt = suffix_t[s], suffix_tt[s]
    sx = np.einsum("ij->i", x) if total is None else _f64(total)
    stx = np.einsum("ij,j->i", x, t)
    slope = _ratio(n * stx - st * sx, n * stt - st * st)
    trend = slope * _ratio(n, sx)
    return np.where(n >= min_periods, trend, np.nan)


def growth(x: NDArray[np.floating], recent: int, start: ArrayLike) -> F64:
    """Sum of the last `recent` periods over the sum of the `recent` before, minus 1.

    NaN when the two blocks are not both observed (fewer than 2 x recent observed periods) or
    the earlier block sold nothing. 10 units then 15 units -> 0.5.
    """
    n_cols = x.shape[1]
    if 2 * recent > n_cols:
        return np.full(x.shape[0], np.nan)
    last = np.einsum("ij->i", np.asarray(x[:, n_cols - recent :], dtype=np.float64))
    prior = np.einsum(
        "ij->i", np.asarray(x[:, n_cols - 2 * recent : n_cols - recent], dtype=np.float64)
    )
    g = _ratio(last, prior) - 1
    return np.where(np.asarray(start) <= n_cols - 2 * recent, g, np.nan)


def peak_to_mean(x: NDArray[np.floating], mean: ArrayLike) -> F64:
    """Largest period divided by the mean per observed period; NaN when the mean is 0."""
    return _ratio(x.max(axis=1).astype(np.float64), mean)
