"""The allowed range of every policy input, declared once, checked strictly or flagged per row.

Two ways to meet bad input, chosen by the caller:

* **strict** — every public formula calls :func:`check_policy_inputs`, which raises one
  :class:`~ml.errors.StrataError` listing every offending argument with its index, value, allowed
  range and fix. A planner's what-if (``strata policy calc``) and notebooks use this.
* **flag** — the batch policy job calls :func:`validate_policy_inputs` first: it returns one reason
  string per row (``""`` for a valid row), computes the formulas on the valid rows only and writes
  the reason next to the row. Formulas never see a NaN, so they never silently return a NaN safety
  stock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ml.errors import StrataError

__all__ = [
    "POLICY_INPUTS",
    "POSITIVE_REVIEW_PERIOD",
    "Interval",
    "broadcast_inputs",
    "check_policy_inputs",
    "label_masks",
    "validate_policy_inputs",
]

_EXAMPLES_PER_ARGUMENT = 5


@dataclass(frozen=True)
class Interval:
    """The allowed values of one input: a real interval; NaN and ±inf are never allowed."""

    low: float
    high: float
    low_closed: bool
    high_closed: bool
    fix: str

    def contains(self, values: NDArray[np.float64]) -> NDArray[np.bool_]:
        """True where a value is finite and inside the interval."""
        above = values >= self.low if self.low_closed else values > self.low
        below = values <= self.high if self.high_closed else values < self.high
        return np.isfinite(values) & above & below

    def __str__(self) -> str:
        left = "[" if self.low_closed else "("
        right = "]" if self.high_closed else ")"
        return f"{left}{_number(self.low)}, {_number(self.high)}{right}"


def _number(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


_INF = math.inf
_PROBABILITY = Interval(0.0, 1.0, False, False, "write it as a fraction, e.g. 0.95 for 95%")
_NON_NEGATIVE = Interval(0.0, _INF, True, False, "it cannot be negative")
_POSITIVE = Interval(0.0, _INF, False, False, "it must be greater than zero")
_FINITE = Interval(-_INF, _INF, False, False, "it must be a finite number")

#: Every input of the policy formulas with its allowed range. All quantities are in the base unit
#: of measure; all times in the demand statistics' period unless the name says ``annual``.
POLICY_INPUTS: dict[str, Interval] = {
    "demand_mean": _NON_NEGATIVE,
    "demand_sd": _NON_NEGATIVE,
    "lead_time": Interval(
        0.0, _INF, False, False, "a lead time must be positive, in the demand's periods"
    ),
    "lead_time_sd": _NON_NEGATIVE,
    "review_period": Interval(
        0.0, _INF, True, False, "use 0 for continuous review, else the periods between reviews"
    ),
    "service_level": _PROBABILITY,
    "fill_rate": _PROBABILITY,
    "target_service_level": _PROBABILITY,
    "order_qty": Interval(0.0, _INF, False, False, "an order quantity must be positive"),
    "annual_demand": _NON_NEGATIVE,
    "order_cost": _NON_NEGATIVE,
    "holding_cost": Interval(
        0.0, _INF, False, False, "a holding cost must be positive (cost per unit per year)"
    ),
    "stockout_cost": _POSITIVE,
    "unit_price": _NON_NEGATIVE,
    "unit_cost": _POSITIVE,
    "margin": Interval(
        0.0, _INF, False, False, "unit_price must exceed unit_cost for a cost-based service level"
    ),
    "holding_cost_rate": _POSITIVE,
    "cycle_periods": _POSITIVE,
    "periods_per_year": _POSITIVE,
    "moq": _NON_NEGATIVE,
    "pack_size": Interval(0.0, _INF, False, False, "a pack size must be positive"),
    "periods_of_supply": _POSITIVE,
    "sigma_ltd": _NON_NEGATIVE,
    "lead_time_demand_sd": _NON_NEGATIVE,
    "lead_time_demand_mean": _NON_NEGATIVE,
    "loss": _POSITIVE,
    "safety_factor": _FINITE,
    "z": _FINITE,
    "k_min": _FINITE,
    "reorder_point": _FINITE,
    "safety_stock": _FINITE,
    "demand_rate": _NON_NEGATIVE,
    "size_mean": _NON_NEGATIVE,
    "size_sd": _NON_NEGATIVE,
    "mean_qty": _NON_NEGATIVE,
    "adi": Interval(
        1.0, _INF, True, False, "an average demand interval is at least 1 period per demand"
    ),
    "cv2": _NON_NEGATIVE,
}


#: Override for functions where a review period of 0 (continuous review) makes no sense.
POSITIVE_REVIEW_PERIOD = {
    "review_period": Interval(
        0.0, _INF, False, False, "an (R, S) policy needs a positive review period"
    )
}


def broadcast_inputs(**inputs: ArrayLike | None) -> dict[str, NDArray[np.float64]]:
    """The given inputs as float arrays of one common shape (``None`` inputs are dropped)."""
    present = {name: value for name, value in inputs.items() if value is not None}
    arrays = {}
    for name, value in present.items():
        try:
            arrays[name] = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise StrataError(
                f"{name} must be numbers, got {_preview(value)!r}; pass a number or an array"
            ) from None
    try:
        shaped = np.broadcast_arrays(*arrays.values())
    except ValueError:
        shapes = ", ".join(f"{name} {a.shape}" for name, a in arrays.items())
        raise StrataError(
            f"the inputs have shapes that do not line up: {shapes}; pass arrays of one length "
            "(one value per product) or scalars"
        ) from None
    return dict(zip(arrays, shaped, strict=True))


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _interval(name: str, ranges: Mapping[str, Interval] | None = None) -> Interval:
    if ranges and name in ranges:
        return ranges[name]
    try:
        return POLICY_INPUTS[name]
    except KeyError:  # pragma: no cover - a programming error, not a user's
        raise KeyError(f"no allowed range is declared for policy input {name!r}") from None


def _describe(name: str, value: float, index: tuple[int, ...] | None) -> str:
    where = "" if index is None else f"[{', '.join(map(str, index))}]"
    if math.isnan(value):
        return f"{name}{where} is missing (NaN)"
    return f"{name}{where} = {value:g}"


def _row_reason(name: str, value: float, interval: Interval) -> str:
    if math.isnan(value):
        return f"{name} is missing (NaN); allowed {interval}"
    return f"{name} = {value:g} is outside {interval}: {interval.fix}"


def validate_policy_inputs(
    ranges: Mapping[str, Interval] | None = None, **inputs: ArrayLike | None
) -> NDArray[np.object_]:
    """One reason per row (``""`` when valid) for every input outside its allowed range.

    Each keyword names an input declared in :data:`POLICY_INPUTS` (``ranges`` overrides a range
    for one call, e.g. a review period that must be positive); ``None`` skips it. Inputs
    broadcast together; the result has their common shape. A row with several problems gets them
    all, joined by ``"; "``, e.g. ``"demand_sd = -3 is outside [0, inf): it cannot be negative"``.
    Cost is a few vectorised comparisons per input; strings are built only for the bad rows.
    """
    arrays = broadcast_inputs(**inputs)
    shape = next(iter(arrays.values())).shape if arrays else ()
    reasons = np.full(shape, "", dtype=object)
    flat = reasons.reshape(-1)  # a view: writes land in reasons
    for name, values in arrays.items():
        interval = _interval(name, ranges)
        bad = np.flatnonzero(~interval.contains(values).reshape(-1))
        if bad.size == 0:
            continue
        # Bad values repeat (NaN, -1, 0): word each distinct value once.
        distinct, which = np.unique(values.reshape(-1)[bad], return_inverse=True)
        words = [_row_reason(name, v, interval) for v in distinct.tolist()]
        texts = np.array(words, dtype=object)[which]
        earlier = flat[bad]
        both = earlier != ""
        if both.any():
            texts[both] = earlier[both] + "; " + texts[both]
        flat[bad] = texts
    return reasons


def check_policy_inputs(
    ranges: Mapping[str, Interval] | None = None, **inputs: ArrayLike | None
) -> dict[str, NDArray[np.float64]]:
    """The inputs as broadcast float arrays; raise one StrataError listing every bad value.

    The message names each offending argument, how many rows are bad, the first few indices and
    values, the allowed range and the fix, e.g.::

        bad policy input: service_level has 2 of 4 rows outside (0, 1) — service_level[1] = 1.2,
        service_level[3] is missing (NaN) — write it as a fraction, e.g. 0.95 for 95%

    Scalars read ``demand_sd = -3 is outside [0, inf): it cannot be negative``. The batch job
    should call :func:`validate_policy_inputs` instead and keep the good rows.
    """
    arrays = broadcast_inputs(**inputs)
    problems = [_problem(name, values, _interval(name, ranges)) for name, values in arrays.items()]
    problems = [p for p in problems if p]
    if problems:
        raise StrataError("bad policy input: " + "; ".join(problems))
    return arrays


def _problem(name: str, values: NDArray[np.float64], interval: Interval) -> str:
    bad = ~interval.contains(values)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return ""
    if values.ndim == 0:
        return _row_reason(name, float(values), interval)
    where = np.argwhere(bad)[:_EXAMPLES_PER_ARGUMENT]
    examples = ", ".join(
        _describe(name, float(values[tuple(i)]), tuple(int(j) for j in i)) for i in where
    )
    more = ", ..." if n_bad > len(where) else ""
    return (
        f"{name} has {n_bad} of {values.size} rows outside {interval} — {examples}{more} — "
        f"{interval.fix}"
    )


def label_masks(
    labels: str | ArrayLike, allowed: tuple[str, ...], what: str, fix: str
) -> dict[str, NDArray[np.bool_] | bool]:
    """For each allowed label, where ``labels`` equals it (a bool for a scalar label).

    Raises one StrataError naming the unknown labels. Costs one comparison per allowed label
    (no sorting or hashing of a million strings, which is what np.unique would do); only the
    labels no mask holds are looked at one by one.
    """
    if np.ndim(labels) == 0:
        label = str(np.asarray(labels, dtype=object).item())
        unknown = [] if label in allowed else [label]
        masks: dict[str, NDArray[np.bool_] | bool] = {name: name == label for name in allowed}
    else:
        values = np.asarray(labels)
        if values.dtype.kind not in "UO":
            values = values.astype(object)
        masks = {name: np.asarray(values == name) for name in allowed}
        known = np.logical_or.reduce([np.asarray(m, dtype=bool) for m in masks.values()])
        unknown = sorted({str(v) for v in values[~known].ravel().tolist()} - set(allowed))
    if unknown:
        raise StrataError(
            f"{what} {', '.join(map(repr, unknown))} is not one of {', '.join(allowed)}; {fix}"
        )
    return masks
