"""Marginal allocation over exchange curves: upper concave hulls, steps bought by gain per cost."""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

__all__ = ["marginal_allocation", "upper_concave_hull"]

Array = NDArray[np.float64]


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
