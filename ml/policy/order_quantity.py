"""Order quantities: EOQ, periods of supply, lot-for-lot, rounded to the MOQ and pack size.

A segment's policy names one rule (``ORDER_QUANTITY_RULES``); :func:`order_quantity` applies a
rule per row. EOQ works in years (annual demand, holding cost per unit per year); the other rules
in the demand's periods.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ml.errors import StrataError
from ml.policy.normal import _result
from ml.policy.validation import Interval, check_policy_inputs, label_masks

__all__ = [
    "ORDER_QUANTITY_RULES",
    "economic_order_quantity",
    "eoq_annual_cost",
    "eoq_with_moq_and_pack",
    "lot_for_lot_quantity",
    "order_quantity",
    "periods_of_supply_quantity",
    "rounded_order_quantity",
]

Array = NDArray[np.float64]
ORDER_QUANTITY_RULES = ("eoq", "periods_of_supply", "lot_for_lot")
# A need of 0 (no demand) is a valid quantity to round, unlike an order quantity in a formula.
_QUANTITY_TO_ROUND = {
    "order_qty": Interval(0.0, math.inf, True, False, "a quantity to round cannot be negative")
}


def _eoq(annual_demand, order_cost, holding_cost) -> Array:
    return np.sqrt(2.0 * order_cost * annual_demand / holding_cost)


def _round_up(order_qty, moq, pack_size) -> Array:
    qty = np.maximum(order_qty, moq)
    if pack_size is None:
        return qty
    return np.ceil(qty / pack_size) * pack_size


def _eoq_in_packs(annual_demand, order_cost, holding_cost, moq, pack_size) -> Array:
    eoq = _eoq(annual_demand, order_cost, holding_cost)
    if pack_size is None:
        return np.maximum(eoq, moq)

    def cost(packs):
        qty = packs * pack_size
        return order_cost * annual_demand / qty + holding_cost * qty / 2.0

    # The cost is convex in Q, so the best multiple is one of the two around the EOQ, and under
    # an MOQ the best is the larger of that and the smallest multiple at or above the MOQ.
    fewer = np.maximum(np.floor(eoq / pack_size), 1.0)
    more = fewer + 1.0
    packs = np.where(cost(more) < cost(fewer), more, fewer)
    packs = np.maximum(packs, np.ceil(moq / pack_size))
    return packs * pack_size


def economic_order_quantity(
    annual_demand: ArrayLike, order_cost: ArrayLike, holding_cost: ArrayLike
) -> Array | float:
    """Q* = sqrt(2 K D / h), the economic order quantity.

    K the cost per order, D the annual demand, h the holding cost per unit per year (unit cost
    times the holding-cost rate). Snyder & Shen (2019), eq. (3.4); Silver, Pyke & Thomas (2017),
    ch. 4 (the EOQ).
    """
    a = check_policy_inputs(
        annual_demand=annual_demand, order_cost=order_cost, holding_cost=holding_cost
    )
    return _result(_eoq(a["annual_demand"], a["order_cost"], a["holding_cost"]))


def eoq_annual_cost(
    order_qty: ArrayLike, annual_demand: ArrayLike, order_cost: ArrayLike, holding_cost: ArrayLike
) -> Array | float:
    """g(Q) = K D / Q + h Q / 2: annual ordering plus cycle-stock holding cost of lot size Q.

    Snyder & Shen (2019), eq. (3.3)-(3.5) (``g* = sqrt(2 K D h)`` at the EOQ).
    """
    a = check_policy_inputs(
        order_qty=order_qty,
        annual_demand=annual_demand,
        order_cost=order_cost,
        holding_cost=holding_cost,
    )
    q = a["order_qty"]
    return _result(a["order_cost"] * a["annual_demand"] / q + a["holding_cost"] * q / 2.0)


def rounded_order_quantity(
    order_qty: ArrayLike, moq: ArrayLike = 0.0, pack_size: ArrayLike | None = None
) -> Array | float:
    """max(Q, MOQ) rounded up to a whole number of packs (no pack rounding when pack_size is None).

    Up, never down: a periods-of-supply or lot-for-lot quantity is a need to cover.
    """
    a = check_policy_inputs(_QUANTITY_TO_ROUND, order_qty=order_qty, moq=moq, pack_size=pack_size)
    return _result(_round_up(a["order_qty"], a["moq"], a.get("pack_size")))


def eoq_with_moq_and_pack(
    annual_demand: ArrayLike,
    order_cost: ArrayLike,
    holding_cost: ArrayLike,
    moq: ArrayLike = 0.0,
    pack_size: ArrayLike | None = None,
) -> Array | float:
    """The cheapest whole number of packs (at least one) that meets the MOQ, by EOQ cost.

    The EOQ cost is convex in Q, so the best multiple of the pack size is the cheaper of the two
    around Q* (Silver, Pyke & Thomas 2017, ch. 4, EOQ with discrete units / quantity
    restrictions), and with a minimum order quantity the larger of that and the first multiple at
    or above the MOQ. Without a pack size: max(Q*, MOQ).
    """
    a = check_policy_inputs(
        annual_demand=annual_demand,
        order_cost=order_cost,
        holding_cost=holding_cost,
        moq=moq,
        pack_size=pack_size,
    )
    return _result(
        _eoq_in_packs(
            a["annual_demand"], a["order_cost"], a["holding_cost"], a["moq"], a.get("pack_size")
        )
    )


def periods_of_supply_quantity(
    demand_mean: ArrayLike, periods_of_supply: ArrayLike
) -> Array | float:
    """Q = d x P: enough for P periods of mean demand (the period order quantity).

    Silver, Pyke & Thomas (2017), ch. 5 (period order quantity).
    """
    a = check_policy_inputs(demand_mean=demand_mean, periods_of_supply=periods_of_supply)
    return _result(a["demand_mean"] * a["periods_of_supply"])


def lot_for_lot_quantity(demand_mean: ArrayLike, review_period: ArrayLike = 0.0) -> Array | float:
    """Q = d x max(R, 1): order what was used since the last order (one period when R = 0).

    Lot-for-lot orders each replenishment interval's net requirement (Silver, Pyke & Thomas 2017,
    ch. 5); with stationary demand its expected lot is the mean demand of one interval.
    """
    a = check_policy_inputs(demand_mean=demand_mean, review_period=review_period)
    return _result(a["demand_mean"] * np.maximum(a["review_period"], 1.0))


def _eoq_rows(
    needed: dict[str, ArrayLike | None],
    mask: ArrayLike | None,
    eoq: slice | NDArray[np.intp],
    shape: tuple[int, ...],
    moq: Array,
    pack: Array | None,
) -> Array:
    """The EOQ in packs for the eoq rows; only those rows need valid EOQ inputs."""
    missing = [name for name, value in needed.items() if value is None]
    if missing:
        raise StrataError(
            f"the eoq rule needs {', '.join(missing)}; pass them, or use periods_of_supply "
            "or lot_for_lot for these segments"
        )
    if mask is not None:
        needed = {k: np.where(mask, v, 1.0) for k, v in needed.items()}
    e = {
        k: np.broadcast_to(v, shape).reshape(-1)[eoq]
        for k, v in check_policy_inputs(**needed).items()
    }
    return _eoq_in_packs(
        e["annual_demand"],
        e["order_cost"],
        e["holding_cost"],
        moq,
        None if pack is None else pack[eoq],
    )


def order_quantity(
    rule: str | Sequence[str] | NDArray[np.str_],
    demand_mean: ArrayLike,
    *,
    annual_demand: ArrayLike | None = None,
    order_cost: ArrayLike | None = None,
    holding_cost: ArrayLike | None = None,
    periods_of_supply: ArrayLike | None = None,
    review_period: ArrayLike = 0.0,
    moq: ArrayLike = 0.0,
    pack_size: ArrayLike | None = None,
) -> Array | float:
    """The order quantity per row by its segment's rule: ``eoq``, ``periods_of_supply`` or
    ``lot_for_lot`` (one rule for all rows, or one per row).

    ``eoq`` needs ``annual_demand``, ``order_cost`` and ``holding_cost`` and is rounded to the
    cheapest pack multiple (:func:`eoq_with_moq_and_pack`); ``periods_of_supply`` needs
    ``periods_of_supply``; both others round up to MOQ and packs (:func:`rounded_order_quantity`).
    """
    masks = label_masks(
        rule,
        ORDER_QUANTITY_RULES,
        "order quantity rule",
        "fix the segment's policy in configs/segments.yaml",
    )
    base = check_policy_inputs(
        demand_mean=demand_mean, review_period=review_period, moq=moq, pack_size=pack_size
    )
    shape = np.broadcast_shapes(np.shape(rule), base["demand_mean"].shape)
    size = math.prod(shape)
    flat = {name: np.broadcast_to(value, shape).reshape(-1) for name, value in base.items()}
    pack = flat.get("pack_size")
    qty = np.full(size, np.nan)

    def rows(label: str) -> slice | NDArray[np.intp] | None:
        """All rows as a slice (no copies), the rows' indices, or None for no rows."""
        mask = np.broadcast_to(masks[label], shape).reshape(-1)
        if mask.all():
            return slice(None)
        return np.flatnonzero(mask) if mask.any() else None

    eoq = rows("eoq")
    if eoq is not None:
        needed = {"annual_demand": annual_demand, "order_cost": order_cost}
        needed["holding_cost"] = holding_cost
        mask = None if isinstance(eoq, slice) else masks["eoq"]
        qty[eoq] = _eoq_rows(needed, mask, eoq, shape, flat["moq"][eoq], pack)
    supply = rows("periods_of_supply")
    if supply is not None:
        if periods_of_supply is None:
            raise StrataError(
                "the periods_of_supply rule needs periods_of_supply (periods of mean demand per "
                "order); pass it, or use eoq or lot_for_lot for these segments"
            )
        if not isinstance(supply, slice):
            periods_of_supply = np.where(masks["periods_of_supply"], periods_of_supply, 1.0)
        p = check_policy_inputs(periods_of_supply=periods_of_supply)["periods_of_supply"]
        need = flat["demand_mean"][supply] * np.broadcast_to(p, shape).reshape(-1)[supply]
        qty[supply] = _round_up(need, flat["moq"][supply], None if pack is None else pack[supply])
    lot = rows("lot_for_lot")
    if lot is not None:
        need = flat["demand_mean"][lot] * np.maximum(flat["review_period"][lot], 1.0)
        qty[lot] = _round_up(need, flat["moq"][lot], None if pack is None else pack[lot])
    return _result(qty.reshape(shape))
