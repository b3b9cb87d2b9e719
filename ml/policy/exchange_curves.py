"""Exchange curves per segment (fill and cost on a grid of levels) and marginal allocation on them."""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

from ml.policy.fill_rate import _fill_rate_safety_factor
from ml.policy.optimiser_inputs import Products

__all__ = [
    "binned_products",
    "level_grid",
    "marginal_allocation",
    "refined_curves",
    "segment_curves",
    "upper_concave_hull",
]

Array = NDArray[np.float64]
_BINS = 2048  # per segment, on log(Q / sigma), for catalogues above 8,192 products a segment


def upper_concave_hull(cost: Array, fill: Array) -> list[int]:
    """Indices of the upper concave hull of fill against cost (Andrew's monotone chain); both
    rise with the index, so the first point is kept unless a later one adds fill at no cost."""
    hull: list[int] = [0]
    for j in range(1, cost.size):
        if cost[j] <= cost[hull[-1]]:
            if fill[j] > fill[hull[-1]]:
                hull[-1] = j
            continue
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            turn = (cost[a] - cost[o]) * (fill[j] - fill[o]) - (fill[a] - fill[o]) * (
                cost[j] - cost[o]
            )
            if turn < 0:
                break
            hull.pop()
        hull.append(j)
    return hull


def marginal_allocation(fill: Array, cost: Array, needed: float):
    """Hull vertex per segment after buying the best fill-per-cost steps until ``needed``
    demand-weighted fill is reached; the last step (segment, from, to) or None; its cost rate."""
    hulls = [upper_concave_hull(c, f) for c, f in zip(cost, fill, strict=True)]
    chosen = np.array([h[0] for h in hulls])
    have = fill[np.arange(chosen.size), chosen].sum()
    steps = [
        (s, a, b)
        for s, h in enumerate(hulls)
        for a, b in itertools.pairwise(h)
        if fill[s, b] > fill[s, a]
    ]
    if have >= needed or not steps:
        return chosen, None, 0.0
    s, a, b = (np.array(v) for v in zip(*steps, strict=True))
    gain, spend = fill[s, b] - fill[s, a], cost[s, b] - cost[s, a]
    with np.errstate(divide="ignore"):
        order = np.lexsort((np.arange(s.size), -gain / spend))
    reached = have + np.cumsum(gain[order])
    position = min(int(np.searchsorted(reached, needed)), order.size - 1)
    taken, last = order[:position], order[position]
    np.maximum.at(chosen, s[taken], b[taken])  # the steps of a segment are taken in hull order
    return chosen, (int(s[last]), int(a[last]), int(b[last])), float(spend[last] / gain[last])


def binned_products(p: Products, code_u, n_segments: int) -> tuple[Products, NDArray[np.intp]]:
    """Pseudo-products for the exchange curves of a large catalogue: a product's fill and cost
    at beta depend on it only through x = Q / sigma (with weights w and v sigma), so per segment
    bins of log x, each carried by one w-weighted and one cost-weighted mean x, stand in for it.
    The curves only choose the levels; fills, k and costs are then computed exactly."""
    if p.rows.size <= 4 * n_segments * _BINS:
        return p, code_u
    log_x = np.log(p.order_qty / p.sigma)
    low, span = log_x.min(), max(float(np.ptp(log_x)), 1e-12)
    key = code_u * _BINS + np.minimum(((log_x - low) / span * _BINS).astype(np.intp), _BINS - 1)
    cost = p.unit_value * p.sigma
    parts = []
    for carried, is_weight in ((p.weight, True), (cost, False)):
        total = np.bincount(key, carried, n_segments * _BINS)
        bins = np.flatnonzero(total > 0)
        mean = np.bincount(key, carried * log_x, n_segments * _BINS)[bins] / total[bins]
        parts.append((bins, total[bins], np.exp(mean), is_weight))
    bins, total, x = (np.concatenate([part[i] for part in parts]) for i in range(3))
    carries_weight = np.concatenate([np.full(part[0].size, part[3]) for part in parts])
    pseudo = Products(
        np.arange(bins.size), np.where(carries_weight, total, 0.0), x, np.ones(bins.size),
        np.where(carries_weight, 0.0, total), bins.size, 0.0, p.total_weight, p.all_weight,
    )  # fmt: skip
    return pseudo, bins // _BINS


def refined_curves(p, code_u, grid, fill, cost, target: float, k_min: float, certain: Array):
    """The curves with a second, finer grid around each segment's coarse choice (the last
    segment's whole step), which cuts the coarse grid's chord error about (levels / 2)²-fold."""
    chosen, last, _ = marginal_allocation(fill, cost, target * p.total_weight)
    rows = np.arange(grid.shape[0])
    right = chosen + 1 if last is None else np.where(rows == last[0], last[2], chosen + 1)
    fine = level_grid(
        grid[rows, np.maximum(chosen - 1, 0)],
        grid[rows, np.minimum(right, grid.shape[1] - 1)],
        max(grid.shape[1] // 2, 3),
    )
    fine_fill, fine_cost = segment_curves(p, code_u, fine, k_min, certain)
    merged = [
        np.concatenate(pair, axis=1)
        for pair in ((grid, fine), (fill, fine_fill), (cost, fine_cost))
    ]
    order = np.argsort(merged[0], axis=1, kind="stable")
    return tuple(np.take_along_axis(a, order, axis=1) for a in merged)


def level_grid(floor: Array, ceiling: Array, levels: int) -> Array:
    """Per segment, ``levels`` fill rates from floor to ceiling, geometric in 1 - beta."""
    ratio = ((1.0 - ceiling) / (1.0 - floor))[:, None]
    return 1.0 - (1.0 - floor)[:, None] * ratio ** np.linspace(0.0, 1.0, levels)


def segment_curves(p, code_u, grid, k_min: float, certain: Array) -> tuple[Array, Array]:
    """Per segment and level: sum of w_i fill_i (certain products count as filled) and of
    v_i sigma_i k_i, one vectorised pass over the products per level."""
    n_segments, n_levels = grid.shape
    fill = np.empty(grid.shape)
    cost = np.empty(grid.shape)
    unit = p.unit_value * p.sigma
    for j in range(n_levels):
        k = _fill_rate_safety_factor(grid[code_u, j], p.order_qty, p.sigma, k_min)
        fill[:, j] = certain + np.bincount(code_u, p.weight * p.fill(k), n_segments)
        cost[:, j] = np.bincount(code_u, unit * k, n_segments)
    return fill, cost
