"""Service classes: one cycle-service level per group of products, chosen by one Lagrangian.

At the per-product optimum (:func:`ml.policy.service_optimiser.optimise_per_product`) product i
plans the safety factor with ``1 - Phi(k_i) = v_i Q_i / (lambda w_i)``: its service depends on
its **cycle value** ``v_i Q_i / w_i`` (unit value x the periods one lot lasts) and on nothing
else. Products of similar cycle value therefore want the same safety factor, i.e. the same
cycle-service level, so groups cut along it (segment x cycle-value band) capture nearly all of
the per-product saving with one target each.

For a group g planning one k_g its safety-stock value is ``k_g A_g`` with ``A_g = sum v_i
sigma_i`` and its demand-weighted fill ``W_g - G(k_g) B_g`` with ``B_g = sum w_i sigma_i / Q_i``
(G the standard normal loss; Silver, Pyke & Thomas 2017, ch. 6, eq. for the fill rate
``P2 = 1 - sigma G(k) / Q``). Stationarity of the Lagrangian gives the closed form
``1 - Phi(k_g) = A_g / (lambda B_g)``, clipped to the group's bounds; the multiplier is found by
bisection on log lambda so the aggregate meets the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

from ml.errors import StrataError
from ml.policy.fill_rate import _expected_fill_rate
from ml.policy.normal import _loss

__all__ = ["ClassPlan", "band_edges", "cycle_value", "optimise_class_levels"]

Array = NDArray[np.float64]
_BISECTION_STEPS = 64  # log lambda to 120 / 2^64: far below any fill-rate resolution
_LOG_LAMBDA_SPAN = (-60.0, 60.0)


@dataclass(frozen=True)
class ClassPlan:
    """One cycle-service level per group and what it gives each product."""

    level: Array  # per group: the cycle-service level Phi(k_g)
    k: Array  # per product
    fill_rate: Array  # per product: 1 - sigma G(k) / Q (1 where sigma = 0)
    safety_stock_value: Array  # per product: v sigma k
    total_safety_stock_value: float
    aggregate_fill_rate: float


def cycle_value(unit_value: ArrayLike, order_qty: ArrayLike, demand_mean: ArrayLike) -> Array:
    """Unit value x periods one lot lasts (Q / d): the dearer a point of service, the higher."""
    d = np.asarray(demand_mean, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(unit_value, dtype=np.float64) * np.asarray(order_qty) / d


def band_edges(values: ArrayLike, bands: int) -> Array:
    """The inner edges cutting ``values`` into ``bands`` equally populated bands (finite only)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if bands < 2 or x.size < bands:
        return np.empty(0)
    edges = np.quantile(x, np.arange(1, bands) / bands)
    return np.unique(edges)


def _group_sums(code: NDArray[np.intp], n: int, w, q, sd, v) -> tuple[Array, Array]:
    """A_g = sum v sigma and B_g = sum w sigma / Q over each group's uncertain products."""
    varies = sd > 0
    a = np.bincount(code, np.where(varies, v * sd, 0.0), n)
    b = np.bincount(code, np.where(varies, w * sd / np.where(varies, q, 1.0), 0.0), n)
    return a, b


