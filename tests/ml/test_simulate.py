"""The replay kernel: hand-computed deterministic cases, never-out, formulas, common random numbers."""

import numba
import numpy as np
import pytest
from scipy.special import ndtri

from ml.errors import StrataError
from ml.simulate import ReplenishmentPolicy, lead_time_quantile, simulate_inventory
from ml.simulate_kernel import Pipeline, Runs


def steady(n_warm: int = 20, n: int = 20, d: float = 10.0, rows: int = 1):
    return np.full((rows, n), d), np.full((rows, n_warm), d)


def test_deterministic_s_q_by_hand():
    """d = 10 a period, Q = 40, L = 2 periods, no lead-time variance, one step per period.

    s = 20 = d L (no safety stock): the order placed when the position reaches 20 lands as the
    last unit is sold, so period-end stock cycles 30, 20, 10, 0: mean 15, fill rate 1.
    s = 30 (10 units of safety stock): 40, 30, 20, 10: mean 25, fill rate 1.
    s = 10: the stock runs out one period before each receipt; a cycle of 5 periods demands 50,
    sells 40: fill rate 0.8, every cycle has a stockout, period-end stock 30, 20, 10, 0, 0: 12."""
    window, warm = steady(rows=3)
    policy = ReplenishmentPolicy.of([20, 30, 10], 40, 0, False, 2.0)
    r = simulate_inventory(window, policy, warmup=warm)
    assert r.fill_rate == pytest.approx([1.0, 1.0, 0.8])
    assert r.avg_on_hand == pytest.approx([15.0, 25.0, 12.0])
    assert r.cycle_service_level == pytest.approx([1.0, 1.0, 0.0])
    assert r.stockout_periods.tolist() == [0, 0, 4]  # 20 periods / 5 per cycle
    assert r.longest_stockout.tolist() == [0, 0, 1]
    assert r.lost == pytest.approx([0.0, 0.0, 40.0])


def test_deterministic_order_up_to_by_hand():
    """(R, S) with R = 2, L = 1, S = d (L + R) = 30: at each review 10 are on hand and 20 are
    ordered, landing two periods later; period-end stock alternates 10, 0: mean 5, one receipt
    (a cycle) every two periods, fill rate 1."""
    window, warm = steady(n_warm=8)
    policy = ReplenishmentPolicy.of([30], 0, 2, True, 1.0)
    r = simulate_inventory(window, policy, warmup=warm)
    assert r.fill_rate == pytest.approx([1.0])
    assert r.avg_on_hand == pytest.approx([5.0])
    assert r.cycles.tolist() == [10] and r.orders.tolist() == [10]


def test_order_up_to_rounds_to_moq_and_packs():
    """S = 30, R = 2, L = 1, d = 10; start with 30 on hand. The first review (end of period 1)
    finds 10 and needs 20: raised to the MOQ 25, rounded up to packs of 12: 36, landing at the
    start of period 3. Period 2 ends empty, period 3 ends with 36 - 10 = 26."""
    window, warm = steady(n=2, n_warm=2)
    policy = ReplenishmentPolicy.of([30], 0, 2, True, 1.0, moq=[25.0], pack_size=[12.0])
    r = simulate_inventory(window, policy, warmup=warm, record=True)
    assert r.period_on_hand[0].tolist() == pytest.approx([0.0, 26.0])
    assert r.period_sales[0].tolist() == pytest.approx([10.0, 10.0])


def test_an_order_quantity_larger_than_all_demand_never_stocks_out():
    rng = np.random.default_rng(3)
    demand = rng.poisson(20, size=(50, 40)).astype(float)
    policy = ReplenishmentPolicy.of(np.zeros(50), demand.sum(axis=1) + 1.0, 0, False, 3.0, 1.0)
    r = simulate_inventory(demand, policy, steps_per_period=7)
    assert (r.fill_rate == 1.0).all()
    assert (r.stockout_periods == 0).all() and (r.orders == 0).all()


