"""Safety stock for a cycle service level, and the reorder point / order-up-to level it sets.

All times (lead time, its standard deviation, review period) are in the periods of the demand
statistics: weekly demand mean and sd go with lead times in weeks. Demand over the protection
interval L + R is treated as normal (Silver, Pyke & Thomas 2017, ch. 6); for intermittent and
lumpy demand use :mod:`ml.policy.intermittent` instead.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

from ml.policy.normal import _result
from ml.policy.validation import POSITIVE_REVIEW_PERIOD, check_policy_inputs

__all__ = [
    "cycle_service_safety_stock",
    "lead_time_demand_mean",
    "lead_time_demand_sd",
    "order_up_to_level",
    "reorder_point",
]

Array = NDArray[np.float64]


# The array kernels below are the one home of each formula: the public functions here, the batch
# policy (:mod:`ml.policy.inventory_policy`) and the per-segment job all call them.


def _lead_time_demand_mean(demand_mean, lead_time, review_period) -> Array:
    return demand_mean * (lead_time + review_period)


def _lead_time_demand_sd(demand_mean, demand_sd, lead_time, lead_time_sd, review_period) -> Array:
    protection = lead_time + review_period
    return np.sqrt(protection * demand_sd**2 + demand_mean**2 * lead_time_sd**2)


def _safety_stock(safety_factor, lead_time_demand_sd) -> Array:
    return safety_factor * lead_time_demand_sd


def _reorder_point(lead_time_demand_mean, safety_stock) -> Array:
    return lead_time_demand_mean + safety_stock


def _implied_by_reorder_point(reorder_point, mean, sd) -> tuple[Array, Array]:
    """Safety stock r - mean and safety factor (r - mean) / sd of a reorder point set otherwise."""
    safety = reorder_point - mean
    return safety, np.where(sd > 0, safety / np.where(sd > 0, sd, 1.0), 0.0)


def lead_time_demand_mean(
    demand_mean: ArrayLike, lead_time: ArrayLike, review_period: ArrayLike = 0.0
) -> Array | float:
    """Expected demand over the protection interval: d (L + R).

    Silver, Pyke & Thomas (2017), ch. 6 (``x̂_L`` for (s, Q), ``x̂_{R+L}`` for (R, S)).
    ``review_period`` R is 0 for continuous review.
    """
    a = check_policy_inputs(
        demand_mean=demand_mean, lead_time=lead_time, review_period=review_period
    )
    return _result(_lead_time_demand_mean(a["demand_mean"], a["lead_time"], a["review_period"]))


def lead_time_demand_sd(
    demand_mean: ArrayLike,
    demand_sd: ArrayLike,
    lead_time: ArrayLike,
    lead_time_sd: ArrayLike = 0.0,
    review_period: ArrayLike = 0.0,
) -> Array | float:
    """sigma_LTD = sqrt((L + R) sigma_d² + d² sigma_L²), demand and lead-time variability combined.

    Per-period demand i.i.d. with mean d and sd sigma_d, lead time independent with mean L and sd
    sigma_L, review period R fixed. Silver, Pyke & Thomas (2017), ch. 6 (random lead time:
    ``var = E(L) sigma_1² + [E(D)]² var(L)``); Axsäter (2015), *Inventory Control*, 3rd ed., ch. 5
    (stochastic lead times); Chopra & Meindl (2016), *Supply Chain Management*, 6th ed., ch. 12
    (impact of lead-time uncertainty on safety inventory).
    """
    a = check_policy_inputs(
        demand_mean=demand_mean,
        demand_sd=demand_sd,
        lead_time=lead_time,
        lead_time_sd=lead_time_sd,
        review_period=review_period,
    )
    return _result(
        _lead_time_demand_sd(
            a["demand_mean"], a["demand_sd"], a["lead_time"], a["lead_time_sd"], a["review_period"]
        )
    )


def cycle_service_safety_stock(
    service_level: ArrayLike,
    demand_mean: ArrayLike,
    demand_sd: ArrayLike,
    lead_time: ArrayLike,
    lead_time_sd: ArrayLike = 0.0,
    review_period: ArrayLike = 0.0,
) -> Array | float:
    """Safety stock z sqrt((L + R) sigma_d² + d² sigma_L²) for a cycle service level.

    ``z = Phi⁻¹(service_level)``: the probability of no stockout in a replenishment cycle (SPT's
    P1, Chopra & Meindl's CSL). Silver, Pyke & Thomas (2017), ch. 6 (``ss = k sigma_L`` with
    ``p_u>=(k) = 1 - P1``); Chopra & Meindl (2016), ch. 12 (``ss = F_S⁻¹(CSL) sigma_L``).
    Never negative for service levels >= 0.5; below 0.5 it is negative by construction.
    """
    a = check_policy_inputs(
        service_level=service_level,
        demand_mean=demand_mean,
        demand_sd=demand_sd,
        lead_time=lead_time,
        lead_time_sd=lead_time_sd,
        review_period=review_period,
    )
    sigma = _lead_time_demand_sd(
        a["demand_mean"], a["demand_sd"], a["lead_time"], a["lead_time_sd"], a["review_period"]
    )
    return _result(_safety_stock(ndtri(a["service_level"]), sigma))


def reorder_point(
    demand_mean: ArrayLike,
    lead_time: ArrayLike,
    safety_stock: ArrayLike,
    review_period: ArrayLike = 0.0,
) -> Array | float:
    """s = d (L + R) + ss: order when the inventory position falls to s.

    Continuous review (R = 0): the (s, Q) reorder point ``s = x̂_L + k sigma_L``; periodic review:
    the (R, s, S) / (R, s, Q) reorder level ``s = x̂_{R+L} + k sigma_{R+L}`` (Silver, Pyke &
    Thomas 2017, ch. 6; Snyder & Shen 2019, eq. (5.21) ``r = mu + z_alpha sigma``).
    """
    a = check_policy_inputs(
        demand_mean=demand_mean,
        lead_time=lead_time,
        safety_stock=safety_stock,
        review_period=review_period,
    )
    mean = _lead_time_demand_mean(a["demand_mean"], a["lead_time"], a["review_period"])
    return _result(_reorder_point(mean, a["safety_stock"]))


def order_up_to_level(
    demand_mean: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike,
    safety_stock: ArrayLike,
) -> Array | float:
    """S = d (R + L) + ss: every R periods order up to S (the (R, S) policy).

    Silver, Pyke & Thomas (2017), ch. 6 (``S = x̂_{R+L} + k sigma_{R+L}``). ``review_period`` must
    be positive here; with R = 0 use :func:`reorder_point`.
    """
    a = check_policy_inputs(
        POSITIVE_REVIEW_PERIOD,
        demand_mean=demand_mean,
        lead_time=lead_time,
        review_period=review_period,
        safety_stock=safety_stock,
    )
    mean = _lead_time_demand_mean(a["demand_mean"], a["lead_time"], a["review_period"])
    return _result(_reorder_point(mean, a["safety_stock"]))