def _k(log_lambda: float, a: Array, b: Array, low: Array, high: Array) -> Array:
    """Each group's safety factor for the multiplier exp(log_lambda), within its bounds."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.exp(np.log(a) - np.log(b) - log_lambda)
    k = np.where(b > 0, ndtri(1.0 - np.clip(tail, 0.0, 1.0)), low)
    return np.clip(k, low, high)


class _GroupFill:
    """The aggregate fill rate for one safety factor per group, each product's fill clipped at 0
    as planned, in O(groups x log products): products sorted by Q / sigma within their group,
    with suffix sums of w and w sigma / Q (a product is short of everything once sigma G(k) >= Q).
    """

    def __init__(self, code: NDArray[np.intp], n: int, w: Array, q: Array, sd: Array) -> None:
        varies = sd > 0
        self.total = w.sum()
        self.certain = w[~varies].sum()
        c, ratio, weight = code[varies], q[varies] / sd[varies], w[varies]
        order = np.lexsort((ratio, c))
        c, ratio, weight = c[order], ratio[order], weight[order]
        self.key = c + ratio / (1.0 + ratio)  # rises with the group, then with Q / sigma in it
        self.weight = np.r_[np.cumsum(weight[::-1])[::-1], 0.0]
        self.per_ratio = np.r_[np.cumsum((weight / ratio)[::-1])[::-1], 0.0]
        self.groups = np.arange(n)

    def __call__(self, k_group: Array) -> float:
        loss = _loss(k_group)
        at = np.searchsorted(self.key, self.groups + loss / (1.0 + loss), side="left")
        end = np.searchsorted(self.key, self.groups + 1.0, side="left")
        served = (self.weight[at] - self.weight[end]) - loss * (
            self.per_ratio[at] - self.per_ratio[end]
        )
        return float((self.certain + served.sum()) / self.total)


def _check(floor: Array, ceiling: Array, target: float) -> None:
    if not 0.0 < target < 1.0:
        raise StrataError(f"target fill rate {target} must lie in (0, 1), e.g. 0.97")
    bad = np.flatnonzero(floor > ceiling)
    if bad.size:
        g = int(bad[0])
        raise StrataError(
            f"group {g}: floor {floor[g]:g} is above ceiling {ceiling[g]:g} ({bad.size} such "
            "group(s)); lower the floor or raise the ceiling"
        )


def optimise_class_levels(
    group_code: ArrayLike,
    weight: ArrayLike,
    order_qty: ArrayLike,
    ltd_sd: ArrayLike,
    unit_value: ArrayLike,
    target: float,
    *,
    floor: ArrayLike,
    ceiling: ArrayLike,
    k_min: float = 0.0,
) -> ClassPlan:
    """The cycle-service level per group (codes 0 .. G-1) of least safety-stock value that holds
    the aggregate demand-weighted fill rate ``target``; ``floor`` / ``ceiling`` bound each
    group's level, ``k_min`` every safety factor."""
    code = np.asarray(group_code, dtype=np.intp)
    w, q, sd, v = (np.asarray(x, dtype=np.float64) for x in (weight, order_qty, ltd_sd, unit_value))
    lo_level, hi_level = (np.asarray(x, dtype=np.float64) for x in (floor, ceiling))
    _check(lo_level, hi_level, target)
    n = lo_level.size
    a, b = _group_sums(code, n, w, q, sd, v)
    low = np.maximum(ndtri(lo_level), k_min)
    high = np.maximum(ndtri(hi_level), low)
    all_weight = w.sum()

    varies = sd > 0
    q_safe = np.where(q > 0, q, 1.0)

    def rates(k_group: Array) -> Array:
        k = k_group[code]
        return np.where(varies, _expected_fill_rate(k, sd, q_safe), 1.0)

    fill = _GroupFill(code, n, w, q_safe, sd)

    reachable = fill(high)
    if reachable < target:
        raise StrataError(
            f"the target fill rate {target:.4f} is out of reach: at every group's ceiling the "
            f"aggregate is {reachable:.4f}; raise the ceilings or lower the target"
        )
    lo, hi = _LOG_LAMBDA_SPAN
    if fill(low) >= target:
        k_group = low
    else:
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            if fill(_k(mid, a, b, low, high)) >= target:
                hi = mid
            else:
                lo = mid
        k_group = _k(hi, a, b, low, high)
    k = k_group[code]
    rate = rates(k_group)
    value = np.where(varies, v * sd * k, 0.0)
    return ClassPlan(
        level=ndtr(k_group),
        k=k,
        fill_rate=rate,
        safety_stock_value=value,
        total_safety_stock_value=float(value.sum()),
        aggregate_fill_rate=float(np.sum(w * rate) / all_weight),
    )
