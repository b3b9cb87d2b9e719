"""Cost-based service levels from the newsvendor critical ratio (low-volume, high-margin products).

A unit short costs its lost margin (price - cost); a unit too many costs its holding until the next
replenishment (unit cost x holding-cost rate x that time). The service level that balances them
is the critical ratio p / (p + h). For a product whose margin is small against its holding cost
this is below the segment's target: the target is then the cap, and the policy reports the lower
cost-based level where it applies.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

from ml.policy.normal import _result
from ml.policy.validation import check_policy_inputs

__all__ = [
    "CostBasedServiceLevel",
    "cost_based_service_level",
    "critical_ratio",
    "newsvendor_normal_base_stock",
]

Array = NDArray[np.float64]


class CostBasedServiceLevel(NamedTuple):
    """The service level to plan with, the critical ratio behind it, where it is below target."""

    service_level: Array | float
    critical_ratio: Array | float
    differs_from_target: NDArray[np.bool_] | bool


def critical_ratio(stockout_cost: ArrayLike, holding_cost: ArrayLike) -> Array | float:
    """alpha = p / (p + h): the newsvendor's optimal probability of not stocking out.

    p the cost of a unit short, h the cost of a unit left over, both per unit for the same period.
    Snyder & Shen (2019), ch. 4 (``S* = F⁻¹(p / (h + p))``, eq. (4.30) as cited by
    stockpyl.newsvendor); Nahmias & Olsen (2015), ch. 5 (critical ratio cu / (cu + co)).
    """
    a = check_policy_inputs(stockout_cost=stockout_cost, holding_cost=holding_cost)
    return _result(a["stockout_cost"] / (a["stockout_cost"] + a["holding_cost"]))


def newsvendor_normal_base_stock(
    holding_cost: ArrayLike, stockout_cost: ArrayLike, demand_mean: ArrayLike, demand_sd: ArrayLike
) -> Array | float:
    """S* = mu + z_alpha sigma with alpha = p / (p + h), for normal demand over the period.

    Snyder & Shen (2019), ch. 4 (newsvendor with normal demand, eq. (4.30); Example 4.3).
    """
    a = check_policy_inputs(
        holding_cost=holding_cost,
        stockout_cost=stockout_cost,
        demand_mean=demand_mean,
        demand_sd=demand_sd,
    )
    alpha = a["stockout_cost"] / (a["stockout_cost"] + a["holding_cost"])
    return _result(a["demand_mean"] + ndtri(alpha) * a["demand_sd"])


def cost_based_service_level(
    unit_price: ArrayLike,
    unit_cost: ArrayLike,
    holding_cost_rate: ArrayLike,
    cycle_periods: ArrayLike,
    target_service_level: ArrayLike,
    periods_per_year: ArrayLike = 52.0,
) -> CostBasedServiceLevel:
    """min(critical ratio, target), with p = price - cost and h = cost x rate x cycle / year.

    ``cycle_periods`` is how long a leftover unit waits for the next replenishment: the review
    period R for (R, S), Q / d for (s, Q), in the demand's periods; ``holding_cost_rate`` is per
    year. The lost margin is the stockout cost of a lost sale (Nahmias & Olsen 2015, ch. 5, lost
    sales: the penalty includes the lost profit); the critical ratio is Snyder & Shen (2019),
    ch. 4, eq. (4.30). Returns the service level to plan with, the critical ratio, and where the
    cost-based level is below (differs from) the segment's target. A product sold at or below
    cost has no margin to protect: that is a bad input here (unit_price must exceed unit_cost).
    """
    a = check_policy_inputs(
        unit_price=unit_price,
        unit_cost=unit_cost,
        holding_cost_rate=holding_cost_rate,
        cycle_periods=cycle_periods,
        target_service_level=target_service_level,
        periods_per_year=periods_per_year,
    )
    margin = check_policy_inputs(margin=a["unit_price"] - a["unit_cost"])["margin"]
    holding = a["unit_cost"] * a["holding_cost_rate"] * a["cycle_periods"] / a["periods_per_year"]
    ratio = margin / (margin + holding)
    below = ratio < a["target_service_level"]
    level = np.where(below, ratio, a["target_service_level"])
    return CostBasedServiceLevel(
        service_level=_result(level),
        critical_ratio=_result(ratio),
        differs_from_target=bool(below) if below.ndim == 0 else below,
    )