def test_daily_steps_with_a_day_of_safety_stock_never_stock_out():
    """With 7 steps a week the position is checked daily: a day's demand of safety stock covers
    the undershoot, so deterministic demand is always met."""
    window, warm = steady()
    policy = ReplenishmentPolicy.of([20 + 10 / 7 + 1e-6], 40, 0, False, 2.0)
    r = simulate_inventory(window, policy, warmup=warm, steps_per_period=7)
    assert r.fill_rate == pytest.approx([1.0])


def test_order_up_to_cycle_service_matches_the_normal_formula():
    """(R, S) with R = 1, L = 2 and S = 3 d + z sd sqrt(3): the share of periods without a
    stockout is Phi(z) = 0.95 under backorders; lost sales only raise it slightly."""
    rng = np.random.default_rng(7)
    d, sd = 100.0, 20.0
    demand = np.maximum(rng.normal(d, sd, size=(500, 220)), 0.0)
    s = 3 * d + float(ndtri(0.95)) * sd * np.sqrt(3)
    policy = ReplenishmentPolicy.of(np.full(500, s), 0, 1, True, 2.0)
    r = simulate_inventory(demand[:, 20:], policy, warmup=demand[:, :20])
    achieved = 1 - r.stockout_periods.sum() / (500 * 200)
    assert 0.945 <= achieved <= 0.965


def test_same_seed_same_dice_for_every_policy():
    """Common random numbers: a product replays the same whatever its neighbours' policies."""
    rng = np.random.default_rng(1)
    demand = np.repeat(rng.poisson(5, size=(1, 30)).astype(float), 2, axis=0)
    one = ReplenishmentPolicy.of([12, 12], [20, 20], 0, False, 2.0, 1.0)
    two = ReplenishmentPolicy.of([12, 40], [20, 60], 0, False, 2.0, 1.0)
    a = simulate_inventory(demand, one, seed=5, steps_per_period=7)
    b = simulate_inventory(demand, two, seed=5, steps_per_period=7)
    assert a.avg_on_hand[0] == b.avg_on_hand[0] and a.sales[0] == b.sales[0]
    assert a.orders[1] != b.orders[1]  # the neighbour did change


def test_lead_time_draws_have_the_products_mean_and_sd():
    u = (np.arange(200_000) + 0.5) / 200_000
    for dist in ("gamma", "lognormal"):
        draws = lead_time_quantile(u, np.full(u.size, 3.0), np.full(u.size, 1.0), dist)
        assert draws.mean() == pytest.approx(3.0, rel=2e-3)
        assert draws.std() == pytest.approx(1.0, rel=2e-2)
    fixed = lead_time_quantile(u[:5], np.full(5, 3.0), np.zeros(5))
    assert (fixed == 3.0).all()


def test_group_series_add_up_to_the_product_totals():
    rng = np.random.default_rng(2)
    demand = rng.poisson(8, size=(6, 12)).astype(float)
    policy = ReplenishmentPolicy.of(np.full(6, 20.0), 30.0, 0, False, 1.5, 0.5)
    r = simulate_inventory(
        demand, policy, groups=[0, 0, 1, 1, 1, 2], unit_value=np.full(6, 2.0), steps_per_period=7
    )
    assert r.groups.demand.sum() == pytest.approx(demand.sum())
    assert r.groups.sales.sum() == pytest.approx(r.sales.sum())
    assert r.groups.on_hand_value.sum() / 12 == pytest.approx(2.0 * r.avg_on_hand.sum())


def test_bad_policies_and_demand_are_refused_with_what_to_fix():
    with pytest.raises(StrataError, match=r"lead_time has 1 bad value\(s\), e.g. \[1\]"):
        ReplenishmentPolicy.of([1, 1], [1, 1], 0, False, [1.0, 0.0])
    policy = ReplenishmentPolicy.of([1], [1], 0, False, 1.0)
    with pytest.raises(StrataError, match="finite and non-negative"):
        simulate_inventory(np.array([[1.0, -2.0]]), policy)
    with pytest.raises(StrataError, match="1 rows"):
        simulate_inventory(np.ones((2, 3)), policy)


