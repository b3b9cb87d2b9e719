"""A whole normal-demand policy per product in one vectorised call: the batch job's entry point.

Safety factor (z for a cycle service level, k for a fill rate), safety stock, reorder point
(order-up-to level for periodic review), order quantity and the expected fill rate, for arrays
of products. ``errors="raise"`` stops at the first bad input with one message naming every bad
value; ``errors="flag"`` returns NaN outputs and a reason for the bad rows and exact outputs for
the good ones, so one bad product never stops a run over millions. Intermittent and lumpy
products belong in :mod:`ml.policy.intermittent` (the batch job routes them by segment).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri

from ml.errors import StrataError
from ml.policy.fill_rate import DEFAULT_K_MIN, _expected_fill_rate, _fill_rate_safety_factor
from ml.policy.order_quantity import ORDER_QUANTITY_RULES, order_quantity
from ml.policy.safety_stock import (
    _lead_time_demand_mean,
    _lead_time_demand_sd,
    _reorder_point,
    _safety_stock,
)
from ml.policy.validation import (
    broadcast_inputs,
    check_policy_inputs,
    label_masks,
    validate_policy_inputs,
)

__all__ = ["SERVICE_TYPES", "InventoryPolicy", "inventory_policy"]

Array = NDArray[np.float64]
SERVICE_TYPES = ("csl", "fill_rate")


@dataclass(frozen=True)
class InventoryPolicy:
    """One entry per product; NaN outputs only where ``reason`` is non-empty (flag mode)."""

    service_level: Array
    safety_factor: Array  # z (cycle service) or k (fill rate)
    lead_time_demand_mean: Array  # d (L + R)
    lead_time_demand_sd: Array  # sqrt((L + R) sd_d² + d² sd_L²)
    safety_stock: Array
    reorder_point: Array  # d (L + R) + ss: s for (s, Q) and (R, s, Q), S for (R, S)
    order_qty: Array
    expected_fill_rate: Array  # 1 - sigma L(k) / Q
    safety_factor_capped: NDArray[np.bool_]  # fill-rate k raised to k_min: target met by Q alone
    reason: NDArray[np.object_]  # "" for a valid row

    def as_columns(self) -> dict[str, np.ndarray]:
        """The fields as a column dict, ready for a DataFrame (no copies)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def inventory_policy(
    service_level: ArrayLike,
    demand_mean: ArrayLike,
    demand_sd: ArrayLike,
    lead_time: ArrayLike,
    lead_time_sd: ArrayLike = 0.0,
    review_period: ArrayLike = 0.0,
    *,
    service_type: str | Sequence[str] = "csl",
    order_qty: ArrayLike | None = None,
    order_rule: str | Sequence[str] | None = None,
    annual_demand: ArrayLike | None = None,
    order_cost: ArrayLike | None = None,
    holding_cost: ArrayLike | None = None,
    periods_of_supply: ArrayLike | None = None,
    moq: ArrayLike = 0.0,
    pack_size: ArrayLike | None = None,
    k_min: float = DEFAULT_K_MIN,
    exact_fill_rate: bool = False,
    errors: Literal["raise", "flag"] = "raise",
) -> InventoryPolicy:
    """The policy for each product under normal demand over the protection interval L + R.

    - ``service_type`` ``csl``: z = Phi⁻¹(service_level), safety stock z sigma (SPT 2017 ch. 6,
      P1); ``fill_rate``: k solving L(k) = Q (1 - service_level) / sigma, floored at ``k_min``
      (SPT 2017 ch. 6, P2; see :mod:`ml.policy.fill_rate`). One type for all, or one per row.
    - sigma = sqrt((L + R) demand_sd² + demand_mean² lead_time_sd²), all in the demand's periods.
    - reorder point = demand_mean (L + R) + safety stock (for R > 0 the order-up-to level S).
    - order quantity: ``order_qty`` as given, else ``order_rule`` per row (``eoq`` needs
      annual_demand, order_cost, holding_cost; ``periods_of_supply`` needs periods_of_supply;
      ``lot_for_lot`` is d max(R, 1), the right Q for an (R, S) policy), rounded to MOQ and packs.
    - expected fill rate = 1 - sigma L(k) / Q (``exact_fill_rate`` subtracts the shortages
      carried over from the previous cycle, Axsäter 2015 ch. 5). A product with no demand
      uncertainty (sigma = 0) gets no safety stock and fill rate 1.
    """
    _check_call(errors, order_qty, order_rule)
    fill_rows = label_masks(
        service_type, SERVICE_TYPES, "service type", "use csl (cycle service) or fill_rate"
    )["fill_rate"]
    inputs: dict[str, ArrayLike | None] = {
        "service_level": service_level,
        "demand_mean": demand_mean,
        "demand_sd": demand_sd,
        "lead_time": lead_time,
        "lead_time_sd": lead_time_sd,
        "review_period": review_period,
        "order_qty": order_qty,
        "moq": moq,
        "pack_size": pack_size,
        "k_min": k_min,
    }
    eoq_inputs = {"annual_demand": annual_demand, "order_cost": order_cost}
    eoq_inputs["holding_cost"] = holding_cost
    if order_rule is not None:
        eoq_inputs, periods_of_supply = _rule_inputs(order_rule, eoq_inputs, periods_of_supply)
        inputs.update(eoq_inputs, periods_of_supply=periods_of_supply)
    shape = np.broadcast_shapes(
        *(np.shape(v) for v in inputs.values() if v is not None),
        np.shape(service_type),
        np.shape(order_rule),
    )
    rows = _Rows(shape, _reasons(inputs, shape, errors))
    # Flat rows from here; reshaped to the inputs' shape at the end.
    a = {k: np.broadcast_to(v, shape).reshape(-1) for k, v in broadcast_inputs(**inputs).items()}
    d, lt, review = (
        rows.take(a["demand_mean"]),
        rows.take(a["lead_time"]),
        rows.take(a["review_period"]),
    )
    sigma = _lead_time_demand_sd(
        d, rows.take(a["demand_sd"]), lt, rows.take(a["lead_time_sd"]), review
    )
    if order_qty is not None:
        q = rows.take(a["order_qty"])
    else:
        q = _lot_sizes(order_rule, rows, a, eoq_inputs, d, review)
    keep = _drop_undefined_lots(rows, q, sigma, errors)
    if keep is not None:
        d, lt, review, sigma, q = d[keep], lt[keep], review[keep], sigma[keep], q[keep]
    level = rows.take(a["service_level"])
    fill = rows.take(np.broadcast_to(fill_rows, shape).reshape(-1))
    return _policy(rows, level, q, sigma, d, lt, review, fill, float(k_min), exact_fill_rate)


