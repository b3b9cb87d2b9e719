"""Service-level optimiser: the least safety-stock value that meets an aggregate fill-rate target."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr, ndtr, ndtri

from ml.policy.exchange_curves import (
    binned_products,
    level_grid,
    marginal_allocation,
    refined_curves,
    segment_curves,
)
from ml.policy.fill_rate import DEFAULT_K_MIN, _expected_fill_rate, _fill_rate_safety_factor
from ml.policy.optimiser_inputs import (
    Products,
    product_bounds,
    products,
    raise_unreachable_products,
    raise_unreachable_segments,
    scalar,
    segments,
)
from ml.policy.solvers import _lowest_feasible

__all__ = [
    "SegmentServicePlan",
    "ServicePlan",
    "UniformServicePlan",
    "optimise_per_product",
    "optimise_per_segment",
    "uniform_cycle_service",
    "uniform_fill_rate",
]

Array = NDArray[np.float64]
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SAMPLE = 20_000
DEFAULT_LEVELS = 32


@dataclass(frozen=True)
class ServicePlan:
    """Per product: safety factor k, fill rate 1 - sigma L(k) / Q, safety-stock value v sigma k.

    ``multiplier`` is the Lagrange multiplier: the safety-stock value one more unit of
    demand-weighted fill (sum of w_i beta_i) costs at the optimum; 0 when the lower bounds
    already meet the target, NaN for a uniform rule.
    """

    k: Array
    fill_rate: Array
    safety_stock_value: Array
    total_safety_stock_value: float
    aggregate_fill_rate: float  # sum w_i fill_i / sum w_i
    multiplier: float


@dataclass(frozen=True)
class UniformServicePlan(ServicePlan):
    """One rule for every product; ``level`` is its fill rate or cycle service level."""

    level: float


@dataclass(frozen=True)
class SegmentServicePlan(ServicePlan):
    """One fill-rate target per segment code (``segment_level``) and what each segment gets."""

    segment_level: Array
    segment_fill_rate: Array  # demand-weighted achieved fill of the segment's products
    segment_safety_stock_value: Array


def _k_at_fill(p: Products, fill: Array | float | None, k_min: float, empty: float) -> Array:
    if fill is None:
        return np.full(p.rows.size, empty)
    return _fill_rate_safety_factor(fill, p.order_qty, p.sigma, k_min)


def _reachable(p: Products, k_high: Array) -> float:
    """The aggregate fill with every product at its upper bound (inf: fill 1)."""
    capped = np.isfinite(k_high)
    fill = np.ones(k_high.size)
    fill[capped] = _expected_fill_rate(k_high[capped], p.sigma[capped], p.order_qty[capped])
    return (p.certain_weight + p.weight @ fill) / p.total_weight


def optimise_per_product(
    weight: ArrayLike,
    order_qty: ArrayLike,
    ltd_sd: ArrayLike,
    unit_value: ArrayLike,
    target: float,
    *,
    floor: ArrayLike | None = None,
    ceiling: ArrayLike | None = None,
    k_min: float = DEFAULT_K_MIN,
) -> ServicePlan:
    """min sum v_i sigma_i k_i  s.t.  sum w_i beta_i(k_i) / sum w_i >= target, each k_i bounded.

    beta_i(k) = 1 - sigma_i L(k) / Q_i (Silver, Pyke & Thomas 2017, ch. 6, P2) is concave in k,
    so the Lagrangian optimum is exact: stationarity gives 1 - Phi(k_i) = v_i Q_i / (lambda w_i),
    clipped to [max(k_min, k at floor_i), k at ceiling_i] — the safety-stock allocation across
    items with one multiplier for the aggregate service (Silver, Pyke & Thomas 2017, ch. 7, the
    exchange curve of total safety stock against aggregate service; Axsäter 2015, ch. 5).
    lambda is found by safeguarded Newton on log lambda. sigma = 0 products get k_min and fill 1.
    Where the clipped formula floors beta at 0 (sigma L(k) > Q) the fill is no longer concave
    and the solution follows the unclipped stationarity condition.
    """
    p = products(weight, order_qty, ltd_sd, unit_value)
    target, k_min = scalar("target", target), scalar("k_min", k_min)
    low, high = product_bounds(p, floor, ceiling, k_min)
    reachable = _reachable(p, high)
    if reachable < target:
        raise_unreachable_products(p, ceiling, target, reachable)
    if p.aggregate(low) >= target:
        return ServicePlan(**p.plan(low, k_min, 0.0))
    with np.errstate(divide="ignore"):
        log_ratio = np.log(p.unit_value * p.order_qty) - np.log(p.weight)  # log(v Q / w)
    start = float(np.min(log_ratio - log_ndtr(-low)))  # every product at its lower bound
    # A solve on a systematic sample of ~20,000 products gives Newton a start near the root.
    every = slice(None, None, max(1, p.rows.size // _SAMPLE))
    sample = _multiplier_gap(p.sample(every), log_ratio[every], low[every], high[every], target)
    gap = _multiplier_gap(p, log_ratio, low, high, target)
    log_lambda = _lowest_feasible(gap, start, start=_lowest_feasible(sample, start))
    k = _multiplier_k(log_lambda, log_ratio, low, high)[0]
    return ServicePlan(**p.plan(k, k_min, math.exp(log_lambda)))


def _multiplier_k(log_lambda: float, log_ratio: Array, low: Array, high: Array):
    """k from stationarity, 1 - Phi(k) = v Q / (lambda w), clipped; and 1 - Phi(k) unclipped."""
    tail = np.exp(np.clip(log_ratio - log_lambda, -700.0, 0.0))
    return np.clip(-ndtri(tail), low, high), tail


def _multiplier_gap(p: Products, log_ratio: Array, low: Array, high: Array, target: float):
    """gap(log lambda): aggregate fill minus target at the multiplier, and its slope."""

    coefficient = p.weight * p.sigma / p.order_qty / p.total_weight / _INV_SQRT_2PI

    def gap(log_lambda: float) -> tuple[float, float]:
        k, tail = _multiplier_k(log_lambda, log_ratio, low, high)
        fill = p.fill(k)
        # dk / dlog lambda = (1 - Phi) / phi where k is inside its bounds and fill above 0
        free = (k > low) & (k < high) & (fill > 0)
        with np.errstate(over="ignore", invalid="ignore"):
            rate = np.where(free, tail * tail * np.exp(0.5 * k * k), 0.0)
        return (p.certain_weight + p.weight @ fill) / p.total_weight - target, coefficient @ rate

    return gap


def uniform_fill_rate(
    weight: ArrayLike,
    order_qty: ArrayLike,
    ltd_sd: ArrayLike,
    unit_value: ArrayLike,
    target: float,
    *,
    k_min: float = DEFAULT_K_MIN,
) -> UniformServicePlan:
    """The one fill-rate target for all (k solving L(k) = Q (1 - P2) / sigma, >= k_min) that
    just meets the aggregate target: the baseline the optimisers are measured against.

    Silver, Pyke & Thomas (2017), ch. 6 (decision rule for a specified P2). Every product's fill
    is at least the common target, so it lies in [0, target]; level 0 means k_min alone meets it.
    """
    p = products(weight, order_qty, ltd_sd, unit_value)
    target, k_min = scalar("target", target), scalar("k_min", k_min)

    at_k_min = p.fill(np.full(p.rows.size, k_min))
    gap = _level_gap(p.weight, at_k_min, p.certain_weight, p.total_weight, target)
    level = 0.0 if gap(0.0)[0] >= 0 else _lowest_feasible(gap, 0.0, target)
    k = _k_at_fill(p, level, k_min, k_min)
    return UniformServicePlan(**p.plan(k, k_min, math.nan), level=level)


def _level_gap(weight: Array, at_k_min: Array, others: float, total: float, target: float):
    """gap(beta): aggregate fill minus target when these products plan beta, and its slope.

    A product's k for beta is above k_min exactly where its fill at k_min is below beta, and
    then its fill is beta: so its fill is max(beta, fill at k_min), with no k to solve.
    """

    def gap(beta: float) -> tuple[float, float]:
        aggregate = (others + weight @ np.maximum(beta, at_k_min)) / total
        return aggregate - target, weight[at_k_min < beta].sum() / total

    return gap


def uniform_cycle_service(
    weight: ArrayLike,
    order_qty: ArrayLike,
    ltd_sd: ArrayLike,
    unit_value: ArrayLike,
    target: float,
    *,
    k_min: float = DEFAULT_K_MIN,
) -> UniformServicePlan:
    """The one cycle service level alpha (k = Phi⁻¹(alpha) for all, >= k_min) that just meets the
    aggregate fill-rate target; ``level`` is alpha.

    Silver, Pyke & Thomas (2017), ch. 6 (specified P1: one safety factor for every item).
    """
    p = products(weight, order_qty, ltd_sd, unit_value)
    target, k_min = scalar("target", target), scalar("k_min", k_min)

    def gap(z: float) -> tuple[float, float]:
        fill = p.fill(np.full(p.rows.size, z))
        rising = (fill > 0) & (fill < 1)  # d fill / dz = sigma (1 - Phi(z)) / Q
        slope = p.weight[rising] @ (p.sigma[rising] / p.order_qty[rising]) * ndtr(-z)
        return (
            p.certain_weight + p.weight @ fill
        ) / p.total_weight - target, slope / p.total_weight

    z = k_min if gap(k_min)[0] >= 0 else _lowest_feasible(gap, k_min)
    plan = p.plan(np.full(p.rows.size, z), k_min, math.nan)
    return UniformServicePlan(**plan, level=float(ndtr(z)))


def optimise_per_segment(
    segment_code: ArrayLike,
    weight: ArrayLike,
    order_qty: ArrayLike,
    ltd_sd: ArrayLike,
    unit_value: ArrayLike,
    target: float,
    *,
    segment_floor: ArrayLike,
    segment_ceiling: ArrayLike,
    k_min: float = DEFAULT_K_MIN,
    levels: int = DEFAULT_LEVELS,
    segment_names: Sequence[str] | None = None,
) -> SegmentServicePlan:
    """One fill-rate target beta_s per segment (each product plans k for beta_s, >= k_min, so its
    fill is >= beta_s) that minimises total safety-stock value s.t. the aggregate target.

    Marginal analysis on exchange curves (Silver, Pyke & Thomas 2017, ch. 7; Fox 1966, marginal
    allocation): each segment's (cost, demand-weighted fill) at ``levels`` targets from its floor
    to its ceiling (geometric in 1 - beta), then at levels / 2 more around the first choice; hull
    steps bought by fill per unit cost (the Lagrangian over segments) until the target is near.
    The last step is solved exactly, for whichever one segment meets the target cheapest, and
    the common level for all (the uniform rule within the bounds) is kept if it is cheaper; the
    aggregate meets the target to 1e-8. Codes 0 .. S-1 index the floors, ceilings and names.
    """
    p = products(weight, order_qty, ltd_sd, unit_value)
    target, k_min = scalar("target", target), scalar("k_min", k_min)
    code, floor, ceiling, names = segments(
        segment_code, segment_floor, segment_ceiling, segment_names, p.size
    )
    n_segments = floor.size
    weight_all = np.bincount(code, p.all_weight, n_segments)
    code_u = code[p.rows]
    certain = weight_all - np.bincount(code_u, p.weight, n_segments)
    at_k_min = p.fill(np.full(p.rows.size, k_min))  # a product's fill at beta: max(beta, this)
    top = np.bincount(code_u, p.weight * np.maximum(ceiling[code_u], at_k_min), n_segments)
    if (reachable := (certain.sum() + top.sum()) / p.total_weight) < target:
        raise_unreachable_segments(weight_all - certain - top, ceiling, names, target, reachable)
    bounds = (floor, ceiling, at_k_min, certain, target)
    level, k, multiplier = _segment_levels(p, code_u, bounds, k_min, max(int(levels), 2))
    plan = p.plan(k, k_min, multiplier)
    with np.errstate(divide="ignore", invalid="ignore"):
        segment_fill = np.bincount(code, p.all_weight * plan["fill_rate"], n_segments) / weight_all
    return SegmentServicePlan(
        **plan,
        segment_level=level,
        segment_fill_rate=segment_fill,
        segment_safety_stock_value=np.bincount(code, plan["safety_stock_value"], n_segments),
    )


def _segment_levels(p, code_u, bounds, k_min: float, levels: int) -> tuple[Array, Array, float]:
    """Levels per segment, k per uncertain product and the multiplier: marginal analysis on the
    (binned) exchange curves, then the cheaper of its exactly solved last step and the common
    level."""
    floor, ceiling, _, certain, target = bounds
    grid = level_grid(floor, ceiling, levels)
    curve_products, curve_code = binned_products(p, code_u, floor.size)
    fill, cost = segment_curves(curve_products, curve_code, grid, k_min, certain)
    grid, fill, cost = refined_curves(
        curve_products, curve_code, grid, fill, cost, target, k_min, certain
    )
    chosen, last, multiplier = marginal_allocation(fill, cost, target * p.total_weight)
    level = grid[np.arange(floor.size), chosen]
    if last is None:
        return level, _k_at_fill(p, level[code_u], k_min, k_min), multiplier
    last_step = _cheapest_last_step(p, code_u, level, *bounds, k_min)
    common = _common_level(p, code_u, *bounds)
    k = _k_at_fill(p, common[code_u], k_min, k_min)
    if (p.unit_value * p.sigma) @ k < last_step[2]:
        return common, k, multiplier
    return last_step[0], last_step[1], multiplier


def _cheapest_last_step(
    p, code_u, level, floor, ceiling, at_k_min, certain, target, k_min
) -> tuple[Array, Array, float]:
    """From the greedy's levels, just short of the target, raise the one segment that meets it
    at least cost, solved exactly (fills and costs exact, not from the grid). The greedy's own
    last step is one candidate; another segment can be cheaper where a curve lies below its hull
    between grid points. Returns the levels, k per uncertain product and the total cost."""
    n_segments = level.size
    fill = np.bincount(code_u, p.weight * np.maximum(level[code_u], at_k_min), n_segments)
    unit = p.unit_value * p.sigma
    k = _k_at_fill(p, level[code_u], k_min, k_min)
    cost = np.bincount(code_u, unit * k, n_segments)
    if certain.sum() + fill.sum() >= target * p.total_weight:
        return level, k, float(cost.sum())
    # Sorted by segment, then by fill at k_min, once: a segment is a contiguous slice, and its
    # fill at beta, sum of w max(beta, f0), is two prefix sums at a binary-searched index.
    order = np.lexsort((at_k_min, code_u))
    start = np.searchsorted(code_u[order], np.arange(n_segments + 1))
    w, f0, q, sd, u = (a[order] for a in (p.weight, at_k_min, p.order_qty, p.sigma, unit))
    best = (math.inf, -1, math.nan)
    for s in range(n_segments):  # one candidate per segment, each over its own products
        rows = slice(start[s], start[s + 1])
        others = certain.sum() + fill.sum() - fill[s]
        gap = _sorted_level_gap(w[rows], f0[rows], others, p.total_weight, target)
        if gap(ceiling[s])[0] < 0:
            continue
        beta = _lowest_feasible(gap, level[s], ceiling[s])
        k_s = _fill_rate_safety_factor(beta, q[rows], sd[rows], k_min)
        best = min(best, (cost.sum() - cost[s] + u[rows] @ k_s, s, beta))
    value, s, level = best[0], best[1], level.copy()
    level[s] = best[2]
    rows = code_u == s
    k[rows] = _fill_rate_safety_factor(level[s], p.order_qty[rows], p.sigma[rows], k_min)
    return level, k, value


def _sorted_level_gap(weight: Array, at_k_min: Array, others: float, total: float, target: float):
    """:func:`_level_gap` for products sorted by their fill at k_min, in O(log n) a call."""
    below = np.concatenate([[0.0], np.cumsum(weight)])
    filled = np.concatenate([[0.0], np.cumsum(weight * at_k_min)])

    def gap(beta: float) -> tuple[float, float]:
        m = int(np.searchsorted(at_k_min, beta))  # these plan k > k_min and fill exactly beta
        aggregate = (others + beta * below[m] + filled[-1] - filled[m]) / total
        return aggregate - target, below[m] / total

    return gap


def _common_level(p, code_u, floor, ceiling, at_k_min, certain, target: float) -> Array:
    """The one fill-rate target for every segment, clipped to each one's bounds, that just meets
    the aggregate: the uniform rule as a candidate, so the answer is never worse than it. Solved
    exactly and cheaply, since a product's fill at beta is max(beta, its fill at k_min)."""
    low, high = floor[code_u], ceiling[code_u]

    def gap(beta: float) -> tuple[float, float]:
        level = np.clip(beta, low, high)
        rising = (level == beta) & (beta > at_k_min)
        aggregate = (certain.sum() + p.weight @ np.maximum(level, at_k_min)) / p.total_weight
        return aggregate - target, p.weight[rising].sum() / p.total_weight

    beta = _lowest_feasible(gap, float(floor.min()), float(ceiling.max()))
    return np.clip(beta, floor, ceiling)
