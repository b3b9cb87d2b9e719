"""Vectorised root finders over rows: bracket, integer bisection, safeguarded Newton.

Each solver works on many products at once; ``ltd`` is any row-indexable parameter set with a
``take(rows)`` method (the lead-time demand of :mod:`ml.policy.compound_poisson`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ml.errors import StrataError

__all__ = ["_expand_upper", "_smallest_integer", "_solve_increasing"]

Array = NDArray[np.float64]
_MAX_STEPS = 200
_X_TOLERANCE = 1e-10
_G_TOLERANCE = 1e-12
_NEWTON_ONLY_STEPS = 12  # then rows that stall fall back to bisection


def _expand_upper(g, target, ltd, high) -> Array:
    """Double ``high`` where g(high) < target until the target is bracketed."""
    high = high.copy()
    for _ in range(200):
        short = g(high, ltd) < target
        if not short.any():
            return high
        high[short] = 2.0 * np.abs(high[short]) + 1.0
        # Re-evaluate only the rows still short.
        rows = np.flatnonzero(short)
        still = g(high[rows], ltd.take(rows)) < target[rows]
        if not still.any():
            return high
        high[rows[still]] = 2.0 * np.abs(high[rows[still]]) + 1.0
    raise StrataError(  # pragma: no cover - needs a distribution with no finite quantile
        "could not bracket the lead-time demand quantile; check demand_rate and size statistics"
    )


def _smallest_integer(g, target, ltd, low, high) -> Array:
    """Smallest integer x in (low, high] with g(x) >= target; g rises, g(low) < target."""
    low = np.floor(low)
    high = np.ceil(_expand_upper(g, target, ltd, np.ceil(high)))
    while True:
        open_rows = np.flatnonzero(high - low > 1)
        if open_rows.size == 0:
            return high
        mid = np.floor(0.5 * (low[open_rows] + high[open_rows]))
        reached = g(mid, ltd.take(open_rows)) >= target[open_rows]
        high[open_rows[reached]] = mid[reached]
        low[open_rows[~reached]] = mid[~reached]


def _solve_increasing(g, slope, target, ltd, low, high, start=None) -> Array:
    """x with g(x) = target for increasing continuous g (a probability): safeguarded Newton.

    Newton steps inside a bracket that shrinks with every evaluation; a step leaving the bracket
    is a bisection. After ``_NEWTON_ONLY_STEPS`` steps, any row whose bracket failed to halve in
    two steps bisects too, so it keeps shrinking even where g is nearly flat or nearly vertical
    (a gamma of small shape).
    Stops when |g(x) - target| <= 1e-12 or the bracket is narrower than 1e-10 (1 + |x|).
    """
    low = low.astype(np.float64).copy()
    high = _expand_upper(g, target, ltd, high.astype(np.float64))
    x = 0.5 * (low + high) if start is None else np.clip(start, low, high)
    solved = x.copy()
    active = np.arange(x.size)
    width_before = np.full(x.size, np.inf)  # the bracket width two steps ago
    width_last = np.full(x.size, np.inf)
    for step in range(_MAX_STEPS):
        d = ltd.take(active)
        gap = g(x, d) - target[active]
        below = gap < 0
        low[active] = np.where(below, x, low[active])
        high[active] = np.where(below, high[active], x)
        lo, hi = low[active], high[active]
        done = (np.abs(gap) <= _G_TOLERANCE) | (hi - lo <= _X_TOLERANCE * (1.0 + np.abs(x)))
        solved[active[done]] = x[done]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            proposal = x - gap / slope(x, d)
        inside = np.isfinite(proposal) & (proposal > lo) & (proposal < hi)
        if step >= _NEWTON_ONLY_STEPS:
            inside &= hi - lo <= 0.5 * width_before[active]
        proposal = np.where(inside, proposal, 0.5 * (lo + hi))
        width_before[active] = width_last[active]
        width_last[active] = hi - lo
        keep = ~done
        active, x = active[keep], proposal[keep]
        if active.size == 0:
            return solved
    solved[active] = x
    return solved
