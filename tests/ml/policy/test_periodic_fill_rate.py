"""The periodic review's fill rate, 1 - [n_{L+R}(S) - n_L(S)] / E[D_R], against independent numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ml.policy import intermittent_fill_rate, intermittent_policy, periodic_fill_rate
from ml.simulate import ReplenishmentPolicy, simulate_inventory


def _poisson_loss(mean: float, s: int) -> float:
    """E[(X - s)^+] for X ~ Poisson(mean), summed from scipy's pmf."""
    x = np.arange(s + 1, s + 400)
    return float(((x - s) * stats.poisson.pmf(x, mean)).sum())


@pytest.mark.parametrize(("rate", "lead", "review", "s"), [(2.0, 2.0, 1.0, 10), (0.4, 3.0, 4.0, 3)])
def test_unit_sized_demand_is_the_poisson_textbook_formula(rate, lead, review, s):
    """Sizes of exactly one unit make demand Poisson: ESPRC from scipy's pmf by hand."""
    short = _poisson_loss(rate * (lead + review), s) - _poisson_loss(rate * lead, s)
    want = 1.0 - short / (rate * review)
    got = periodic_fill_rate(float(s), rate, 1.0, 0.0, lead, review)
    assert got == pytest.approx(want, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.02, 3.0),
    size=st.floats(1.0, 80.0),
    cv=st.floats(0.05, 2.0),
    lead=st.floats(0.5, 8.0),
    review=st.floats(0.5, 8.0),
    s=st.floats(0.0, 300.0),
    more=st.floats(0.0, 100.0),
)
def test_a_share_that_grows_with_the_order_up_to_level(rate, size, cv, lead, review, s, more):
    low = periodic_fill_rate(s, rate, size, cv * size, lead, review)
    high = periodic_fill_rate(s + more, rate, size, cv * size, lead, review)
    assert 0.0 <= low <= high + 1e-9 <= 1.0 + 1e-9


def test_nothing_on_the_shelf_serves_nothing():
    assert periodic_fill_rate(0.0, 1 / 52, 98.0, 10.0, 3.0, 4.0) == 0.0


def test_no_review_period_or_no_demand_is_a_full_fill():
    got = periodic_fill_rate(np.array([0.0, 5.0]), np.array([1.0, 0.0]), 4.0, 1.0, 2.0, [0.0, 4.0])
    assert got.tolist() == [1.0, 1.0]


def _replayed_fill(rate, size, sd, lead, review, s, seed=1) -> float:
    """The fill rate (R, S) achieves in the project's replay on demand drawn from the model
    itself (lost sales), 4,000 products x 52 weeks after 13 of warm-up."""
    n, weeks, warm = 4_000, 52, 13
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate, (n, weeks + warm))
    shape = (size / sd) ** 2
    demand = np.where(counts > 0, rng.gamma(np.maximum(counts * shape, 1e-300), size / shape), 0.0)
    policy = ReplenishmentPolicy.of(
        np.full(n, s), np.zeros(n), np.full(n, review), np.ones(n, bool), np.full(n, lead)
    )
    out = simulate_inventory(demand[:, warm:], policy, warmup=demand[:, :warm], steps_per_period=7)
    return float(out.sales.sum() / out.demand.sum())


@pytest.mark.parametrize("s", [8.0, 60.0])
def test_lumpy_demand_gets_the_fill_rate_a_replay_of_its_own_model_gives(s):
    """One order of ~50 units every 26 weeks, L = 3, R = 4: an order-up-to level of 8 serves
    about 13% of the units, as the replay finds; the (r, Q) formula promised 76%."""
    rate, size, sd, lead, review = 1 / 26, 50.0, 15.0, 3.0, 4.0
    replayed = _replayed_fill(rate, size, sd, lead, review, s)
    planned = periodic_fill_rate(s, rate, size, sd, lead, review)
    assert planned == pytest.approx(replayed, abs=0.02)
    if s == 8.0:
        q = rate * size * review  # one review's mean demand, r = S - Q
        old = intermittent_fill_rate(s - q, q, rate, size, sd, lead, review)
        assert old - replayed > 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_the_policy_pass_gives_the_periodic_rate_of_its_own_reorder_point(seed):
    """intermittent_policy's in-kernel periodic rate (S = r, r + Q, r + other) is exactly what
    periodic_fill_rate gives at S = max(r, 0) + offset; rows without an offset keep (r, Q)'s,
    and rows outside the compiled pass (fixed sizes, no review, no demand) agree too."""
    rng = np.random.default_rng(seed)
    n = 400
    rate = rng.uniform(0.05, 2.0, n)
    size = rng.uniform(1.0, 60.0, n)
    sd = size * rng.uniform(0.1, 1.5, n)
    sd[::17] = 0.0  # fixed sizes: the numpy path
    lead = rng.uniform(0.5, 6.0, n)
    review = rng.choice([0.0, 1.0, 4.0], n)
    rate[::23] = 0.0  # no demand
    level = rng.uniform(0.5, 0.995, n)
    q = rng.uniform(1.0, 200.0, n)
    fill = rng.random(n) < 0.3
    kind = rng.integers(0, 4, n)  # NaN, 0, Q, another offset
    offset = np.select([kind == 1, kind == 2, kind == 3], [0.0, q, 0.5 * q], np.nan)
    args = (rate, size, sd, lead, review)
    r, got = intermittent_policy(level, q, fill, *args, order_up_to_offset=offset)
    r_plain, rq = intermittent_policy(level, q, fill, *args)
    np.testing.assert_array_equal(r, r_plain)
    periodic = np.isfinite(offset)
    want = np.asarray(
        periodic_fill_rate(r[periodic] + offset[periodic], *(v[periodic] for v in args))
    )
    np.testing.assert_array_equal(got[periodic], want)
    np.testing.assert_array_equal(got[~periodic], rq[~periodic])
    assert (want < 1.0).any() and (want == 1.0).any()  # both kinds of rows were exercised
