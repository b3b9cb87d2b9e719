"""Cycle-service safety stock and reorder points: published examples and monotonicity."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml.errors import StrataError
from ml.policy.newsvendor import critical_ratio
from ml.policy.normal import cycle_service_level
from ml.policy.safety_stock import (
    cycle_service_safety_stock,
    lead_time_demand_mean,
    lead_time_demand_sd,
    order_up_to_level,
    reorder_point,
)

# Chopra & Meindl, Supply Chain Management, 6th ed. (2016), ch. 12, the B&M Office Supplies
# phones: weekly demand N(2,500, 500), lead time 2 weeks, lot 10,000, reorder point 6,000.
WEEKLY_MEAN, WEEKLY_SD, LEAD_WEEKS = 2500.0, 500.0, 2.0


def test_chopra_meindl_example_12_1_safety_inventory_given_a_policy():
    """ss = ROP - D L = 6,000 - 5,000 = 1,000 phones."""
    assert lead_time_demand_mean(WEEKLY_MEAN, LEAD_WEEKS) == 5000.0
    assert reorder_point(WEEKLY_MEAN, LEAD_WEEKS, safety_stock=1000.0) == 6000.0


def test_chopra_meindl_example_12_2_cycle_service_level_given_a_policy():
    """sigma_L = sqrt(2) x 500 = 707; CSL = F(6,000; 5,000, 707) = 0.92."""
    sigma = lead_time_demand_sd(WEEKLY_MEAN, WEEKLY_SD, LEAD_WEEKS)
    assert sigma == pytest.approx(707.1, abs=0.05)
    assert cycle_service_level(1000.0 / sigma) == pytest.approx(0.92, abs=0.005)


def test_chopra_meindl_example_12_4_safety_inventory_given_cycle_service_level():
    """CSL 90%: ss = NORMSINV(0.9) x 707 = 906 phones."""
    ss = cycle_service_safety_stock(0.90, WEEKLY_MEAN, WEEKLY_SD, LEAD_WEEKS)
    assert ss == pytest.approx(906.0, abs=0.5)


def test_chopra_meindl_dell_lead_time_uncertainty():
    """Chopra & Meindl (2016) ch. 12, impact of lead-time uncertainty (the Dell example): daily
    demand N(2,500, 500), mean lead time 7 days, CSL 90%. sigma_L = sqrt(7 x 500² + 2,500² x
    s_L²); with s_L = 7 days ss = 22,491, and the book's table as s_L falls to 0."""
    published = {7: 22491, 6: 19298, 5: 16109, 4: 12927, 3: 9760, 2: 6628, 1: 3625, 0: 1695}
    sd_lead = np.array(list(published), dtype=float)
    ss = cycle_service_safety_stock(0.90, 2500.0, 500.0, 7.0, lead_time_sd=sd_lead)
    np.testing.assert_allclose(ss, list(published.values()), atol=0.5)
    assert lead_time_demand_sd(2500.0, 500.0, 7.0, 7.0) == pytest.approx(17550, abs=0.5)


def test_snyder_shen_example_5_5_eoq_plus_safety_stock_reorder_point():
    """Snyder & Shen (2019) Example 5.5 (EOQ+SS): h = 0.225, p = 7.5, lambda = 1300/yr,
    tau = 150, L = 1/12 yr; r = mu + z_alpha sigma, alpha = p/(p+h) -> 190.3369965715624."""
    alpha = critical_ratio(stockout_cost=7.5, holding_cost=0.225)
    ss = cycle_service_safety_stock(alpha, 1300.0, 150.0, 1 / 12)
    r = reorder_point(1300.0, 1 / 12, ss)
    assert r == pytest.approx(190.3369965715624, rel=1e-12)


def test_periodic_review_protects_over_review_period_plus_lead_time():
    """(R, S): S = d (R + L) + z sigma_d sqrt(R + L) (Silver, Pyke & Thomas 2017, ch. 6)."""
    ss = cycle_service_safety_stock(0.95, 100.0, 30.0, 3.0, review_period=1.0)
    assert ss == pytest.approx(1.6448536269514722 * 30.0 * 2.0, rel=1e-14)
    assert order_up_to_level(100.0, 3.0, 1.0, ss) == pytest.approx(400.0 + ss)


