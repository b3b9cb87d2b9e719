"""The what-if calculator behind `strata policy calc`: one product's policy as a JSON-ready dict."""

from __future__ import annotations

from typing import Any

from ml.errors import StrataError
from ml.policy.inventory_policy import inventory_policy
from ml.policy.normal import cycle_service_level, safety_factor
from ml.policy.order_quantity import (
    eoq_with_moq_and_pack,
    lot_for_lot_quantity,
    rounded_order_quantity,
)
from ml.policy.safety_stock import (
    _reorder_point,
    cycle_service_safety_stock,
    lead_time_demand_mean,
    lead_time_demand_sd,
)
from ml.policy.validation import check_policy_inputs

__all__ = ["FILL_RATE", "policy_calculation"]

FILL_RATE = "fill-rate"  # the calculator's name of a fill-rate target (else a cycle service level)


def _chosen_order_quantity(
    order_qty: float | None,
    annual_demand: float | None,
    order_cost: float | None,
    holding_cost: float | None,
    demand_mean: float,
    review_period: float,
    moq: float,
    pack_size: float | None,
) -> tuple[float | None, str | None]:
    """The lot size and where it came from: given, the EOQ, d x R, or none (continuous, no Q)."""
    eoq_inputs = {
        "--annual-demand": annual_demand,
        "--order-cost": order_cost,
        "--holding-cost": holding_cost,
    }
    given = [name for name, value in eoq_inputs.items() if value is not None]
    if order_qty is not None and given:
        raise StrataError(
            f"give either --order-qty or the EOQ inputs ({', '.join(given)}), not both"
        )
    if given and len(given) < len(eoq_inputs):
        missing = [name for name in eoq_inputs if name not in given]
        raise StrataError(f"the EOQ needs {', '.join(missing)} as well as {', '.join(given)}")
    if order_qty is not None:
        return rounded_order_quantity(order_qty, moq, pack_size), "given"
    if given:
        return eoq_with_moq_and_pack(annual_demand, order_cost, holding_cost, moq, pack_size), "eoq"
    if review_period > 0:
        need = lot_for_lot_quantity(demand_mean, review_period)
        return rounded_order_quantity(need, moq, pack_size), "demand per review period"
    return None, None


def _figures(
    qty: float | None, fill_rate: bool, k_min: float, **normal: float
) -> tuple[float, float, float, float, float | None, bool]:
    """sigma, safety stock, safety factor, mean, expected fill rate and whether k was capped."""
    args = (
        normal["demand_mean"],
        normal["demand_sd"],
        normal["lead_time"],
        normal["lead_time_sd"],
        normal["review_period"],
    )
    level = normal["service_level"]
    if qty is None:  # cycle service level without a lot size: no fill rate to report
        sigma = float(lead_time_demand_sd(*args))
        safety = float(cycle_service_safety_stock(level, *args))
        mean = float(lead_time_demand_mean(args[0], args[2], args[4]))
        return sigma, safety, float(safety_factor(level)), mean, None, False
    p = inventory_policy(
        level,
        *args,
        service_type="fill_rate" if fill_rate else "csl",
        order_qty=qty,
        k_min=k_min,
    )
    return (
        float(p.lead_time_demand_sd),
        float(p.safety_stock),
        float(p.safety_factor),
        float(p.lead_time_demand_mean),
        float(p.expected_fill_rate),
        bool(p.safety_factor_capped),
    )


def policy_calculation(
    *,
    demand_mean: float,
    demand_sd: float,
    lead_time: float,
    lead_time_sd: float,
    review_period: float,
    service_level: float,
    service_type: str,
    order_qty: float | None,
    annual_demand: float | None,
    order_cost: float | None,
    holding_cost: float | None,
    moq: float,
    pack_size: float | None,
    k_min: float,
) -> dict[str, Any]:
    """The calculator's result as a plain dict (JSON-ready); raises StrataError on bad input."""
    normal = {
        "service_level": service_level,
        "demand_mean": demand_mean,
        "demand_sd": demand_sd,
        "lead_time": lead_time,
        "lead_time_sd": lead_time_sd,
        "review_period": review_period,
    }
    # Every bad value in one message, before anything is computed.
    check_policy_inputs(
        **normal,
        order_qty=order_qty,
        annual_demand=annual_demand,
        order_cost=order_cost,
        holding_cost=holding_cost,
        moq=moq,
        pack_size=pack_size,
        k_min=k_min,
    )
    qty, source = _chosen_order_quantity(
        order_qty,
        annual_demand,
        order_cost,
        holding_cost,
        demand_mean,
        review_period,
        moq,
        pack_size,
    )
    fill_rate = service_type == FILL_RATE
    if fill_rate and qty is None:
        raise StrataError(
            "a fill-rate target needs an order quantity: pass --order-qty, or --annual-demand, "
            "--order-cost and --holding-cost for the EOQ, or a --review-period"
        )
    sigma, safety, factor, mean, rate, capped = _figures(qty, fill_rate, k_min, **normal)
    return {
        "service_type": service_type,
        "service_level": service_level,
        "review": "periodic" if review_period > 0 else "continuous",
        "review_period": review_period,
        "lead_time_demand_mean": mean,
        "lead_time_demand_sd": sigma,
        "k" if fill_rate else "z": factor,
        "cycle_service_level": float(cycle_service_level(factor)),
        "safety_stock": safety,
        "reorder_point": float(_reorder_point(mean, safety)),
        "order_qty": None if qty is None else float(qty),
        "order_qty_source": source,
        "expected_fill_rate": rate,
        "safety_factor_capped": capped,
    }
