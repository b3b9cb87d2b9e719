"""Root finders: vectorised over rows (bracket, integer bisection, safeguarded Newton) and scalar.

Each solver works on many products at once; ``ltd`` is any row-indexable parameter set with a
``take(rows)`` method (the lead-time demand of :mod:`ml.policy.compound_poisson`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ml.errors import StrataError

__all__ = [
    "_expand_upper",
    "_lowest_feasible",
    "_smallest_integer",
    "_solve_increasing",
]

Array = NDArray[np.float64]
_MAX_STEPS = 200
_X_TOLERANCE = 1e-10
_G_TOLERANCE = 1e-12
_NEWTON_ONLY_STEPS = 12  # then rows that stall fall back to bisection
_FEASIBLE_TOLERANCE = 1e-8  # _lowest_feasible: the gap lands in [0, 1e-8]


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


def _lowest_feasible(
    gap: Callable[[float], tuple[float, float]],
    low: float,
    high: float | None = None,
    *,
    start: float | None = None,
    step: float = 1.0,
) -> float:
    """The smallest x, to tolerance, with gap(x) in [0, 1e-8]; gap(low) < 0 <= gap(high).

    ``gap(x)`` returns (value, slope) of a continuous non-decreasing function; the slope may be
    NaN. Newton's method from ``start`` (default ``low``), aimed at the middle of the band, where
    the slope is known; bisection or regula falsi with the Illinois modification (Dowell &
    Jarratt 1971) inside the bracket otherwise. Without ``high`` the bracket is found by Newton
    steps capped at ``step``, which doubles each time.
    """
    x = low if start is None else start
    g_low = g_high = math.nan
    side = 0
    g = math.nan
    for _ in range(_MAX_STEPS):
        g_before = g
        g, slope = gap(x)
        if 0 <= g <= _FEASIBLE_TOLERANCE:
            return x
        if g > 0:
            high, g_high = x, g
            g_low, side = (0.5 * g_low if side == 1 else g_low), 1
        else:
            low, g_low = x, g
            g_high, side = (0.5 * g_high if side == -1 else g_high), -1
        if high is not None and high - low <= 1e-14 * (1.0 + abs(high)):
            return high
        aim = x - (g - 0.5 * _FEASIBLE_TOLERANCE) / slope if slope > 0 else math.nan
        if high is None:
            stalled = g == g_before  # a slope that does not move the gap: expand instead
            x = min(aim, low + step) if aim > low and not stalled else low + step
            step *= 2.0
        elif low < aim < high:
            x = aim
        elif aim >= high and math.isnan(g_high):  # a given high not evaluated yet
            x = high
        elif math.isnan(g_low) or math.isnan(g_high):
            x = 0.5 * (low + high)
        else:
            x = (low * g_high - high * g_low) / (g_high - g_low)
            x = x if low < x < high else 0.5 * (low + high)
    if high is None:  # pragma: no cover - gap never reached 0
        raise StrataError("could not bracket the target; check the inputs")
    return high
