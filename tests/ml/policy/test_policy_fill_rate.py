"""Fill-rate safety factors and expected fill rates: published examples, stockpyl, properties."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stockpyl.loss_functions import normal_loss
from stockpyl.rq import r_q_loss_function_approximation

from ml.errors import StrataError
from ml.policy.fill_rate import (
    expected_fill_rate,
    expected_shortage_per_cycle,
    fill_rate_safety_factor,
    fill_rate_safety_stock,
)
from ml.policy.normal import cycle_service_level, inverse_standard_normal_loss
from ml.policy.safety_stock import lead_time_demand_sd

# Chopra & Meindl (2016), 6th ed., ch. 12: weekly demand N(2,500, 500), L = 2 weeks, Q = 10,000.
SIGMA_L = 500.0 * math.sqrt(2.0)


def test_chopra_meindl_example_12_3_fill_rate_given_a_policy():
    """ss = 1,000: ESC = 25.13 phones per cycle, fill rate (10,000 - 25.13) / 10,000 = 0.9975."""
    k = 1000.0 / SIGMA_L
    assert expected_shortage_per_cycle(k, SIGMA_L) == pytest.approx(25.13, abs=0.005)
    assert expected_fill_rate(k, SIGMA_L, 10000.0) == pytest.approx(0.9975, abs=0.00005)


def test_chopra_meindl_example_12_5_safety_inventory_given_fill_rate():
    """fr = 97.5%, Q = 10,000: ESC = 250, solved for ss = 67 phones."""
    ss = fill_rate_safety_stock(0.975, 10000.0, 2500.0, 500.0, 2.0)
    assert ss == pytest.approx(67.0, abs=0.5)


def test_chopra_meindl_exercise_11_4_hewlett_packard_printers():
    """Chopra & Meindl, 5th ed., exercise 11-4 (solution spreadsheet): weekly demand N(250, 150),
    L = 2 weeks, Q = 1,000, ROP = 600 -> ss = 100, CSL = 0.68, ESC = 43.86, fill rate = 0.96."""
    sigma = lead_time_demand_sd(250.0, 150.0, 2.0)
    ss = 600.0 - 250.0 * 2.0
    k = ss / sigma
    assert ss == 100.0
    assert cycle_service_level(k) == pytest.approx(0.68, abs=0.005)
    assert expected_shortage_per_cycle(k, sigma) == pytest.approx(43.86, abs=0.005)
    assert expected_fill_rate(k, sigma, 1000.0) == pytest.approx(0.96, abs=0.005)


def test_snyder_shen_example_5_6_loss_function_approximation_reorder_point():
    """Snyder & Shen (2019) Example 5.6: h = 0.225, p = 7.5, K = 8, lambda = 1300, tau = 150,
    L = 1/12; at the fixed point Q = 328.4491421980451 the reorder point solves
    n(r) = h Q / (h + p) (eq. (5.29)): r = 126.8670634479628."""
    h, p, q = 0.225, 7.5, 328.4491421980451
    mu, sigma = 1300.0 / 12, 150.0 * math.sqrt(1 / 12)
    k = inverse_standard_normal_loss(h * q / (h + p) / sigma)
    # stockpyl iterates to |dr|, |dQ| <= 1e-6, so the published r belongs to a Q within 1e-6.
    assert mu + k * sigma == pytest.approx(126.8670634479628, abs=1e-6)


def test_inverse_loss_matches_stockpyl_rq_loss_function_approximation_on_random_instances():
    """stockpyl's (r, Q) loss-function approximation solves n(r) = h Q / (h + p) with fsolve;
    our Newton solve of the same equation, fed stockpyl's Q, agrees, and stockpyl's own
    normal_loss confirms our r satisfies the equation to 1e-9."""
    rng = np.random.default_rng(11)
    for _ in range(25):
        h, p = rng.uniform(0.05, 2.0), rng.uniform(1.0, 50.0)
        fixed, mean, sd = rng.uniform(1, 200), rng.uniform(100, 5000), rng.uniform(10, 800)
        lead = rng.uniform(0.02, 0.5)
        r_theirs, q = r_q_loss_function_approximation(h, p, fixed, mean, sd, lead)
        mu, sigma = mean * lead, sd * math.sqrt(lead)
        target = h * q / (h + p)
        r_ours = mu + sigma * inverse_standard_normal_loss(target / sigma)
        assert normal_loss(r_ours, mu, sigma)[0] == pytest.approx(target, rel=1e-9)
        assert r_ours == pytest.approx(r_theirs, abs=1e-6)


def test_target_met_by_the_lot_alone_caps_the_safety_factor_at_k_min():
    """Q = 50,000 against sigma = 707: L(k) = 50,000 x 0.05 / 707 = 3.5 needs k = -3.5;
    the default floor k_min = 0 plans no negative safety stock and beats the target."""
    k = fill_rate_safety_factor(0.95, 50000.0, SIGMA_L)
    assert k == 0.0
    assert expected_fill_rate(k, SIGMA_L, 50000.0) > 0.95
    uncapped = fill_rate_safety_factor(0.95, 50000.0, SIGMA_L, k_min=-50.0)
    assert uncapped == pytest.approx(-3.5355, abs=1e-3)
    assert expected_fill_rate(uncapped, SIGMA_L, 50000.0) == pytest.approx(0.95, abs=1e-12)


def test_no_demand_uncertainty_gives_k_min_and_full_fill_rate():
    assert fill_rate_safety_stock(0.99, 100.0, 50.0, 0.0, 2.0) == 0.0
    assert expected_fill_rate(0.0, 0.0, 100.0) == 1.0


def test_exact_fill_rate_adds_back_double_counted_shortages():
    """Small Q against sigma: the textbook 1 - sigma L(k)/Q goes negative (clipped to 0); the
    exact (Axsäter) form stays meaningful and is never below it."""
    k = np.array([-1.0, 0.0, 1.0])
    approximate = expected_fill_rate(k, 100.0, 10.0)
    exact = expected_fill_rate(k, 100.0, 10.0, exact=True)
    assert approximate[0] == 0.0
    assert np.all(exact >= approximate) and np.all((exact > 0) & (exact < 1))


@settings(deadline=None)
@given(
    st.floats(min_value=0.5, max_value=0.9999),
    st.floats(min_value=0.1, max_value=1e5),
    st.floats(min_value=0.1, max_value=1e4),
)
def test_fill_rate_round_trip_where_not_capped(target, order_qty, sigma):
    k = fill_rate_safety_factor(target, order_qty, sigma, k_min=-1e3)
    assume(k > -1e3)
    assert expected_fill_rate(k, sigma, order_qty) == pytest.approx(target, abs=1e-9)


@settings(deadline=None)
@given(
    st.floats(min_value=0.01, max_value=0.9999),
    st.floats(min_value=0.01, max_value=0.9999),
    st.floats(min_value=0.1, max_value=1e5),
    st.floats(min_value=0.0, max_value=1e3),
    st.floats(min_value=0.0, max_value=1e3),
    st.floats(min_value=0.1, max_value=50),
)
def test_fill_rate_safety_stock_non_decreasing_in_target_and_sigma(a, b, q, mean, sd, lead):
    low, high = sorted((a, b))
    ss_low = fill_rate_safety_stock(low, q, mean, sd, lead)
    assert fill_rate_safety_stock(high, q, mean, sd, lead) >= ss_low - 1e-9 * max(1, abs(ss_low))
    # With k >= 0 (the default floor) more variability never means less safety stock.
    assert fill_rate_safety_stock(low, q, mean, sd + 1.0, lead) >= ss_low - 1e-9 * max(1, ss_low)
    assert fill_rate_safety_stock(low, q, mean, sd, lead + 1.0) >= ss_low - 1e-9 * max(1, ss_low)


def test_vectorised_fill_rate_factor_over_a_million_rows_is_exact():
    rng = np.random.default_rng(5)
    n = 1_000_000
    target = rng.uniform(0.8, 0.999, n)
    q = rng.uniform(1, 1000, n)
    sigma = rng.uniform(1, 500, n)
    k = fill_rate_safety_factor(target, q, sigma, k_min=-1e6)
    np.testing.assert_allclose(expected_fill_rate(k, sigma, q), target, atol=1e-10)


def test_bad_fill_rate_inputs_are_named():
    with pytest.raises(StrataError) as err:
        fill_rate_safety_factor([0.9, 1.0], [0.0, 10.0], -1.0)
    message = str(err.value)
    assert "fill_rate has 1 of 2 rows outside (0, 1) — fill_rate[1] = 1" in message
    assert "order_qty has 1 of 2 rows outside (0, inf) — order_qty[0] = 0" in message
    assert "lead_time_demand_sd has 2 of 2 rows outside [0, inf)" in message
