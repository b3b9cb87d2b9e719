"""The optimiser's inputs, validated once: products with uncertain demand and their totals."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ml.errors import StrataError
from ml.policy.fill_rate import _expected_fill_rate, _fill_rate_safety_factor
from ml.policy.validation import POLICY_INPUTS, Interval, check_policy_inputs

__all__ = [
    "EXAMPLES_SHOWN",
    "RANGES",
    "Products",
    "product_bounds",
    "products",
    "raise_unreachable_products",
    "raise_unreachable_segments",
    "scalar",
    "segments",
]

Array = NDArray[np.float64]
EXAMPLES_SHOWN = 5
_PROBABILITY = POLICY_INPUTS["fill_rate"]
RANGES = {
    "target": _PROBABILITY,
    "floor": _PROBABILITY,
    "ceiling": _PROBABILITY,
    "segment_floor": _PROBABILITY,
    "segment_ceiling": _PROBABILITY,
    "weight": Interval(0.0, math.inf, True, False, "a weight is mean demand per period, >= 0"),
    "ltd_sd": POLICY_INPUTS["lead_time_demand_sd"],
    "order_qty": POLICY_INPUTS["safety_factor"],  # finite here; > 0 where ltd_sd > 0, below
    "unit_value": POLICY_INPUTS["safety_factor"],
}


@dataclass(frozen=True)
class Products:
    """The uncertain products (sigma > 0), on which all the work happens, and the totals."""

    rows: NDArray[np.intp]
    weight: Array
    order_qty: Array
    sigma: Array
    unit_value: Array
    size: int
    certain_weight: float  # sigma = 0: never short, fill 1
    total_weight: float
    all_weight: Array  # every product's, for per-segment totals

    def sample(self, every: slice) -> Products:
        """Every n-th uncertain product, its weight scaled to stand for all of them."""
        weight = self.weight[every]
        scale = self.weight.sum() / weight.sum() if weight.sum() > 0 else 1.0
        return Products(
            self.rows[every], weight * scale, self.order_qty[every], self.sigma[every],
            self.unit_value[every], self.size, self.certain_weight, self.total_weight,
            self.all_weight,
        )  # fmt: skip

    def fill(self, k: Array) -> Array:
        return _expected_fill_rate(k, self.sigma, self.order_qty)

    def aggregate(self, k: Array) -> float:
        return (self.certain_weight + self.weight @ self.fill(k)) / self.total_weight

    def plan(self, k: Array, k_min: float, multiplier: float) -> dict:
        """The ServicePlan fields for all products, from k on the uncertain ones."""
        full_k = np.full(self.size, k_min)
        full_k[self.rows] = k
        fill = np.ones(self.size)
        fill[self.rows] = uncertain_fill = self.fill(k)
        value = np.zeros(self.size)
        value[self.rows] = self.unit_value * self.sigma * k
        return {
            "k": full_k,
            "fill_rate": fill,
            "safety_stock_value": value,
            "total_safety_stock_value": float(value.sum()),
            "aggregate_fill_rate": (self.certain_weight + self.weight @ uncertain_fill)
            / self.total_weight,
            "multiplier": multiplier,
        }


def products(weight, order_qty, ltd_sd, unit_value) -> Products:
    """Validated products; one StrataError lists every bad input."""
    a = check_policy_inputs(
        RANGES, weight=weight, order_qty=order_qty, ltd_sd=ltd_sd, unit_value=unit_value
    )
    a = {name: np.atleast_1d(values).ravel() for name, values in a.items()}
    uncertain = a["ltd_sd"] > 0
    problems = [
        _not_positive(a[name], uncertain, name, fix)
        for name, fix in (
            ("order_qty", "give every product with uncertain demand its lot size in units"),
            ("unit_value", "give every product with uncertain demand the value of one unit"),
        )
    ]
    if float(a["weight"].sum()) <= 0:
        problems.append("the weights sum to 0: give at least one product its mean demand")
    if problems := [p for p in problems if p]:
        raise StrataError("bad optimiser input: " + "; ".join(problems))
    rows = np.flatnonzero(uncertain)
    return Products(
        rows=rows,
        weight=a["weight"][rows],
        order_qty=a["order_qty"][rows],
        sigma=a["ltd_sd"][rows],
        unit_value=a["unit_value"][rows],
        size=uncertain.size,
        certain_weight=float(a["weight"][~uncertain].sum()),
        total_weight=float(a["weight"].sum()),
        all_weight=a["weight"],
    )


def _not_positive(values: Array, uncertain: NDArray[np.bool_], name: str, fix: str) -> str:
    bad = np.flatnonzero(uncertain & ~(values > 0))
    if bad.size == 0:
        return ""
    shown = ", ".join(f"{name}[{i}] = {values[i]:g}" for i in bad[:EXAMPLES_SHOWN])
    more = ", ..." if bad.size > EXAMPLES_SHOWN else ""
    return (
        f"{name} must be > 0 wherever ltd_sd > 0, but {bad.size} of {values.size} products "
        f"have {name} <= 0 ({shown}{more}); {fix}"
    )


def scalar(name: str, value: float) -> float:
    ranges = RANGES | {"k_min": POLICY_INPUTS["k_min"]}
    return float(check_policy_inputs(ranges, **{name: value})[name])


def raise_unreachable_segments(room, ceiling, names, target: float, reachable: float) -> None:
    """room: per segment, the demand weight still unfilled at its ceiling."""
    worst = [s for s in np.argsort(-room, kind="stable")[:3] if ceiling[s] < target]
    shown = ", ".join(
        f"{names[s]!r} (ceiling {ceiling[s]:g}, {room[s] / room.sum():.0%} of the shortfall)"
        for s in worst
    )
    raise StrataError(
        f"target aggregate fill rate {target:g} cannot be met: with every segment at its "
        f"fill-rate ceiling the most reachable is {reachable:.6f}; raise the ceilings of "
        f"{shown} or lower the target"
    )


def segments(
    code, floor, ceiling, names, size: int
) -> tuple[NDArray[np.intp], Array, Array, list[str]]:
    """Validated segment codes (0 .. S-1 per product), floors, ceilings and names."""
    rates = check_policy_inputs(RANGES, segment_floor=floor, segment_ceiling=ceiling)
    raw = np.broadcast_to(np.asarray(code), (size,))
    shape = [np.size(v) for v in rates.values() if np.ndim(v)] + ([len(names)] if names else [])
    n_segments = shape[0] if shape else int(raw.max(initial=-1)) + 1
    bad = np.flatnonzero((raw != np.round(raw)) | (raw < 0) | (raw >= n_segments))
    if bad.size:
        raise StrataError(
            f"segment_code must be an integer in 0..{n_segments - 1} for every product; "
            f"{bad.size} products are not (rows {', '.join(map(str, bad[:EXAMPLES_SHOWN]))}): give "
            "every product a segment, and one floor, ceiling and name per segment"
        )
    floor, ceiling = (np.broadcast_to(v, (n_segments,)).astype(np.float64) for v in rates.values())
    names = list(names) if names else [f"segment {s}" for s in range(n_segments)]
    if (inverted := np.flatnonzero(floor > ceiling)).size:
        shown = ", ".join(
            f"{names[s]!r} (floor {floor[s]:g} > ceiling {ceiling[s]:g})" for s in inverted
        )
        raise StrataError(
            f"a segment's fill-rate floor is above its ceiling: {shown}; lower the floor or "
            "raise the ceiling in the segment catalogue"
        )
    return raw.astype(np.intp), floor, ceiling, names


def product_bounds(p: Products, floor, ceiling, k_min: float) -> tuple[Array, Array]:
    """k bounds on the uncertain products from fill-rate floors and ceilings (and k_min)."""
    given = {n: v for n, v in (("floor", floor), ("ceiling", ceiling)) if v is not None}
    rates = check_policy_inputs(RANGES, **given)
    try:
        rates = {n: np.broadcast_to(v, (p.size,)) for n, v in rates.items()}
    except ValueError:
        raise StrataError(
            f"floor and ceiling must be one fill rate or one per product ({p.size}); got "
            + ", ".join(f"{n} of shape {np.shape(v)}" for n, v in rates.items())
        ) from None
    if len(rates) == 2 and (bad := np.flatnonzero(rates["floor"] > rates["ceiling"])).size:
        shown = ", ".join(
            f"row {r}: floor {rates['floor'][r]:g} > ceiling {rates['ceiling'][r]:g}"
            for r in bad[:EXAMPLES_SHOWN]
        )
        raise StrataError(
            f"the fill-rate floor is above the ceiling for {bad.size} products ({shown}"
            f"{', ...' if bad.size > EXAMPLES_SHOWN else ''}); lower those floors or raise "
            "those ceilings"
        )
    rates = {n: v[p.rows] for n, v in rates.items()}
    bounds = [np.full(p.rows.size, k_min), np.full(p.rows.size, math.inf)]
    for i, name in enumerate(("floor", "ceiling")):
        if name in rates:
            bounds[i] = _fill_rate_safety_factor(rates[name], p.order_qty, p.sigma, k_min)
    return bounds[0], bounds[1]


def raise_unreachable_products(p: Products, ceiling, target: float, reachable: float) -> None:
    rates = np.broadcast_to(np.asarray(ceiling, dtype=np.float64), (p.size,))[p.rows]
    low = np.flatnonzero(rates < target)
    heaviest = p.rows[low[np.argsort(-p.weight[low], kind="stable")][:EXAMPLES_SHOWN]]
    raise StrataError(
        f"target aggregate fill rate {target:g} cannot be met: with every product at its "
        f"fill-rate ceiling the most reachable is {reachable:.6f}; raise the ceiling of the "
        f"{low.size} products whose ceiling is below {target:g} (the heaviest by weight: rows "
        f"{', '.join(map(str, heaviest))}) or lower the target"
    )
