"""Demand formulas on tiny hand-computed series, and their invariants (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml import demand_stats as ds


def m(*rows: list[float]) -> np.ndarray:
    """A float32 product x period matrix, like the derivation's."""
    return np.array(rows, dtype=np.float32)


def test_adi_counts_from_the_first_sale_to_the_latest_period():
    # 0 0 5 0 3 0 0 2, first sale in column 2: 6 observed periods, 3 with demand -> 6/3 = 2
    x = m([0, 0, 5, 0, 3, 0, 0, 2])
    positive = x > 0
    observed = x.shape[1] - ds.first_positive_column(positive)
    assert observed.tolist() == [6]
    assert ds.adi(observed, positive.sum(axis=1)).tolist() == [2.0]


def test_adi_of_a_product_older_than_the_window_counts_from_the_window_start():
    # observation starts at column 0 (first sale before the window): 6 periods / 2 sales = 3
    assert ds.adi([6], [2]).tolist() == [3.0]


def test_adi_and_zero_share_without_sales_are_missing():
    assert np.isnan(ds.adi([6], [0])).all()
    assert ds.zero_share([6, 4], [6, 1]).tolist() == [0.0, 0.75]


def sizes_cv2(x: np.ndarray) -> np.ndarray:
    total, total_sq = ds.row_sums(x)
    nonzero = (x > 0).sum(axis=1)
    return ds.cv2(ds.row_mean(total, nonzero), ds.std_from_sums(total, total_sq, nonzero))


def test_cv2_of_sizes_2_and_4_is_two_ninths():
    # sizes 2, 4: mean 3, sample sd sqrt(2), CV^2 = 2 / 9
    assert sizes_cv2(m([0, 2, 0, 4])) == pytest.approx([2 / 9], rel=1e-12)


def test_cv2_of_sizes_5_3_2():
    # mean 10/3; deviations 5/3, -1/3, -4/3 -> ss 42/9, sd^2 = 7/3; CV^2 = (7/3) / (100/9) = 0.21
    assert sizes_cv2(m([5, 0, 3, 0, 0, 2])) == pytest.approx([0.21], rel=1e-12)


def test_cv2_needs_two_sizes():
    assert np.isnan(sizes_cv2(m([0, 7, 0]))).all()


def test_cv_of_2_4_6_8():
    # mean 5, deviations -3 -1 1 3 -> ss 20, sample sd sqrt(20/3) = 2.5820, CV = 0.5164
    total, total_sq = ds.row_sums(m([2, 4, 6, 8]))
    sd = ds.std_from_sums(total, total_sq, [4])
    assert sd == pytest.approx([np.sqrt(20 / 3)], rel=1e-12)
    assert ds.cv([5.0], sd) == pytest.approx([0.516398], rel=1e-5)


def test_std_uses_only_the_observed_periods():
    # observation starts at column 2: values 2, 4 -> mean 3, sd sqrt(2)
    total, total_sq = ds.row_sums(m([0, 0, 2, 4]))
    assert ds.std_from_sums(total, total_sq, [2]) == pytest.approx([np.sqrt(2)], rel=1e-12)


def test_one_pass_std_keeps_precision_for_a_tiny_cv():
    # 1e6 + (0, 1, 2, 3): sd 1.29099 despite squares of 1e12
    total, total_sq = ds.row_sums(m([1e6, 1e6 + 1, 1e6 + 2, 1e6 + 3]))
    assert ds.std_from_sums(total, total_sq, [4]) == pytest.approx([np.sqrt(5 / 3)], rel=1e-9)


def test_std_of_one_period_is_missing():
    assert np.isnan(ds.std_from_sums([4.0], [16.0], [1])).all()
    assert np.isnan(ds.std_from_sums([0.0], [0.0], [0])).all()


def test_trend_of_1_2_3_is_half_the_mean_per_period():
    # slope 1 per period, mean 2 -> 0.5
    assert ds.ols_trend(m([1, 2, 3]), [0]) == pytest.approx([0.5])


def test_trend_starts_at_the_first_observed_period():
    # t = 2, 3, 4 with 2, 4, 6: slope 2, mean 4 -> 0.5; a flat series has no trend
    assert ds.ols_trend(m([0, 0, 2, 4, 6], [3, 3, 3, 3, 3]), [2, 0]) == pytest.approx([0.5, 0.0])


def test_trend_needs_min_periods():
    assert np.isnan(ds.ols_trend(m([0, 0, 0, 2, 4]), [3], min_periods=3)).all()


def test_growth_compares_the_last_block_with_the_one_before():
    # (2 + 3) / (1 + 1) - 1 = 1.5; a product first seen in the last block has no growth
    assert ds.growth(m([1, 1, 2, 3]), 2, [0]) == pytest.approx([1.5])
    assert np.isnan(ds.growth(m([0, 0, 2, 3]), 2, [2])).all()


def test_peak_to_mean():
    assert ds.peak_to_mean(m([1, 2, 6]), [3.0]).tolist() == [2.0]


def test_seasonality_of_a_repeating_pattern_is_one():
    x = m([1, 5, 2, 8, 1, 5, 2, 8])
    assert ds.seasonal_correlation(x, 4, [0], min_pairs=3) == pytest.approx([1.0])