def test_sets_stacked_as_rows_replay_exactly_as_each_set_alone():
    """demand_rows: two policy sets on the same 3 products in one call, figures bit for bit."""
    rng = np.random.default_rng(4)
    demand = rng.poisson(6, size=(3, 30)).astype(float)
    warm = rng.poisson(6, size=(3, 8)).astype(float)
    sets = [
        ReplenishmentPolicy.of(
            [15, 25, 8], [30, 20, 12], [0, 2, 0], [False, True, False], 2.0, 0.7
        ),
        ReplenishmentPolicy.of(
            [30, 40, 4], [10, 20, 12], [0, 2, 0], [False, True, False], 2.0, 0.7
        ),
    ]
    alone = [simulate_inventory(demand, p, warmup=warm, seed=9, steps_per_period=7) for p in sets]
    stacked = ReplenishmentPolicy.of(
        *(np.concatenate([getattr(p, f) for p in sets]) for f in ("reorder_point", "order_qty")),
        np.concatenate([p.review_period for p in sets]),
        np.concatenate([p.order_up_to for p in sets]),
        2.0,
        0.7,
    )
    both = simulate_inventory(
        demand, stacked, warmup=warm, seed=9, steps_per_period=7, demand_rows=[0, 1, 2] * 2
    )
    for i, one in enumerate(alone):
        rows = slice(3 * i, 3 * i + 3)
        for field in ("sales", "avg_on_hand", "orders", "cycles", "stockout_periods"):
            assert np.array_equal(getattr(both, field)[rows], getattr(one, field)), field
    with pytest.raises(StrataError, match="demand_rows name row 3"):
        simulate_inventory(demand, sets[0], demand_rows=[0, 1, 3])


def mixed_replay(stacked: bool, kept: bool = True) -> tuple[np.ndarray, ReplenishmentPolicy, dict]:
    """Demand, policies and replay settings of every kind: continuous and periodic review,
    (s, nQ) and (R, S) with MOQ, packs and a NaN MOQ, orders that cross, and (``stacked``)
    three sets stacked on each product's random stream; ``kept``: with records and group
    series (the compiled steps then replay one period per call, else several)."""
    rng = np.random.default_rng(7)
    n_products, sets = 300, 3 if stacked else 1
    n = n_products * sets
    rates = rng.uniform(0.2, 8.0, (n_products, 1))
    demand = rng.poisson(rates, (n_products, 40)).astype(float)
    moq = np.where(rng.random(n) < 0.1, np.nan, rng.choice([0.0, 5.0, 12.0], n))
    lead = np.tile(rng.uniform(0.3, 4.0, n_products), sets)
    policy = ReplenishmentPolicy.of(
        rng.uniform(0.0, 30.0, n),
        rng.choice([0.0, 3.0, 10.5], n),
        rng.choice([0.0, 1.0, 2.0, 0.5], n),
        rng.random(n) < 0.5,
        lead,
        np.where(rng.random(n) < 0.3, 0.0, lead * rng.uniform(0.05, 1.5, n)),
        moq=moq,
        pack_size=rng.choice([1.0, 6.0, 2.5], n),
    )
    kwargs = dict(
        warmup=demand[:, :8],
        steps_per_period=7,
        seed=11,
        groups=np.arange(n) % 4 if kept else None,
        record=kept,
        demand_rows=np.tile(np.arange(n_products), sets) if stacked else None,
    )
    return demand, policy, kwargs


RESULT_FIELDS = (
    "demand",
    "sales",
    "lost",
    "avg_on_hand",
    "stockout_periods",
    "longest_stockout",
    "cycles",
    "cycles_with_stockout",
    "orders",
    "period_sales",
    "period_on_hand",
    "period_short",
)


