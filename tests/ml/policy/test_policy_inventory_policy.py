"""The batch entry point: strict and flag modes, NaN-free valid rows, reasons for bad rows."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.errors import StrataError
from ml.policy.fill_rate import fill_rate_safety_stock
from ml.policy.inventory_policy import inventory_policy
from ml.policy.safety_stock import cycle_service_safety_stock
from ml.policy.validation import validate_policy_inputs


def test_chopra_meindl_examples_12_4_and_12_5_through_the_batch_entry():
    """CSL 90% -> ss 906; fill rate 97.5% with Q = 10,000 -> ss 67 (6th ed., ch. 12)."""
    policy = inventory_policy(
        [0.90, 0.975], 2500.0, 500.0, 2.0, service_type=["csl", "fill_rate"], order_qty=10000.0
    )
    np.testing.assert_allclose(policy.safety_stock, [906.0, 67.0], atol=0.5)
    np.testing.assert_allclose(policy.reorder_point, [5906.0, 5067.0], atol=0.5)
    assert policy.expected_fill_rate[1] == pytest.approx(0.975, abs=1e-12)
    assert list(policy.reason) == ["", ""]


def test_flag_mode_reasons_and_nan_free_valid_rows():
    policy = inventory_policy(
        service_level=[0.95, 1.2, 0.95, 0.95, 0.9],
        demand_mean=[10.0, 10.0, math.nan, 10.0, 0.0],
        demand_sd=[3.0, 3.0, 3.0, -1.0, 0.0],
        lead_time=[2.0, 2.0, 2.0, 2.0, 2.0],
        service_type="fill_rate",
        order_rule="eoq",
        annual_demand=[520.0, 520.0, 520.0, 520.0, 0.0],
        order_cost=10.0,
        holding_cost=1.0,
        pack_size=6.0,
        errors="flag",
    )
    assert policy.reason[0] == "" and policy.reason[4] == ""
    assert policy.reason[1] == (
        "service_level = 1.2 is outside (0, 1): write it as a fraction, e.g. 0.95 for 95%"
    )
    assert policy.reason[2] == "demand_mean is missing (NaN); allowed [0, inf)"
    assert policy.reason[3] == "demand_sd = -1 is outside [0, inf): it cannot be negative"
    valid = policy.reason == ""
    for column, values in policy.as_columns().items():
        if values.dtype.kind == "f":
            assert np.isfinite(values[valid]).all(), column
            assert np.isnan(values[~valid]).all(), column
    # A product with no demand at all: no safety stock, nothing short, one pack if ever ordered.
    assert policy.safety_stock[4] == 0.0 and policy.expected_fill_rate[4] == 1.0
    assert policy.order_qty[4] == 6.0


def test_raise_mode_names_every_bad_value():
    with pytest.raises(StrataError) as err:
        inventory_policy([0.95, 1.2], [10.0, -2.0], 3.0, [2.0, 0.0], order_qty=50.0)
    message = str(err.value)
    assert "service_level[1] = 1.2" in message
    assert "demand_mean[1] = -2" in message
    assert "lead_time[1] = 0" in message


def test_zero_lot_with_uncertain_demand_is_flagged_not_nan():
    policy = inventory_policy(
        [0.95, 0.95],
        [10.0, 10.0],
        3.0,
        2.0,
        service_type="fill_rate",
        order_rule="eoq",
        annual_demand=520.0,
        order_cost=[0.0, 10.0],
        holding_cost=1.0,
        errors="flag",
    )
    assert policy.reason[0].startswith("order_qty = 0 with uncertain demand")
    assert policy.reason[1] == "" and np.isfinite(policy.safety_stock[1])
    with pytest.raises(StrataError, match="row 0: order_qty = 0 with uncertain demand"):
        inventory_policy(
            [0.95, 0.95],
            10.0,
            3.0,
            2.0,
            service_type="fill_rate",
            order_rule="eoq",
            annual_demand=520.0,
            order_cost=[0.0, 10.0],
            holding_cost=1.0,
        )


def test_eoq_inputs_only_matter_on_eoq_rows():
    policy = inventory_policy(
        0.95,
        [10.0, 10.0],
        3.0,
        2.0,
        order_rule=["lot_for_lot", "eoq"],
        annual_demand=[math.nan, 520.0],
        order_cost=[math.nan, 10.0],
        holding_cost=[math.nan, 1.0],
        errors="flag",
    )
    assert list(policy.reason) == ["", ""]
    assert policy.order_qty[0] == 10.0
    assert policy.order_qty[1] == pytest.approx(math.sqrt(2 * 10 * 520 / 1.0))


def test_capped_fill_rate_rows_are_marked():
    policy = inventory_policy(
        0.9, 10.0, 2.0, 1.0, service_type="fill_rate", order_qty=[5.0, 1000.0]
    )
    np.testing.assert_array_equal(policy.safety_factor_capped, [False, True])
    assert policy.safety_stock[1] == 0.0 and policy.expected_fill_rate[1] > 0.9


def test_unknown_service_type_and_missing_order_quantity():
    with pytest.raises(StrataError, match=r"service type 'p2' is not one of csl, fill_rate"):
        inventory_policy(0.9, 10.0, 2.0, 1.0, service_type="p2", order_qty=5.0)
    with pytest.raises(
        StrataError, match=r"needs an order quantity: pass order_qty, or order_rule"
    ):
        inventory_policy(0.9, 10.0, 2.0, 1.0)


row = st.tuples(
    st.sampled_from([0.9, 0.95, 0.99, 1.5, math.nan]),
    st.sampled_from([0.0, 12.0, 300.0, -1.0, math.nan]),
    st.sampled_from([0.0, 4.0, 90.0, -3.0]),
    st.sampled_from([0.5, 2.0, 0.0, -1.0]),
    st.sampled_from([0.0, 0.5]),
    st.sampled_from(["csl", "fill_rate"]),
)


@settings(deadline=None, max_examples=60)
@given(st.lists(row, min_size=1, max_size=30))
def test_flag_mode_equals_strict_formulas_on_the_valid_rows(rows):
    level, mean, sd, lead, lead_sd, kind = (list(c) for c in zip(*rows, strict=True))
    policy = inventory_policy(
        level, mean, sd, lead, lead_sd, service_type=kind, order_qty=40.0, errors="flag"
    )
    reasons = validate_policy_inputs(
        service_level=level, demand_mean=mean, demand_sd=sd, lead_time=lead, lead_time_sd=lead_sd
    )
    np.testing.assert_array_equal(policy.reason, reasons)
    for i in np.flatnonzero(reasons == ""):
        if kind[i] == "csl":
            expected = cycle_service_safety_stock(level[i], mean[i], sd[i], lead[i], lead_sd[i])
        else:
            expected = fill_rate_safety_stock(level[i], 40.0, mean[i], sd[i], lead[i], lead_sd[i])
        assert policy.safety_stock[i] == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert np.isfinite(policy.expected_fill_rate[i])