def test_seasonality_hand_computed():
    # pairs (1,2) (2,4) (3,6) (4,9): cov 11.5, ss 5 and 26.75 -> r = 11.5 / sqrt(133.75) = 0.994377
    x = m([1, 2, 3, 4, 2, 4, 6, 9])
    assert ds.seasonal_correlation(x, 4, [0], 3) == pytest.approx([0.994377], rel=1e-5)


def test_seasonality_pairs_start_at_the_first_sale_and_negative_is_clipped():
    # first sale in column 2: pairs (2,2) (8,8) only -> 1; mirrored pattern -> r < 0 -> 0
    x = m([0, 0, 2, 8, 1, 5, 2, 8], [1, 5, 2, 8, 8, 2, 5, 1])
    assert ds.seasonal_correlation(x, 4, [2, 0], 2) == pytest.approx([1.0, 0.0])


def test_seasonality_with_too_few_pairs_is_missing():
    x = m([0, 0, 2, 8, 1, 5, 2, 8])
    assert np.isnan(ds.seasonal_correlation(x, 4, [2], 3)).all()
    assert np.isnan(ds.seasonal_correlation(x, 8, [0], 1)).all()


def test_median_and_mad_flag_a_planted_spike():
    # sizes 9 10 10 10 11 11 12 100: median 10.5, |deviations| sorted .5 .5 .5 .5 .5 1.5 1.5 89.5
    # -> MAD 0.5; fence 10.5 + 5 * 0.5 = 13: only the 100 is a spike
    x = m([10, 12, 9, 11, 10, 100, 10, 11])
    positive, n = x > 0, [8]
    median = ds.positive_row_median(x, positive, n)
    mad = ds.median_absolute_deviation(x, median, positive, n)
    assert median.tolist() == [10.5] and mad.tolist() == [0.5]
    fence = ds.spike_threshold(median, mad, [0.0], k=5)
    assert fence.tolist() == [13.0]
    assert (x[0] > fence[0]).tolist() == [False] * 5 + [True] + [False] * 2


def test_zero_mad_falls_back_on_mean_absolute_deviation():
    # 1 1 1 1 1 1 5: MAD 0; mean |x - 1| = 4/7; fence 1 + 5 * 0.8453 * 4/7 = 3.415
    fence = ds.spike_threshold([1.0], [0.0], [4 / 7], k=5)
    assert fence == pytest.approx([1 + 5 * (1.253314 / 1.4826) * 4 / 7])
    assert 3.41 < fence[0] < 3.42


def test_median_of_a_row_without_sales_is_missing():
    x = m([0, 0, 0], [0, 4, 2])
    assert np.isnan(ds.positive_row_median(x, x > 0, [0, 2])[0])
    assert ds.positive_row_median(x, x > 0, [0, 2])[1] == 3.0


def test_cleansing_caps_flagged_cells_at_the_median_and_keeps_the_input():
    x = m([10, 100, 9])
    out = ds.cleansed(x, np.array([[False, True, True]]), [10.0])
    assert out.tolist() == [[10, 10, 9]] and x.tolist() == [[10, 100, 9]]


def test_first_and_last_positive_columns():
    positive = m([0, 3, 0, 2, 0], [0, 0, 0, 0, 0]) > 0
    assert ds.first_positive_column(positive).tolist() == [1, -1]
    assert ds.last_positive_column(positive).tolist() == [3, -1]


series = st.lists(st.integers(min_value=0, max_value=500), min_size=2, max_size=40).filter(
    lambda v: sum(1 for q in v if q > 0) >= 2
)


def _stats(values: list[int], scale: float = 1.0) -> tuple[float, float, float]:
    x = m(values) * np.float32(scale)
    positive = x > 0
    start = ds.first_positive_column(positive)
    n = x.shape[1] - start
    nz = positive.sum(axis=1)
    total, total_sq = ds.row_sums(x)
    cv = ds.cv(ds.row_mean(total, n), ds.std_from_sums(total, total_sq, n))[0]
    cv2 = ds.cv2(ds.row_mean(total, nz), ds.std_from_sums(total, total_sq, nz))[0]
    return float(ds.adi(n, nz)[0]), float(cv), float(cv2)


@settings(max_examples=60, deadline=None)
@given(series)
def test_adi_is_at_least_one(values):
    assert _stats(values)[0] >= 1.0


@settings(max_examples=60, deadline=None)
@given(series, st.sampled_from([0.5, 3.0, 12.0, 1000.0]))
def test_cv_and_cv2_do_not_change_when_quantities_are_scaled(values, scale):
    _, cv, cv2 = _stats(values)
    _, cv_s, cv2_s = _stats(values, scale)
    assert cv_s == pytest.approx(cv, rel=1e-4, abs=1e-6)
    assert cv2_s == pytest.approx(cv2, rel=1e-4, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=30), st.integers(0, 60))
def test_zero_share_is_a_share(nonzero, extra):
    observed = np.array(nonzero) + extra
    share = ds.zero_share(observed, nonzero)
    defined = observed > 0
    assert ((share[defined] >= 0) & (share[defined] <= 1)).all()
    assert np.isnan(share[~defined]).all()
