"""`strata policy calc`: JSON numbers against hand computations, one clear error with exit 2."""

import json
import math

import pytest
from typer.testing import CliRunner

from strata.cli_policy import policy_app

runner = CliRunner()


def calc(*args: str):
    return runner.invoke(policy_app, ["calc", *args])


def calc_json(*args: str) -> dict:
    result = calc(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cycle_service_level_with_lead_time_variability_by_hand():
    """Chopra & Meindl's Dell example: sigma_L = sqrt(7 x 500² + 2,500² x 7²) = 17,549.93,
    z(0.90) = 1.281552, ss = 22,491.1, ROP = 7 x 2,500 + ss; no order quantity given."""
    out = calc_json(
        "--demand-mean",
        "2500",
        "--demand-sd",
        "500",
        "--lead-time",
        "7",
        "--lead-time-sd",
        "7",
        "--service-level",
        "0.9",
    )
    sigma = math.sqrt(7 * 500**2 + 2500**2 * 7**2)
    z = 1.2815515655446004
    assert out["lead_time_demand_sd"] == pytest.approx(sigma, rel=1e-12)
    assert out["z"] == pytest.approx(z, rel=1e-12)
    assert out["safety_stock"] == pytest.approx(z * sigma, rel=1e-12)
    assert out["reorder_point"] == pytest.approx(17500 + z * sigma, rel=1e-12)
    assert out["order_qty"] is None and out["expected_fill_rate"] is None


def test_fill_rate_with_given_order_quantity_by_hand():
    """Chopra & Meindl Example 12-5: fill rate 0.975, Q = 10,000, sigma_L = 707.1:
    L(k) = 10,000 x 0.025 / 707.1 = 0.35355 -> k = 0.0943, ss = 66.7, fill rate back to 0.975."""
    out = calc_json(
        "--demand-mean",
        "2500",
        "--demand-sd",
        "500",
        "--lead-time",
        "2",
        "--service-level",
        "0.975",
        "--service-type",
        "fill-rate",
        "--order-qty",
        "10000",
    )
    sigma = 500 * math.sqrt(2)
    k = out["k"]
    loss = math.exp(-k * k / 2) / math.sqrt(2 * math.pi) - k * 0.5 * math.erfc(k / math.sqrt(2))
    assert loss == pytest.approx(10000 * 0.025 / sigma, rel=1e-10)
    assert out["safety_stock"] == pytest.approx(66.7, abs=0.05)
    assert out["reorder_point"] == pytest.approx(5000 + k * sigma, rel=1e-12)
    assert out["order_qty"] == 10000
    assert out["expected_fill_rate"] == pytest.approx(0.975, abs=1e-12)


def test_eoq_with_pack_rounding_and_expected_fill_rate_by_hand():
    """EOQ sqrt(2 x 8 x 1300 / 0.225) = 304.05 -> 300 in packs of 50 (68.42 < 69.09 a year);
    CSL 0.95, weekly N(25, 5), L = 2: ss = 1.644854 x 5 sqrt(2) = 11.63;
    fill rate = 1 - sigma L(z) / Q with L(1.644854) = 0.020893."""
    out = calc_json(
        "--demand-mean",
        "25",
        "--demand-sd",
        "5",
        "--lead-time",
        "2",
        "--service-level",
        "0.95",
        "--annual-demand",
        "1300",
        "--order-cost",
        "8",
        "--holding-cost",
        "0.225",
        "--pack-size",
        "50",
    )
    sigma = 5 * math.sqrt(2)
    assert out["order_qty"] == 300 and out["order_qty_source"] == "eoq"
    assert out["safety_stock"] == pytest.approx(1.6448536269514722 * sigma, rel=1e-12)
    assert out["expected_fill_rate"] == pytest.approx(1 - sigma * 0.020893 / 300, abs=1e-6)


def test_periodic_review_defaults_to_demand_per_review_and_reports_order_up_to():
    out = calc_json(
        "--demand-mean",
        "100",
        "--demand-sd",
        "30",
        "--lead-time",
        "3",
        "--review-period",
        "1",
        "--service-level",
        "0.95",
        "--service-type",
        "fill-rate",
    )
    assert out["review"] == "periodic" and out["order_qty"] == 100
    assert out["lead_time_demand_sd"] == pytest.approx(60.0)  # 30 x sqrt(3 + 1)
    assert out["reorder_point"] == pytest.approx(400 + out["safety_stock"])


def test_table_output_is_readable():
    result = calc(
        "--demand-mean",
        "2500",
        "--demand-sd",
        "500",
        "--lead-time",
        "2",
        "--service-level",
        "0.9",
        "--order-qty",
        "10000",
    )
    assert result.exit_code == 0
    assert "safety_stock" in result.stdout and "906.1938" in result.stdout


def test_bad_input_is_one_message_and_exit_2():
    result = calc(
        "--demand-mean", "-25", "--demand-sd", "5", "--lead-time", "0", "--service-level", "95"
    )
    assert result.exit_code == 2
    assert "service_level = 95 is outside (0, 1)" in result.output
    assert "demand_mean = -25 is outside [0, inf)" in result.output
    assert "lead_time = 0 is outside (0, inf)" in result.output
    assert "Traceback" not in result.output


def test_fill_rate_without_order_quantity_says_what_to_pass():
    result = calc(
        "--demand-mean",
        "25",
        "--demand-sd",
        "5",
        "--lead-time",
        "2",
        "--service-level",
        "0.95",
        "--service-type",
        "fill-rate",
    )
    assert result.exit_code == 2
    assert "a fill-rate target needs an order quantity: pass --order-qty" in result.output


def test_half_the_eoq_inputs_is_an_error():
    result = calc(
        "--demand-mean",
        "25",
        "--demand-sd",
        "5",
        "--lead-time",
        "2",
        "--service-level",
        "0.95",
        "--annual-demand",
        "1300",
    )
    assert result.exit_code == 2
    assert "the EOQ needs --order-cost, --holding-cost as well as --annual-demand" in result.output
