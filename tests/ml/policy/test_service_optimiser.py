"""Service-level optimiser: two-item closed forms, scipy brute force, planted segments, properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy.stats import norm

from ml.errors import StrataError
from ml.policy.service_optimiser import (
    optimise_per_product,
    optimise_per_segment,
    uniform_cycle_service,
    uniform_fill_rate,
)


# Independent reference: the normal loss from scipy.stats, not from ml.policy.normal.
def loss(k):
    return norm.pdf(k) - k * norm.sf(k)


def fill(k, sigma, q):
    """1 - sigma L(k) / Q, clipped to [0, 1] (Silver, Pyke & Thomas 2017, ch. 6)."""
    return np.clip(1.0 - sigma * loss(k) / q, 0.0, 1.0)


def aggregate(k, w, sigma, q):
    return np.sum(w * fill(k, sigma, q)) / np.sum(w)


def k_for_fill(beta, sigma, q, k_min=0.0):
    """k solving 1 - sigma L(k) / Q = beta by brentq, floored at k_min."""
    if fill(k_min, sigma, q) >= beta:
        return k_min
    return optimize.brentq(lambda k: fill(k, sigma, q) - beta, k_min, 40.0, xtol=1e-14)


W2 = np.array([10.0, 4.0])
Q2 = np.array([40.0, 30.0])
SD2 = np.array([15.0, 12.0])
V2 = np.array([2.0, 5.0])


def test_two_identical_items_get_equal_k_solving_the_target_fill_rate():
    """By symmetry each item gets the target: k solves 1 - 20 L(k) / 50 = 0.97."""
    plan = optimise_per_product([10.0, 10.0], [50.0, 50.0], [20.0, 20.0], [3.0, 3.0], 0.97)
    expected = k_for_fill(0.97, 20.0, 50.0)
    np.testing.assert_allclose(plan.k, [expected, expected], rtol=1e-6)
    assert plan.total_safety_stock_value == pytest.approx(2 * 3.0 * 20.0 * expected, rel=1e-6)


def test_two_items_satisfy_the_kkt_ratio_and_meet_the_target():
    """Stationarity: (1 - Phi(k1)) / (1 - Phi(k2)) = (v1 Q1 w2) / (v2 Q2 w1)."""
    plan = optimise_per_product(W2, Q2, SD2, V2, 0.96)
    assert (plan.k > 0).all()  # interior: the ratio holds without a bound
    ratio = norm.sf(plan.k[0]) / norm.sf(plan.k[1])
    assert ratio == pytest.approx((V2[0] * Q2[0] * W2[1]) / (V2[1] * Q2[1] * W2[0]), rel=1e-9)
    assert 0.96 <= aggregate(plan.k, W2, SD2, Q2) <= 0.96 + 1e-6
    assert plan.aggregate_fill_rate == pytest.approx(aggregate(plan.k, W2, SD2, Q2), abs=1e-12)
    lam = V2[0] * Q2[0] / (W2[0] * norm.sf(plan.k[0]))
    assert plan.multiplier == pytest.approx(lam, rel=1e-9)


def test_per_product_agrees_with_scipy_minimize_on_cost():
    w = np.array([10.0, 4.0, 25.0])
    q = np.array([40.0, 30.0, 120.0])
    sd = np.array([15.0, 12.0, 60.0])
    v = np.array([2.0, 5.0, 1.0])
    target = 0.975
    result = optimize.minimize(
        lambda k: np.sum(v * sd * k),
        x0=np.ones(3),
        jac=lambda k: v * sd,
        bounds=[(0.0, 10.0)] * 3,
        constraints=[{"type": "ineq", "fun": lambda k: aggregate(k, w, sd, q) - target}],
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 500},
    )
    assert result.success
    plan = optimise_per_product(w, q, sd, v, target)
    assert plan.total_safety_stock_value == pytest.approx(result.fun, rel=1e-4)
    np.testing.assert_allclose(plan.k, result.x, atol=1e-3)


def test_a_ceiling_holds_one_item_and_the_other_makes_up_the_rest():
    """Item 0 (cheap) capped at fill 0.9: item 1 needs (0.92 * 14 - 0.9 * 10) / 4 = 0.97."""
    plan = optimise_per_product(W2, Q2, SD2, V2 / [10.0, 1.0], 0.92, ceiling=[0.9, 0.9999])
    assert plan.fill_rate[0] == pytest.approx(0.9, abs=1e-9)
    needed = (0.92 * 14.0 - 0.9 * 10.0) / 4.0
    assert plan.fill_rate[1] == pytest.approx(needed, abs=1e-6)
    assert plan.k[1] == pytest.approx(k_for_fill(needed, SD2[1], Q2[1]), abs=1e-5)


def test_a_floor_raises_an_item_to_its_floor_fill_rate():
    plan = optimise_per_product(W2, Q2, SD2, V2, 0.5, floor=[0.99, 0.5])
    assert plan.fill_rate[0] == pytest.approx(0.99, abs=1e-9)
    assert plan.k[1] == 0.0  # k_min: the floor alone meets 0.5
    assert plan.multiplier == 0.0


def test_certain_products_fill_one_at_no_cost():
    plan = optimise_per_product([5.0, 5.0], [0.0, 20.0], [0.0, 10.0], [0.0, 1.0], 0.98)
    assert plan.fill_rate[0] == 1.0 and plan.safety_stock_value[0] == 0.0
    # the aggregate is (5 + 5 beta_1) / 10: the uncertain item needs 0.96
    assert plan.fill_rate[1] == pytest.approx(0.96, abs=1e-7)


def test_uniform_fill_rate_matches_brentq_on_the_common_target():
    def gap(beta):
        k = np.array([k_for_fill(beta, s, q) for s, q in zip(SD2, Q2, strict=True)])
        return aggregate(k, W2, SD2, Q2) - 0.95

    beta = optimize.brentq(gap, 0.5, 0.95, xtol=1e-14)
    plan = uniform_fill_rate(W2, Q2, SD2, V2, 0.95)
    assert plan.level == pytest.approx(beta, abs=1e-7)
    assert 0.95 <= plan.aggregate_fill_rate <= 0.95 + 1e-6


def test_uniform_cycle_service_matches_brentq_on_one_safety_factor():
    z = optimize.brentq(lambda z: aggregate(np.full(2, z), W2, SD2, Q2) - 0.97, 0.0, 10.0)
    plan = uniform_cycle_service(W2, Q2, SD2, V2, 0.97)
    np.testing.assert_allclose(plan.k, [z, z], atol=1e-7)
    assert plan.level == pytest.approx(norm.cdf(z), abs=1e-7)


def _segment_cost(beta, sd, q, v, k_min=0.0):
    return sum(
        vi * si * k_for_fill(beta, si, qi, k_min) for si, qi, vi in zip(sd, q, v, strict=True)
    )


def test_two_segments_match_a_brute_force_over_the_first_segments_target():
    """For each beta_1 the cheapest beta_2 just meets the target; minimise over beta_1."""
    code = np.array([0, 0, 1, 1])
    w = np.array([10.0, 6.0, 3.0, 2.0])
    q = np.array([60.0, 40.0, 10.0, 8.0])
    sd = np.array([20.0, 15.0, 9.0, 7.0])
    v = np.array([1.0, 1.5, 6.0, 8.0])
    target = 0.95

    def contribution(beta, rows):
        return sum(w[i] * max(beta, fill(0.0, sd[i], q[i])) for i in rows)

    def cost(beta1):
        needed = target * w.sum() - contribution(beta1, [0, 1])
        if contribution(0.5, [2, 3]) >= needed:
            beta2 = 0.5
        elif contribution(0.9999, [2, 3]) < needed:
            return np.inf
        else:
            beta2 = optimize.brentq(lambda b: contribution(b, [2, 3]) - needed, 0.5, 0.9999)
        first = _segment_cost(beta1, sd[:2], q[:2], v[:2])
        return first + _segment_cost(beta2, sd[2:], q[2:], v[2:])

    grid = np.linspace(0.5, 0.9999, 400)
    j = int(np.argmin([cost(b) for b in grid]))
    bounds = (grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)])
    best = optimize.minimize_scalar(cost, bounds=bounds, method="bounded", options={"xatol": 1e-10})
    plan = optimise_per_segment(
        code, w, q, sd, v, target, segment_floor=0.5, segment_ceiling=0.9999
    )
    assert plan.total_safety_stock_value == pytest.approx(best.fun, rel=1e-4)
    assert 0.95 <= plan.aggregate_fill_rate <= 0.95 + 1e-6


def test_planted_homogeneous_segments_reach_the_per_product_optimum():
    """Products of a segment share v, Q / w and sigma / Q (only their size differs), so the
    per-product optimum gives them one k and one fill rate: one target per segment loses nothing."""
    rng = np.random.default_rng(7)
    kinds = [(1.0, 4.0, 0.4), (5.0, 2.0, 0.8), (0.5, 10.0, 0.25)]  # v, Q / w, sigma / Q
    code = np.repeat(np.arange(3), 40)
    size = rng.lognormal(2.0, 1.0, code.size)
    v = np.array([kinds[c][0] for c in code])
    q = size * np.array([kinds[c][1] for c in code])
    sd = q * np.array([kinds[c][2] for c in code])
    per_product = optimise_per_product(size, q, sd, v, 0.96)
    per_segment = optimise_per_segment(
        code, size, q, sd, v, 0.96, segment_floor=0.5, segment_ceiling=0.9999
    )
    for s in range(3):
        np.testing.assert_allclose(per_product.k[code == s], per_product.k[code == s][0])
        assert per_segment.segment_level[s] == pytest.approx(
            per_product.fill_rate[code == s][0], abs=2e-4
        )
    assert per_segment.total_safety_stock_value == pytest.approx(
        per_product.total_safety_stock_value, rel=1e-4
    )


@st.composite
def problems(draw):
    n = draw(st.integers(2, 25))
    floats = st.floats(0.1, 100.0)
    arrays = [np.array(draw(st.lists(floats, min_size=n, max_size=n))) for _ in range(4)]
    w, q, ratio, v = arrays
    # sigma <= 2.5 Q keeps 1 - sigma L(k) / Q above 0 for k >= 0, where the fill is concave in k
    sd = q * ratio / 40.0
    code = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    target = draw(st.floats(0.6, 0.995))
    return code, w, q, sd, v, target


@settings(max_examples=60, deadline=None)
@given(problems())
def test_every_optimiser_meets_the_target_and_finer_choice_costs_less(problem):
    code, w, q, sd, v, target = problem
    bounds = {"segment_floor": 0.01, "segment_ceiling": 0.99999}
    per_product = optimise_per_product(w, q, sd, v, target)
    per_segment = optimise_per_segment(code, w, q, sd, v, target, **bounds)
    uniform = uniform_fill_rate(w, q, sd, v, target)
    cycle = uniform_cycle_service(w, q, sd, v, target)
    for plan in (per_product, per_segment, uniform, cycle):
        at_bounds = plan.multiplier == 0 or getattr(plan, "level", None) in (0.0, 0.5)
        assert target - 1e-12 <= aggregate(plan.k, w, sd, q)
        assert at_bounds or aggregate(plan.k, w, sd, q) <= target + 1e-6  # else floors bind
        assert plan.aggregate_fill_rate == pytest.approx(aggregate(plan.k, w, sd, q), abs=1e-9)
        assert plan.total_safety_stock_value == pytest.approx(np.sum(v * sd * plan.k), rel=1e-9)
    slack = 1e-5 * (1.0 + uniform.total_safety_stock_value)  # the 1e-8 band on the aggregate
    assert per_product.total_safety_stock_value <= per_segment.total_safety_stock_value + slack
    if uniform.level >= bounds["segment_floor"]:  # the uniform target is one segments may pick
        assert per_segment.total_safety_stock_value <= uniform.total_safety_stock_value + slack
    assert per_product.total_safety_stock_value <= cycle.total_safety_stock_value + slack


@settings(max_examples=40, deadline=None)
@given(problems())
def test_one_segment_holding_everything_is_the_uniform_fill_rate(problem):
    _, w, q, sd, v, target = problem
    one = optimise_per_segment(
        np.zeros(w.size, dtype=int),
        w,
        q,
        sd,
        v,
        target,
        segment_floor=1e-6,
        segment_ceiling=0.99999,
    )
    uniform = uniform_fill_rate(w, q, sd, v, target)
    if uniform.level > 1e-6:
        assert one.segment_level[0] == pytest.approx(uniform.level, abs=1e-6)
    assert one.total_safety_stock_value == pytest.approx(
        uniform.total_safety_stock_value, rel=1e-5, abs=1e-9
    )


SEGMENT_INPUTS = (np.array([0, 0, 1]), [5.0, 3.0, 2.0], [20.0, 10.0, 8.0], [8.0, 4.0, 5.0])


def test_a_segment_floor_above_its_ceiling_names_the_segment():
    with pytest.raises(StrataError, match=r"'B' \(floor 0.97 > ceiling 0.95\).*lower the floor"):
        optimise_per_segment(
            *SEGMENT_INPUTS, [1.0, 1.0, 1.0], 0.95,
            segment_floor=[0.9, 0.97], segment_ceiling=[0.99, 0.95], segment_names=["A", "B"],
        )  # fmt: skip


@pytest.mark.parametrize("target", [0.0, 1.0, 1.5, float("nan")])
def test_a_target_outside_zero_one_is_refused(target):
    expected = r"target (= \S+ is outside \(0, 1\): write it as a fraction|is missing \(NaN\))"
    with pytest.raises(StrataError, match=expected):
        optimise_per_product(W2, Q2, SD2, V2, target)


def test_an_infeasible_segment_target_says_the_maximum_and_which_ceilings_to_raise():
    with pytest.raises(StrataError) as caught:
        optimise_per_segment(
            *SEGMENT_INPUTS, [1.0, 1.0, 1.0], 0.99,
            segment_floor=0.5, segment_ceiling=[0.97, 0.995], segment_names=["A", "B"],
        )  # fmt: skip
    message = str(caught.value)
    assert "target aggregate fill rate 0.99 cannot be met" in message
    assert "the most reachable is 0.975000" in message  # (8 x 0.97 + 2 x 0.995) / 10
    assert "raise the ceilings of 'A' (ceiling 0.97" in message
    assert "'B'" not in message  # its ceiling is above the target already


def test_an_infeasible_per_product_target_says_the_maximum_and_the_rows_to_raise():
    with pytest.raises(StrataError, match=r"most reachable is 0.915714.*1 products whose ceiling "
                       r"is below 0.95 \(the heaviest by weight: rows 0\)"):  # fmt: skip
        optimise_per_product(W2, Q2, SD2, V2, 0.95, ceiling=[0.9, 0.955])


def test_non_positive_lot_sizes_and_values_with_uncertain_demand_are_listed():
    with pytest.raises(StrataError) as caught:
        optimise_per_product(
            [1.0] * 4, [10.0, 0.0, -2.0, 0.0], [1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0], 0.9
        )
    message = str(caught.value)
    assert "order_qty must be > 0 wherever ltd_sd > 0, but 2 of 4 products" in message
    assert "order_qty[1] = 0, order_qty[2] = -2" in message
    assert "unit_value" not in message  # row 3 has ltd_sd = 0: its lot size and value are moot


def test_segment_codes_outside_the_catalogue_are_refused():
    with pytest.raises(StrataError, match=r"integer in 0..1 .* 1 products are not \(rows 2\)"):
        optimise_per_segment(
            np.array([0, 1, 5]), *SEGMENT_INPUTS[1:], [1.0] * 3, 0.9,
            segment_floor=[0.5, 0.5], segment_ceiling=0.99,
        )  # fmt: skip


def test_binned_exchange_curves_of_a_large_catalogue_choose_the_exact_levels(monkeypatch):
    """Above 8,192 products a segment the curves come from bins of Q / sigma; the levels they
    choose cost what the exact curves' choice costs, to 1e-6."""
    import ml.policy.exchange_curves as curves

    rng = np.random.default_rng(11)
    n = 40_000
    w = rng.lognormal(2.0, 1.5, n)
    q = w * rng.uniform(2.0, 12.0, n)
    sd = q * rng.uniform(0.05, 2.0, n)
    v = rng.lognormal(2.5, 1.0, n)
    code = np.minimum((np.log(v * q / w) - 1.0).astype(int).clip(0), 3)
    bounds = {"segment_floor": 0.5, "segment_ceiling": 0.9999}
    binned = optimise_per_segment(code, w, q, sd, v, 0.96, **bounds)
    monkeypatch.setattr(curves, "_BINS", 10**9)  # every product its own point
    exact = optimise_per_segment(code, w, q, sd, v, 0.96, **bounds)
    assert 0.96 <= aggregate(binned.k, w, sd, q) <= 0.96 + 1e-6
    assert binned.total_safety_stock_value == pytest.approx(
        exact.total_safety_stock_value, rel=1e-6
    )


def test_a_product_floor_above_its_ceiling_lists_the_rows():
    with pytest.raises(StrataError, match=r"above the ceiling for 1 products \(row 1: floor "
                       r"0.99 > ceiling 0.95\); lower those floors"):  # fmt: skip
        optimise_per_product(W2, Q2, SD2, V2, 0.9, floor=[0.5, 0.99], ceiling=0.95)
