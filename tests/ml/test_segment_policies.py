"""Per-product policies from segments: recomputable rows, units, bad rows flagged, cost switch."""

import numpy as np
import pandas as pd
import pytest

from ml import columns as C
from ml.config import Catalogue
from ml.policy import (
    compound_poisson_parameters,
    cost_based_service_level,
    intermittent_reorder_point,
    inventory_policy,
    periodic_fill_rate,
)
from ml.policy_inputs import policy_inputs
from ml.segment_policies import segment_policies


def _policy(**kw):
    base = {
        "service_level": 0.95,
        "service_level_type": "csl",
        "review": "continuous",
        "order_quantity": {"rule": "eoq", "ordering_cost": 50, "holding_rate": 0.25},
        "lead_time_demand": "normal",
    }
    return {**base, **kw}


CATALOGUE = Catalogue.model_validate(
    {
        "segments": [
            {
                "name": "smooth",
                "description": "d",
                "priority": 1,
                "archetype": {"adi": {"le": 1.32}},
                "policy": _policy(service_level=0.98, service_level_type="fill_rate"),
            },
            {
                "name": "count",
                "description": "d",
                "priority": 2,
                "archetype": {"adi": {"gt": 1.32}},
                "policy": _policy(
                    service_level=0.9,
                    review="periodic",
                    review_period_days=14,
                    order_quantity={"rule": "lot_for_lot"},
                    lead_time_demand="poisson_gamma",
                ),
            },
            {
                "name": "own_history",
                "description": "d",
                "priority": 3,
                "archetype": {"cv2": {"gt": 5}},
                "policy": _policy(
                    review="periodic",
                    review_period_days=7,
                    order_quantity={"rule": "periods_of_supply", "periods": 2},
                    lead_time_demand="bootstrap",
                ),
            },
            {
                "name": "margin",
                "description": "d",
                "priority": 4,
                "archetype": {},
                "policy": _policy(
                    service_level=0.9,
                    review="periodic",
                    review_period_days=28,
                    order_quantity={"rule": "lot_for_lot"},
                    cost_based_service_level=True,
                ),
            },
        ]
    }
)