def _check_call(errors: str, order_qty: ArrayLike | None, order_rule: object) -> None:
    if errors not in ("raise", "flag"):
        raise StrataError(f"errors={errors!r} must be 'raise' or 'flag'")
    if order_qty is None and order_rule is None:
        raise StrataError(
            "inventory_policy needs an order quantity: pass order_qty, or order_rule ("
            + ", ".join(ORDER_QUANTITY_RULES)
            + ") with its inputs"
        )


def _policy(
    rows: _Rows,
    level: Array,
    q: Array,
    sigma: Array,
    d: Array,
    lt: Array,
    review: Array,
    fill: NDArray[np.bool_],
    k_min: float,
    exact_fill_rate: bool,
) -> InventoryPolicy:
    """Safety factor, stock, reorder point and fill rate of the valid rows, put back in shape."""
    k = _safety_factors(level, q, sigma, fill, k_min)
    capped = fill & (k <= k_min) & (sigma > 0)
    safety = _safety_stock(k, sigma)
    mean_ltd = _lead_time_demand_mean(d, lt, review)
    rate = _expected_fill_rate(k, sigma, np.where(q > 0, q, 1.0), exact=exact_fill_rate)
    rate[sigma == 0] = 1.0  # no uncertainty: nothing is ever short
    return InventoryPolicy(
        service_level=rows.full(level.copy()),
        safety_factor=rows.full(k),
        lead_time_demand_mean=rows.full(mean_ltd),
        lead_time_demand_sd=rows.full(sigma),
        safety_stock=rows.full(safety),
        reorder_point=rows.full(_reorder_point(mean_ltd, safety)),
        order_qty=rows.full(np.array(q, dtype=np.float64)),
        expected_fill_rate=rows.full(rate),
        safety_factor_capped=rows.full(capped, False),
        reason=rows.reasons.reshape(rows.shape),
    )


