"""Fill rate (type 2 service): the safety factor that reaches a target, and the rate a policy gets.

With normal demand over the protection interval (sd ``sigma``) and order quantity Q, the expected
shortage per replenishment cycle is ``sigma L(k)`` and the fill rate ``1 - sigma L(k) / Q``
(Silver, Pyke & Thomas 2017, ch. 6, decision rule for a specified fill rate P2; Chopra & Meindl
2016, ch. 12, ESC and fr; Nahmias & Olsen 2015, *Production and Operations Analysis*, 7th ed.,
ch. 5, type 2 service). For periodic review (R, S) pass ``order_qty = demand_mean * R``, the
expected demand per review period, and sigma over R + L.

**The regime where the target is already met.** ``L(k) = Q (1 - P2) / sigma`` has a solution for
every target, but when Q is large against sigma (or the target low) it is very negative: k ~
-Q (1 - P2) / sigma, i.e. the lot size alone delivers the fill rate and the formula would plan a
negative safety stock, down to a negative reorder point. Silver, Pyke & Thomas let management set
a lowest allowable safety factor; here that is ``k_min``, 0 by default, so a fill-rate target
never plans less than zero safety stock (the expected fill rate then exceeds the target, and the
policy table says so). Pass a negative ``k_min`` (any finite value) to allow negative safety
stock.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ml.policy.normal import _inverse_loss, _loss, _result
from ml.policy.safety_stock import _lead_time_demand_sd, _safety_stock
from ml.policy.validation import check_policy_inputs

__all__ = [
    "expected_fill_rate",
    "expected_shortage_per_cycle",
    "fill_rate_safety_factor",
    "fill_rate_safety_stock",
]

Array = NDArray[np.float64]
DEFAULT_K_MIN = 0.0


def _fill_rate_safety_factor(fill_rate, order_qty, sigma, k_min: float) -> Array:
    """k for the target; rows with sigma = 0 (no uncertainty) get k_min. Inputs assumed valid."""
    k = np.full(np.broadcast(fill_rate, order_qty, sigma).shape, k_min, dtype=np.float64)
    uncertain = sigma > 0
    if uncertain.all():
        return _inverse_loss(order_qty * (1.0 - fill_rate) / sigma, k_min)
    loss = (order_qty * (1.0 - fill_rate))[uncertain] / sigma[uncertain]
    k[uncertain] = _inverse_loss(loss, k_min)
    return k


def _expected_fill_rate(k, sigma, order_qty, exact: bool = False) -> Array:
    shortage = sigma * _loss(k)
    if exact:
        with np.errstate(divide="ignore", invalid="ignore"):
            beyond = np.where(sigma > 0, sigma * _loss(k + order_qty / sigma), 0.0)
        shortage = shortage - beyond
    return np.clip(1.0 - shortage / order_qty, 0.0, 1.0)


def fill_rate_safety_factor(
    fill_rate: ArrayLike,
    order_qty: ArrayLike,
    lead_time_demand_sd: ArrayLike,
    k_min: float = DEFAULT_K_MIN,
) -> Array | float:
    """k solving L(k) = Q (1 - P2) / sigma, floored at ``k_min``.

    Silver, Pyke & Thomas (2017), ch. 6 (``G_u(k) = Q (1 - P2) / sigma_L``); Chopra & Meindl
    (2016), ch. 12 (``ESC = (1 - fr) Q``). Solved by Newton's method on arrays
    (:func:`ml.policy.normal.inverse_standard_normal_loss`). Where sigma = 0 demand is certain,
    no safety stock is needed and k is ``k_min``. See the module docstring for why k is capped.
    """
    a = check_policy_inputs(
        fill_rate=fill_rate,
        order_qty=order_qty,
        lead_time_demand_sd=lead_time_demand_sd,
        k_min=k_min,
    )
    return _result(
        _fill_rate_safety_factor(
            a["fill_rate"], a["order_qty"], a["lead_time_demand_sd"], float(k_min)
        )
    )


def fill_rate_safety_stock(
    fill_rate: ArrayLike,
    order_qty: ArrayLike,
    demand_mean: ArrayLike,
    demand_sd: ArrayLike,
    lead_time: ArrayLike,
    lead_time_sd: ArrayLike = 0.0,
    review_period: ArrayLike = 0.0,
    k_min: float = DEFAULT_K_MIN,
) -> Array | float:
    """Safety stock k sigma_LTD for a fill-rate target; sigma_LTD as in lead_time_demand_sd.

    Silver, Pyke & Thomas (2017), ch. 6 (decision rule for a specified P2); Chopra & Meindl
    (2016), ch. 12 (evaluating safety inventory given a desired fill rate).
    """
    a = check_policy_inputs(
        fill_rate=fill_rate,
        order_qty=order_qty,
        demand_mean=demand_mean,
        demand_sd=demand_sd,
        lead_time=lead_time,
        lead_time_sd=lead_time_sd,
        review_period=review_period,
        k_min=k_min,
    )
    sigma = _lead_time_demand_sd(
        a["demand_mean"], a["demand_sd"], a["lead_time"], a["lead_time_sd"], a["review_period"]
    )
    k = _fill_rate_safety_factor(a["fill_rate"], a["order_qty"], sigma, float(k_min))
    return _result(_safety_stock(k, sigma))


def expected_shortage_per_cycle(
    safety_factor: ArrayLike, lead_time_demand_sd: ArrayLike
) -> Array | float:
    """ESC = sigma L(k), the expected units short per replenishment cycle.

    Silver, Pyke & Thomas (2017), ch. 6 (``ESPRC = sigma_L G_u(k)``); Chopra & Meindl (2016),
    ch. 12 (``ESC = -ss [1 - F_S(ss / sigma_L)] + sigma_L f_S(ss / sigma_L)``, the same quantity).
    """
    a = check_policy_inputs(safety_factor=safety_factor, lead_time_demand_sd=lead_time_demand_sd)
    return _result(a["lead_time_demand_sd"] * _loss(a["safety_factor"]))


def expected_fill_rate(
    safety_factor: ArrayLike,
    lead_time_demand_sd: ArrayLike,
    order_qty: ArrayLike,
    exact: bool = False,
) -> Array | float:
    """The fill rate a policy gets: 1 - sigma L(k) / Q, clipped to [0, 1].

    Silver, Pyke & Thomas (2017), ch. 6 (``P2 = 1 - sigma_L G_u(k) / Q``); Chopra & Meindl
    (2016), ch. 12 (``fr = 1 - ESC / Q``). That formula counts shortages already backordered in
    the previous cycle again, so it understates the fill rate when Q is small against sigma (it
    can even go below 0, hence the clip). ``exact=True`` subtracts them: ``1 - sigma [L(k) -
    L(k + Q / sigma)] / Q``, exact for continuous review with backorders and normal lead-time
    demand (Axsäter 2015, *Inventory Control*, 3rd ed., ch. 5, fill rate S2 for (R, Q)).
    With sigma = 0 nothing is ever short: 1.
    """
    a = check_policy_inputs(
        safety_factor=safety_factor, lead_time_demand_sd=lead_time_demand_sd, order_qty=order_qty
    )
    return _result(
        _expected_fill_rate(a["safety_factor"], a["lead_time_demand_sd"], a["order_qty"], exact)
    )
