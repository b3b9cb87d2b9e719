"""Order quantities: EOQ (published example, stockpyl), MOQ and pack rounding, rules per segment."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stockpyl.eoq import economic_order_quantity as stockpyl_eoq

from ml.errors import StrataError
from ml.policy.order_quantity import (
    economic_order_quantity,
    eoq_annual_cost,
    eoq_with_moq_and_pack,
    lot_for_lot_quantity,
    order_quantity,
    periods_of_supply_quantity,
    rounded_order_quantity,
)


def test_snyder_shen_example_3_1_eoq():
    """Snyder & Shen (2019) Example 3.1: K = 8, h = 0.225, lambda = 1300 -> Q* = 304.05,
    g* = 68.41 (stockpyl doctest: 304.0467800264368, 68.41052550594829)."""
    q = economic_order_quantity(1300.0, 8.0, 0.225)
    assert q == pytest.approx(304.0467800264368, rel=1e-14)
    assert eoq_annual_cost(q, 1300.0, 8.0, 0.225) == pytest.approx(68.41052550594829, rel=1e-14)


def test_eoq_matches_stockpyl_on_random_instances():
    rng = np.random.default_rng(2)
    demand, cost, holding = (
        rng.uniform(0, 1e5, 200),
        rng.uniform(0, 500, 200),
        rng.uniform(0.01, 50, 200),
    )
    ours = economic_order_quantity(demand, cost, holding)
    theirs = [stockpyl_eoq(k, h, d)[0] for d, k, h in zip(demand, cost, holding, strict=True)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    q = rng.uniform(1, 1000, 200)
    theirs_cost = [
        stockpyl_eoq(k, h, d, qq)[1] for d, k, h, qq in zip(demand, cost, holding, q, strict=True)
    ]
    np.testing.assert_allclose(eoq_annual_cost(q, demand, cost, holding), theirs_cost, rtol=1e-12)


def test_example_3_1_in_packs_of_50_and_under_an_moq():
    """EOQ 304 in packs of 50: cost(300) = 68.42 < cost(350) = 69.09 -> 300; MOQ 420 -> 450."""
    assert eoq_with_moq_and_pack(1300.0, 8.0, 0.225, pack_size=50.0) == 300.0
    assert eoq_with_moq_and_pack(1300.0, 8.0, 0.225, moq=420.0, pack_size=50.0) == 450.0
    assert eoq_with_moq_and_pack(1300.0, 8.0, 0.225, moq=420.0) == 420.0
    assert eoq_with_moq_and_pack(1300.0, 8.0, 0.225, pack_size=1000.0) == 1000.0  # one pack


@given(
    st.floats(min_value=0, max_value=1e6),
    st.floats(min_value=0.01, max_value=1e3),
    st.floats(min_value=0.01, max_value=100),
    st.floats(min_value=0, max_value=1e4),
    st.floats(min_value=0.5, max_value=500),
)
def test_pack_rounded_eoq_is_the_cheapest_feasible_multiple(demand, cost, holding, moq, pack):
    q = eoq_with_moq_and_pack(demand, cost, holding, moq=moq, pack_size=pack)
    packs = round(q / pack)
    assert q == pytest.approx(packs * pack) and packs >= 1 and q >= moq - 1e-9
    # Brute force over the feasible multiples around the answer.
    first = max(1, int(np.ceil(moq / pack - 1e-12)))
    candidates = np.arange(first, max(first, packs) + 50) * pack
    best = np.min(eoq_annual_cost(candidates, demand, cost, holding))
    assert eoq_annual_cost(q, demand, cost, holding) <= best * (1 + 1e-12) + 1e-12


def test_rounding_is_up_to_moq_then_whole_packs():
    np.testing.assert_array_equal(
        rounded_order_quantity([0.0, 7.2, 13.0], 5.0, 2.0), [6.0, 8.0, 14.0]
    )
    assert rounded_order_quantity(7.2) == 7.2


def test_periods_of_supply_and_lot_for_lot():
    assert periods_of_supply_quantity(25.0, 4.0) == 100.0
    assert lot_for_lot_quantity(25.0) == 25.0  # continuous review: one period's demand
    assert lot_for_lot_quantity(25.0, review_period=2.0) == 50.0  # (R, S): demand per review


def test_order_quantity_rule_per_segment():
    q = order_quantity(
        ["eoq", "periods_of_supply", "lot_for_lot"],
        [25.0, 25.0, 25.0],
        annual_demand=1300.0,
        order_cost=8.0,
        holding_cost=0.225,
        periods_of_supply=4.0,
        review_period=[0.0, 0.0, 2.0],
        moq=10.0,
        pack_size=12.0,
    )
    # EOQ 304 -> 300 (25 packs; 68.42 a year) not 312 (68.43); POQ 100 -> 108; L4L 50 -> 60.
    np.testing.assert_array_equal(q, [300.0, 108.0, 60.0])


def test_unknown_rule_and_missing_inputs_are_named():
    with pytest.raises(StrataError, match=r"rule 'weekly' is not one of eoq, periods_of_supply"):
        order_quantity("weekly", 10.0)
    with pytest.raises(StrataError, match=r"the eoq rule needs annual_demand, order_cost"):
        order_quantity("eoq", 10.0, holding_cost=1.0)
    with pytest.raises(StrataError, match=r"holding_cost = 0 is outside \(0, inf\)"):
        economic_order_quantity(100.0, 10.0, 0.0)