@pytest.mark.parametrize("kept", [True, False])
@pytest.mark.parametrize("stacked", [False, True])
def test_compiled_steps_are_the_numpy_steps_bit_for_bit(monkeypatch, stacked, kept):
    """Gamma lead times replay in ml.simulate_kernel; forcing the numpy steps for the same inputs
    (every kind of policy, see mixed_replay) gives the same numbers, one period per call (with
    records) or several (without)."""
    demand, policy, kwargs = mixed_replay(stacked, kept)
    n = policy.n
    compiled = simulate_inventory(demand[:, 8:], policy, **kwargs)
    monkeypatch.setattr("ml.simulate._COMPILED", ())
    steps = simulate_inventory(demand[:, 8:], policy, **kwargs)
    for name in RESULT_FIELDS if kept else RESULT_FIELDS[:-3]:
        np.testing.assert_array_equal(getattr(compiled, name), getattr(steps, name), err_msg=name)
    if kept:
        for name in ("demand", "sales", "on_hand_value", "products_short"):
            np.testing.assert_array_equal(
                getattr(compiled.groups, name), getattr(steps.groups, name)
            )
    assert compiled.orders.sum() > n and (compiled.cycles_with_stockout > 0).any()


@pytest.mark.parametrize("periods", [1, 3, 7, 40])
def test_periods_per_call_do_not_change_the_figures(monkeypatch, periods):
    """The compiled steps replay several periods per call (a row's state in registers): 1, 3,
    7 or all 40 periods at a time (the warm-up's end inside a call, a short last call) give the
    figures of the default."""
    demand, policy, kwargs = mixed_replay(True, kept=False)
    default = simulate_inventory(demand[:, 8:], policy, **kwargs)
    monkeypatch.setattr("ml.simulate.PERIODS_PER_CALL", periods)
    other = simulate_inventory(demand[:, 8:], policy, **kwargs)
    for name in RESULT_FIELDS[:-3]:
        np.testing.assert_array_equal(getattr(other, name), getattr(default, name), err_msg=name)


@pytest.mark.parametrize("kept", [True, False])
@pytest.mark.parametrize("stacked", [False, True])
def test_parallel_runs_are_the_serial_replay_bit_for_bit(monkeypatch, stacked, kept):
    """The compiled steps cut the rows into runs of whole streams replayed on numba's threads:
    one run on one thread and 24 runs per thread (most with a few products) give the same
    numbers, whatever thread each run lands on, and so do two repeats of the parallel one."""
    demand, policy, kwargs = mixed_replay(stacked, kept)
    threads = numba.get_num_threads()
    monkeypatch.setattr("ml.simulate_kernel.RUNS_PER_THREAD", 1)
    numba.set_num_threads(1)
    try:
        serial = simulate_inventory(demand[:, 8:], policy, **kwargs)
    finally:
        numba.set_num_threads(threads)
    monkeypatch.setattr("ml.simulate_kernel.RUNS_PER_THREAD", 24)
    for _ in range(2):
        parallel = simulate_inventory(demand[:, 8:], policy, **kwargs)
        for name in RESULT_FIELDS if kept else RESULT_FIELDS[:-3]:
            np.testing.assert_array_equal(
                getattr(parallel, name), getattr(serial, name), err_msg=name
            )


def test_runs_hold_whole_streams_and_the_pipeline_grows_per_run():
    """Runs: consecutive streams, every row once, ascending within a run; growing the order
    arrays keeps every run's orders in its own row."""
    streams = np.array([3, 0, 2, 3, 1, 0, 2, 1])
    runs = Runs.of(streams, 4, 2)
    assert runs.start.tolist() == [0, 4, 8]
    assert runs.rows.tolist() == [1, 4, 5, 7, 0, 2, 3, 6]  # streams 0-1, then 2-3
    pipe = Pipeline.empty(8, 2, 3)
    pipe.qty[:, :3] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    pipe.used[:] = [3, 1]
    pipe.room(np.array([2, 2]))
    assert pipe.qty.shape == (2, 6)
    assert pipe.qty[:, :3].tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