def frame(rows):
    base = {
        "mean_qty": 10.0,
        "std_qty": 3.0,
        "adi": 1.0,
        "cv2": 0.2,
        "lead_time_mean_days": 14.0,
        "lead_time_sd_days": 7.0,
        "unit_price": 10.0,
        "unit_cost": 6.0,
        "moq": np.nan,
        "pack_size": np.nan,
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def inputs(rows, bucket="week"):
    return policy_inputs(frame(rows), CATALOGUE, bucket=bucket, default_margin=0.35)


def test_times_are_converted_to_the_demands_periods():
    i = inputs([{"sku_id": "a", "segment": "count"}])
    assert i.loc[0, C.LEAD_TIME] == 2.0 and i.loc[0, C.LEAD_TIME_SD] == 1.0
    assert i.loc[0, C.REVIEW_PERIOD] == 2.0 and i.loc[0, C.REVIEW_FREQUENCY] == "every 2 weeks"
    m = inputs([{"sku_id": "a", "segment": "count"}], bucket="month")
    assert m.loc[0, C.LEAD_TIME] == pytest.approx(14 / (365.25 / 12))
    assert m.loc[0, C.PERIODS_PER_YEAR] == pytest.approx(12.0)


def test_unit_value_is_cost_else_price_less_default_margin():
    i = inputs(
        [
            {"sku_id": "a", "segment": "smooth"},
            {"sku_id": "b", "segment": "smooth", "unit_cost": np.nan},
        ]
    )
    assert i[C.UNIT_VALUE].tolist() == pytest.approx([6.0, 6.5])
    assert i[C.UNIT_VALUE_SOURCE].tolist() == ["unit_cost", "unit_price less default margin"]


def test_normal_rows_recompute_from_their_carried_inputs():
    """A planner feeds the row's own d, sigma_d, L, sigma_L, R, level, type and Q to the formula."""
    got = segment_policies(
        inputs(
            [
                {"sku_id": "a", "segment": "smooth", "mean_qty": 100.0, "std_qty": 30.0},
                {"sku_id": "b", "segment": "smooth", "mean_qty": 5.0, "std_qty": 4.0},
            ]
        )
    ).policies
    for row in got.to_dict("records"):
        again = inventory_policy(
            row[C.SERVICE_LEVEL],
            row[C.DEMAND_MEAN],
            row[C.DEMAND_SD],
            row[C.LEAD_TIME],
            row[C.LEAD_TIME_SD],
            row[C.REVIEW_PERIOD],
            service_type=row[C.SERVICE_LEVEL_TYPE],
            order_qty=row[C.ORDER_QTY],
        )
        assert row[C.SAFETY_STOCK] == pytest.approx(float(again.safety_stock))
        assert row[C.REORDER_POINT] == pytest.approx(float(again.reorder_point))
        assert row[C.EXPECTED_FILL_RATE] == pytest.approx(float(again.expected_fill_rate))
    # EOQ by hand: sqrt(2 x 50 x 100 x 52.18 / (0.25 x 6)) = 1,865.1 -> whole units 1,866
    assert got.loc[0, C.ORDER_QTY] == pytest.approx(
        np.ceil(np.sqrt(2 * 50 * 100 * 365.25 / 7 / (0.25 * 6))), abs=1
    )


def test_compound_poisson_rows_recompute_from_their_inputs():
    row = (
        segment_policies(
            inputs([{"sku_id": "a", "segment": "count", "adi": 3.0, "cv2": 0.3, "mean_qty": 2.0}])
        )
        .policies.iloc[0]
        .to_dict()
    )
    cp = compound_poisson_parameters(row[C.DEMAND_MEAN], row["adi"], row["cv2"])
    r = intermittent_reorder_point(
        row[C.SERVICE_LEVEL], *cp, row[C.LEAD_TIME], row[C.REVIEW_PERIOD], method="poisson_gamma"
    )
    assert row[C.REORDER_POINT] == pytest.approx(max(r, 0.0))
    assert row[C.POLICY] == "(R, S)" and row[C.ORDER_QTY] == pytest.approx(2.0 * 2)
    # a cycle-service (R, S) row plans the periodic review's fill rate of S = its reorder point
    fill = periodic_fill_rate(
        row[C.REORDER_POINT], *cp, row[C.LEAD_TIME], row[C.REVIEW_PERIOD], method="poisson_gamma"
    )
    assert row[C.EXPECTED_FILL_RATE] == pytest.approx(fill)
    assert 0.0 < fill < 1.0


def test_bad_rows_are_flagged_with_every_reason_and_never_carry_nan():
    rows = [
        {"sku_id": "ok", "segment": "smooth"},
        {"sku_id": "neg", "segment": "smooth", "mean_qty": -1.0},
        {"sku_id": "nan_sd", "segment": "smooth", "std_qty": np.nan},
        {"sku_id": "zero_lt", "segment": "smooth", "lead_time_mean_days": 0.0},
        {"sku_id": "ghost", "segment": "vanished"},
        {"sku_id": "no_adi", "segment": "count", "adi": np.nan},
        {"sku_id": "no_value", "segment": "smooth", "unit_cost": np.nan, "unit_price": np.nan},
    ]
    result = segment_policies(inputs(rows))
    assert result.policies["sku_id"].tolist() == ["ok"]
    numbers = result.policies[[C.SAFETY_STOCK, C.REORDER_POINT, C.ORDER_QTY]].to_numpy()
    assert np.isfinite(numbers).all()
    why = dict(zip(result.flagged["sku_id"], result.flagged["reason"], strict=True))
    assert why["neg"].startswith("demand_mean (snapshot mean_qty) = -1 is outside [0, inf)")
    assert "demand_sd (snapshot std_qty) is missing (NaN)" in why["nan_sd"]
    assert "lead_time (snapshot lead_time_mean_days) = 0 is outside (0, inf)" in why["zero_lt"]
    assert "segment 'vanished' has no policy in the catalogue" in why["ghost"]
    assert why["no_adi"] == "method poisson_gamma: adi is missing (NaN); allowed [1, inf)"
    assert "the eoq order rule needs a unit value" in why["no_value"]


def test_a_product_without_demand_gets_the_empty_policy():
    row = segment_policies(
        inputs([{"sku_id": "a", "segment": "count", "mean_qty": 0.0, "std_qty": 0.0}])
    ).policies.iloc[0]
    assert (row[C.SAFETY_STOCK], row[C.REORDER_POINT], row[C.ORDER_QTY]) == (0.0, 0.0, 0.0)
    assert row[C.NOTE].startswith("no demand in the window")


def test_cost_based_level_is_the_critical_ratio_capped_by_the_target():
    """Margin 0.1 against holding 4 x 0.25 x 4 / 52.18 = 0.0767 a unit for the 4 weeks to the
    next review: ratio 0.566, below the 0.9 target, so the policy plans with 0.566; a 4 margin
    gives 0.981 > 0.9: the target stays."""
    rows = [
        {"sku_id": "thin", "segment": "margin", "unit_price": 4.1, "unit_cost": 4.0},
        {"sku_id": "fat", "segment": "margin", "unit_price": 8.0, "unit_cost": 4.0},
    ]
    got = segment_policies(inputs(rows)).policies.set_index("sku_id")
    expected = cost_based_service_level([4.1, 8.0], 4.0, 0.25, 4.0, 0.9, 365.25 / 7)
    assert got.loc["thin", C.SERVICE_LEVEL] == pytest.approx(expected.service_level[0])
    assert got.loc["thin", C.SERVICE_LEVEL] == pytest.approx(
        0.1 / (0.1 + 4 * 0.25 * 4 / (365.25 / 7))
    )
    assert (
        bool(got.loc["thin", C.COST_BASED])
        and "below the segment's target" in got.loc["thin", C.NOTE]
    )
    assert got.loc["fat", C.SERVICE_LEVEL] == 0.9 and not got.loc["fat", C.COST_BASED]


def test_bootstrap_of_a_constant_history_is_that_constant_times_the_horizon():
    history = pd.DataFrame([[np.nan, 10.0, 10.0, 10.0]], index=pd.Index(["a"], name="sku_id"))
    row = segment_policies(
        inputs([{"sku_id": "a", "segment": "own_history", "lead_time_sd_days": 0.0, "cv2": 6.0}]),
        history,
        bootstrap_samples=200,
    ).policies.iloc[0]
    # L = 2 weeks + R = 1 week of 10 a week: every sample is 30
    assert row[C.LEAD_TIME_DEMAND_MEAN] == pytest.approx(30.0)
    assert row[C.REORDER_POINT] == pytest.approx(30.0)
    assert row[C.EXPECTED_FILL_RATE] == pytest.approx(1.0)


def test_service_bands_give_each_product_its_cycle_values_target():
    banded = {
        "segments": [
            {
                "name": "smooth",
                "description": "d",
                "priority": 1,
                "archetype": {},
                "policy": _policy(
                    service_level=0.9,
                    service_level_type="csl",
                    order_quantity={"rule": "periods_of_supply", "periods": 4},
                    service_bands=[
                        {"cycle_value_below": 30.0, "service_level": 0.99},
                        {"service_level": 0.8},
                    ],
                ),
            }
        ]
    }
    cat = Catalogue.model_validate(banded)
    # Q = 4 periods of demand: cycle value = unit cost x 4 -> 6 x 4 = 24 (cheap), 12 x 4 = 48
    rows = [
        {"sku_id": "cheap", "segment": "smooth"},
        {"sku_id": "dear", "segment": "smooth", "unit_cost": 12.0, "unit_price": 20.0},
    ]
    got = segment_policies(
        policy_inputs(frame(rows), cat, bucket="week", default_margin=0.35)
    ).policies.set_index(C.SKU_ID)
    assert got.loc["cheap", C.SERVICE_LEVEL] == pytest.approx(0.99)
    assert got.loc["dear", C.SERVICE_LEVEL] == pytest.approx(0.8)


def test_service_bands_must_rise_and_end_with_the_rest():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="the last none"):
        Catalogue.model_validate(
            {
                "segments": [
                    {
                        "name": "s",
                        "description": "d",
                        "priority": 1,
                        "policy": _policy(
                            service_bands=[{"cycle_value_below": 3.0, "service_level": 0.9}]
                        ),
                    }
                ]
            }
        )