def test_order_up_to_level_needs_a_positive_review_period():
    with pytest.raises(StrataError, match=r"review_period = 0 is outside \(0, inf\)"):
        order_up_to_level(100.0, 3.0, 0.0, 10.0)


def test_vectorised_equals_scalar_calls():
    rng = np.random.default_rng(3)
    args = (
        rng.uniform(0.5, 0.999, 50),
        rng.uniform(0, 100, 50),
        rng.uniform(0, 40, 50),
        rng.uniform(0.1, 10, 50),
        rng.uniform(0, 2, 50),
        rng.uniform(0, 4, 50),
    )
    vector = cycle_service_safety_stock(*args)
    scalar = [cycle_service_safety_stock(*(a[i] for a in args)) for i in range(50)]
    np.testing.assert_allclose(vector, scalar, rtol=1e-15)
    assert isinstance(scalar[0], float)


levels = st.floats(min_value=0.5, max_value=0.9999)
positive = st.floats(min_value=0.01, max_value=1e4)
non_negative = st.floats(min_value=0.0, max_value=1e4)


@given(levels, levels, non_negative, non_negative, positive, non_negative)
def test_safety_stock_non_decreasing_in_service_level(a, b, mean, sd, lead, lead_sd):
    low, high = sorted((a, b))
    ss_low = cycle_service_safety_stock(low, mean, sd, lead, lead_sd)
    ss_high = cycle_service_safety_stock(high, mean, sd, lead, lead_sd)
    assert ss_high >= ss_low - 1e-9 * max(1.0, abs(ss_low))


@given(levels, non_negative, non_negative, positive, positive, non_negative)
def test_safety_stock_non_decreasing_in_lead_time(level, mean, sd, a, b, lead_sd):
    """For service levels >= 0.5 (z >= 0); below, a longer lead time means *less* stock."""
    short, long = sorted((a, b))
    ss_short = cycle_service_safety_stock(level, mean, sd, short, lead_sd)
    ss_long = cycle_service_safety_stock(level, mean, sd, long, lead_sd)
    assert ss_long >= ss_short - 1e-9 * max(1.0, ss_short)


@given(levels, non_negative, non_negative, non_negative, positive, non_negative)
def test_safety_stock_non_decreasing_in_demand_and_lead_time_sd(level, mean, a, b, lead, c):
    low, high = sorted((a, b))
    base = cycle_service_safety_stock(level, mean, low, lead, c)
    assert cycle_service_safety_stock(level, mean, high, lead, c) >= base - 1e-9 * max(1, base)
    assert cycle_service_safety_stock(level, mean, low, lead, c + 1.0) >= base - 1e-9 * max(1, base)


def test_no_uncertainty_means_no_safety_stock():
    assert cycle_service_safety_stock(0.99, 100.0, 0.0, 4.0, 0.0) == 0.0


def test_bad_inputs_are_all_reported_at_once():
    with pytest.raises(StrataError) as err:
        cycle_service_safety_stock(
            [0.95, 1.0, 0.9], [10.0, -1.0, 10.0], [2.0, 2.0, math.nan], [1.0, 0.0, 1.0]
        )
    message = str(err.value)
    assert "service_level has 1 of 3 rows outside (0, 1) — service_level[1] = 1" in message
    assert "demand_mean has 1 of 3 rows outside [0, inf) — demand_mean[1] = -1" in message
    assert "demand_sd has 1 of 3 rows outside [0, inf) — demand_sd[2] is missing (NaN)" in message
    assert "lead_time has 1 of 3 rows outside (0, inf) — lead_time[1] = 0" in message


def test_mismatched_lengths_say_which_inputs():
    with pytest.raises(StrataError, match=r"service_level \(2,\), demand_mean \(3,\)"):
        cycle_service_safety_stock([0.9, 0.95], [1.0, 2.0, 3.0], 1.0, 1.0)
