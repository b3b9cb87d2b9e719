"""Service classes: one cycle-service level per group, checked against the per-product optimiser."""

import numpy as np
import pytest
from scipy.special import ndtr

from ml.errors import StrataError
from ml.policy.service_classes import band_edges, cycle_value, optimise_class_levels
from ml.policy.service_optimiser import optimise_per_product, uniform_cycle_service

RNG = np.random.default_rng(7)
N = 400
W = RNG.gamma(2.0, 5.0, N)
Q = W * RNG.uniform(2.0, 12.0, N)
SD = np.sqrt(W) * RNG.uniform(1.0, 4.0, N)
V = RNG.lognormal(1.0, 1.0, N)
OPEN = {"floor": np.full(N, 0.5), "ceiling": np.full(N, 0.9999)}


def test_one_group_per_product_is_the_per_product_optimum():
    mine = optimise_class_levels(np.arange(N), W, Q, SD, V, 0.97, **OPEN)
    theirs = optimise_per_product(W, Q, SD, V, 0.97)
    assert mine.aggregate_fill_rate == pytest.approx(0.97, abs=1e-6)
    assert mine.total_safety_stock_value == pytest.approx(theirs.total_safety_stock_value, rel=1e-4)


def test_one_group_for_all_is_the_uniform_cycle_service_level():
    one = optimise_class_levels(
        np.zeros(N, dtype=int), W, Q, SD, V, 0.97, floor=[0.5], ceiling=[0.9999]
    )
    uniform = uniform_cycle_service(W, Q, SD, V, 0.97)
    assert one.level[0] == pytest.approx(uniform.level, abs=1e-6)
    assert one.total_safety_stock_value == pytest.approx(uniform.total_safety_stock_value, rel=1e-6)


def test_groups_of_equal_cycle_value_lose_nothing_against_per_product():
    # products whose v Q / w is equal within a group want the same k: grouping is exact
    group = np.repeat(np.arange(4), N // 4)
    ratio = np.array([0.5, 2.0, 8.0, 30.0])[group]
    q = ratio * W / V
    grouped = optimise_class_levels(group, W, q, SD, V, 0.96, floor=[0.5] * 4, ceiling=[0.9999] * 4)
    limit = optimise_per_product(W, q, SD, V, 0.96)
    assert grouped.total_safety_stock_value == pytest.approx(
        limit.total_safety_stock_value, rel=1e-4
    )
    assert np.all(np.diff(grouped.level) < 0)  # dearer cycles get less service
    assert ndtr(grouped.k[0]) == pytest.approx(grouped.level[0])


def test_bounds_hold_and_bad_bounds_or_targets_are_refused_with_the_fix():
    plan = optimise_class_levels(
        np.zeros(N, dtype=int), W, Q, SD, V, 0.8, floor=[0.95], ceiling=[0.99]
    )
    assert plan.level[0] == pytest.approx(0.95) and plan.aggregate_fill_rate > 0.8
    with pytest.raises(
        StrataError, match=r"group 0: floor 0.99 is above ceiling 0.9 .*lower the floor"
    ):
        optimise_class_levels(np.zeros(N, dtype=int), W, Q, SD, V, 0.9, floor=[0.99], ceiling=[0.9])
    with pytest.raises(StrataError, match=r"out of reach: at every group's ceiling"):
        optimise_class_levels(
            np.zeros(N, dtype=int), W, Q, SD, V, 0.99999, floor=[0.5], ceiling=[0.6]
        )
    with pytest.raises(StrataError, match=r"must lie in \(0, 1\)"):
        optimise_class_levels(np.zeros(N, dtype=int), W, Q, SD, V, 1.2, floor=[0.5], ceiling=[0.9])


def test_cycle_value_and_band_edges():
    assert cycle_value(2.0, 30.0, 10.0) == pytest.approx(6.0)  # 2 x 3 periods of demand
    edges = band_edges(np.arange(1.0, 101.0), 4)
    np.testing.assert_allclose(edges, np.quantile(np.arange(1.0, 101.0), [0.25, 0.5, 0.75]))
    assert band_edges([1.0, np.nan], 4).size == 0  # too few products to band


def test_the_fast_aggregate_fill_equals_the_per_product_sum_with_clipped_products():
    from ml.policy.fill_rate import _expected_fill_rate
    from ml.policy.service_classes import _GroupFill

    rng = np.random.default_rng(11)
    code = rng.integers(0, 5, N)
    sd = SD * np.where(rng.random(N) < 0.3, 20.0, 1.0)  # a third short of everything at k ~ 0
    sd[:10] = 0.0  # certain demand: always filled
    k_group = rng.uniform(-0.5, 2.5, 5)
    direct = np.where(sd > 0, _expected_fill_rate(k_group[code], sd, Q), 1.0)
    expected = float(W @ direct / W.sum())
    assert _GroupFill(code, 5, W, Q, sd)(k_group) == pytest.approx(expected, rel=1e-12)
