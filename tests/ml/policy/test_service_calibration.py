"""Service calibration: pooled shortage ratios and the calibrated fill rate."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml.policy.service_calibration import calibrated_fill_rate, pooled_shortage_ratios


def _table(rows):
    return pd.DataFrame(rows, columns=["segment", "planned_fill_rate", "fill_rate"])


def test_the_ratio_is_achieved_over_planned_shortage_summed_over_windows():
    # window 1: A planned 10% short and was 30% short; window 2: planned 10%, was 10%
    w1 = _table([("A", 0.90, 0.70), ("B", 0.99, 0.98)])
    w2 = _table([("A", 0.90, 0.90), ("B", 0.99, 0.99)])
    got = pooled_shortage_ratios([w1, w2])
    assert got["A"] == pytest.approx((0.30 + 0.10) / (0.10 + 0.10))  # 2, not mean(3, 1)
    assert got["B"] == pytest.approx((0.02 + 0.01) / (0.01 + 0.01))
    assert pooled_shortage_ratios([]) == {}


def test_segments_without_a_planned_shortage_or_figures_stay_uncalibrated():
    got = pooled_shortage_ratios([_table([("A", 1.0, 0.8), ("B", np.nan, 0.9), ("C", 0.9, 0.9)])])
    assert set(got) == {"C"} and got["C"] == pytest.approx(1.0)


def test_a_window_with_too_few_of_a_segments_products_teaches_it_nothing():
    w1 = _table([("A", 0.90, 1.00), ("B", 0.90, 0.70)]).assign(products=[3, 40])
    w2 = _table([("A", 0.90, 0.80), ("B", 0.90, 0.80)]).assign(products=[30, 40])
    got = pooled_shortage_ratios([w1, w2], min_products=10)
    assert got["A"] == pytest.approx(0.20 / 0.10)  # w1's 3 products (no shortage) left out
    assert got["B"] == pytest.approx((0.30 + 0.20) / (0.10 + 0.10))
    alone = pooled_shortage_ratios([w1], min_products=10)
    assert set(alone) == {"B"}  # A stays uncalibrated: the formula's plan
    assert pooled_shortage_ratios([w1, w2])["A"] == pytest.approx(0.20 / 0.20)  # default: all


def test_credibility_blends_a_small_segments_ratio_with_the_windows_pooled_one():
    # A: 10 products planned 10% short, none short (own ratio 0); B: 90 products planned 10%
    # short, 40% short (own ratio 4). Pooled by products: (10*0 + 90*0.4) / (10*0.1 + 90*0.1)
    # = 3.6. With k = 30: Z_A = 10/40 = 0.25, Z_B = 90/120 = 0.75 (Buhlmann credibility).
    w = _table([("A", 0.90, 1.00), ("B", 0.90, 0.60)]).assign(products=[10, 90])
    got = pooled_shortage_ratios([w], credibility=30.0)
    assert got["A"] == pytest.approx(0.25 * 0.0 + 0.75 * 3.6)
    assert got["B"] == pytest.approx(0.75 * 4.0 + 0.25 * 3.6)
    assert pooled_shortage_ratios([w]) == pytest.approx({"A": 0.0, "B": 4.0})  # k = 0: own


def test_a_segment_too_small_to_teach_itself_plans_with_the_pooled_ratio():
    # A's 3 products are below the minimum: Z = 0. Pool: (3*0 + 40*0.3) / (3*0.1 + 40*0.1)
    w = _table([("A", 0.90, 1.00), ("B", 0.90, 0.70)]).assign(products=[3, 40])
    got = pooled_shortage_ratios([w], min_products=10, credibility=30.0)
    pooled = (40 * 0.3) / (43 * 0.1)
    assert got["A"] == pytest.approx(pooled)
    assert got["B"] == pytest.approx(40 / 70 * 3.0 + 30 / 70 * pooled)
    assert set(pooled_shortage_ratios([w], min_products=10)) == {"B"}  # k = 0: A left out


@given(st.floats(0.5, 0.99), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1e4))
def test_a_blended_ratio_lies_between_its_own_and_the_pooled_one(planned, a1, a2, k):
    w = _table([("A", planned, a1), ("B", planned, a2)]).assign(products=[7, 50])
    own = pooled_shortage_ratios([w])
    pooled = (7 * (1 - a1) + 50 * (1 - a2)) / (57 * (1 - planned))
    for seg, ratio in pooled_shortage_ratios([w], credibility=k).items():
        low, high = sorted((own[seg], pooled))
        assert low - 1e-9 <= ratio <= high + 1e-9


def test_the_calibrated_fill_rate_scales_the_shortage_and_stays_a_share():
    assert calibrated_fill_rate(0.9, 3.0) == pytest.approx(0.7)  # 10% short, 3x: 30% short
    assert calibrated_fill_rate(0.9, 0.5) == pytest.approx(0.95)
    assert calibrated_fill_rate(0.5, 4.0) == 0.0  # clipped: more than all of it short
    assert calibrated_fill_rate(0.9, np.nan) == pytest.approx(0.9)  # no ratio: the formula


@given(
    st.floats(0.0, 0.999),
    st.floats(0.0, 1.0),
)
def test_a_window_calibrated_by_its_own_ratio_plans_what_it_achieved(planned, achieved):
    ratio = pooled_shortage_ratios([_table([("A", planned, achieved)])])["A"]
    assert float(calibrated_fill_rate(planned, ratio)) == pytest.approx(achieved, abs=1e-9)


@given(st.floats(0.0, 1.0), st.floats(0.0, 50.0), st.floats(0.0, 50.0))
def test_a_larger_ratio_never_plans_more_service(expected, r1, r2):
    low, high = sorted((r1, r2))
    assert calibrated_fill_rate(expected, high) <= calibrated_fill_rate(expected, low) + 1e-12