class _Rows:
    """Which flat rows are valid, with their reasons; takes valid rows and puts them back."""

    def __init__(self, shape: tuple[int, ...], reasons: NDArray[np.object_]) -> None:
        self.shape, self.reasons = shape, reasons
        self.ok = reasons == ""
        self.every = bool(self.ok.all())  # the usual case: no copies of the inputs

    def take(self, values: np.ndarray) -> np.ndarray:
        return values if self.every else values[self.ok]

    def full(self, values: np.ndarray, fill_value: float | bool = np.nan) -> np.ndarray:
        if self.every:
            return values.reshape(self.shape)
        out = np.full(self.ok.size, fill_value, dtype=values.dtype)
        out[self.ok] = values
        return out.reshape(self.shape)


def _rule_inputs(
    order_rule: str | Sequence[str], eoq_inputs: dict, periods_of_supply: ArrayLike | None
) -> tuple[dict, ArrayLike | None]:
    """EOQ inputs matter only where the rule is eoq: elsewhere a stand-in keeps them valid."""
    rule_rows = label_masks(
        order_rule, ORDER_QUANTITY_RULES, "order quantity rule", "fix the segment's policy"
    )
    if np.ndim(rule_rows["eoq"]) and not np.all(rule_rows["eoq"]):
        eoq_inputs = {
            k: None if v is None else np.where(rule_rows["eoq"], v, 1.0)
            for k, v in eoq_inputs.items()
        }
    if periods_of_supply is not None and np.ndim(rule_rows["periods_of_supply"]):
        periods_of_supply = np.where(rule_rows["periods_of_supply"], periods_of_supply, 1.0)
    return eoq_inputs, periods_of_supply


def _reasons(inputs: dict, shape: tuple[int, ...], errors: str) -> NDArray[np.object_]:
    """One reason per flat row ("" = valid); raise mode raises on the first bad input instead."""
    if errors == "raise":
        check_policy_inputs(**inputs)
        return np.full(math.prod(shape), "", dtype=object)
    return np.array(np.broadcast_to(validate_policy_inputs(**inputs), shape), dtype=object).reshape(
        -1
    )


def _lot_sizes(
    order_rule: str | Sequence[str] | None,
    rows: _Rows,
    a: dict,
    eoq_inputs: dict,
    d: Array,
    review: Array,
) -> Array:
    """Each valid row's order quantity by its rule, rounded to MOQ and packs."""
    rules = np.broadcast_to(np.asarray(order_rule, dtype=object), rows.shape).reshape(-1)
    return np.asarray(
        order_quantity(
            order_rule if np.ndim(order_rule) == 0 else rows.take(rules),
            d,
            **{k: None if v is None else rows.take(a[k]) for k, v in eoq_inputs.items()},
            periods_of_supply=rows.take(a["periods_of_supply"])
            if "periods_of_supply" in a
            else None,
            review_period=review,
            moq=rows.take(a["moq"]),
            pack_size=rows.take(a["pack_size"]) if "pack_size" in a else None,
        ),
        dtype=np.float64,
    ).reshape(-1)


def _drop_undefined_lots(
    rows: _Rows, q: Array, sigma: Array, errors: str
) -> NDArray[np.bool_] | None:
    """A zero lot for an uncertain product leaves the fill rate undefined: a reason, not a NaN.

    Returns the mask of valid rows to keep (None when none is dropped); updates ``rows``.
    """
    no_lot = (q <= 0) & (sigma > 0)
    if not no_lot.any():
        return None
    message = (
        "order_qty = 0 with uncertain demand: the fill rate is undefined; set an order cost, "
        "MOQ or pack size, or pass order_qty"
    )
    bad_rows = np.flatnonzero(rows.ok)[no_lot]
    if errors == "raise":
        where = f"row {int(bad_rows[0])}: " if rows.shape else ""
        raise StrataError(f"bad policy input: {where}{message}")
    rows.reasons[bad_rows] = message
    rows.ok[bad_rows] = False
    rows.every = False
    return ~no_lot


def _safety_factors(
    level: Array, q: Array, sigma: Array, fill: NDArray[np.bool_], k_min: float
) -> Array:
    """z = Phi⁻¹(level) for cycle-service rows, the fill-rate k (floored at k_min) for the rest."""
    k = ndtri(level)
    if fill.all():
        return _fill_rate_safety_factor(level, q, sigma, k_min)
    if fill.any():
        k[fill] = _fill_rate_safety_factor(level[fill], q[fill], sigma[fill], k_min)
    return k
