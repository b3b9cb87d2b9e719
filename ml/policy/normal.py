"""The standard normal loss function, its inverse, and the safety factor for a service level.

Notation: ``L(k) = E[(Z - k)^+] = phi(k) - k (1 - Phi(k))`` for a standard normal ``Z``
(Silver, Pyke & Thomas 2017 call it ``G_u(k)``; Snyder & Shen 2019 write it with a script L,
eq. (C.22); Axsäter 2015 writes ``G(k)``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import erfcx, ndtr, ndtri

from ml.policy.validation import check_policy_inputs

__all__ = [
    "cycle_service_level",
    "inverse_standard_normal_loss",
    "safety_factor",
    "standard_normal_loss",
    "standard_normal_second_loss",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_PHI0 = _INV_SQRT_2PI  # L(0) = phi(0)
_MAX_NEWTON_STEPS = 200
_MAX_FAST_STEPS = 8
_TOLERANCE = 1e-12
_FAST_STEP_TOLERANCE = 1e-8
_FAST_MIN_LOSS = 1e-12  # below this (k > ~6.9) the log-space solver takes over
_TABLE_MAX_LOSS = 5.0  # above this k = -loss + L(loss) is already exact to ~1e-7
_TABLE_SIZE = 65537  # ~38 ms once; makes one Newton step enough for ~93% of rows


def _result(values: NDArray[np.float64]) -> NDArray[np.float64] | float:
    """An array, or a plain float for scalar inputs (stockpyl's convention)."""
    return float(values) if values.ndim == 0 else values


def _upper_tail_parts(k: NDArray[np.float64]) -> tuple[NDArray, NDArray, NDArray]:
    """For t = |k|: exp(-t²/2), the scaled tail r(t) = (1 - Phi(t)) exp(t²/2), and L(t) exp(t²/2).

    Working with erfcx keeps L(t) accurate far into the tail, where phi(t) and t(1 - Phi(t))
    both underflow or cancel.
    """
    t = np.abs(k)
    with np.errstate(over="ignore"):
        gauss = np.exp(-0.5 * t * t)
    scaled_tail = 0.5 * erfcx(t * _INV_SQRT2)
    scaled_loss = _INV_SQRT_2PI - t * scaled_tail
    return gauss, scaled_tail, np.maximum(scaled_loss, 0.0)


def _loss(k: NDArray[np.float64]) -> NDArray[np.float64]:
    """L(k) for any real k, via L(-t) = t + L(t) (Snyder & Shen 2019, eqs. (C.22)-(C.23))."""
    gauss, _, scaled_loss = _upper_tail_parts(k)
    return gauss * scaled_loss + np.maximum(-k, 0.0)


def _log_loss_and_slope(k: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    """log L(k) and its derivative -(1 - Phi(k)) / L(k), both without underflow for large k."""
    gauss, scaled_tail, scaled_loss = _upper_tail_parts(k)
    upper = k > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_upper = -0.5 * k * k + np.log(scaled_loss)
        slope_upper = -scaled_tail / scaled_loss
        loss_lower = gauss * scaled_loss - k  # k <= 0: L(k) = |k| + L(|k|) >= phi(0)
        log_lower = np.log(loss_lower)
        slope_lower = -ndtr(-k) / loss_lower
    return np.where(upper, log_upper, log_lower), np.where(upper, slope_upper, slope_lower)


def standard_normal_loss(z: ArrayLike) -> NDArray[np.float64] | float:
    """L(z) = E[(Z - z)^+] = phi(z) - z (1 - Phi(z)), the standard normal loss function.

    Snyder & Shen (2019), *Fundamentals of Supply Chain Theory*, 2nd ed., eq. (C.22); Silver, Pyke
    & Thomas (2017), *Inventory and Production Management in Supply Chains*, 4th ed., ch. 6
    (``G_u(k)``). Accurate for all real z (no cancellation in the upper tail).
    """
    values = check_policy_inputs(z=z)["z"]
    return _result(_loss(values))


def standard_normal_second_loss(z: ArrayLike) -> NDArray[np.float64] | float:
    """L2(z) = ½ E[((Z - z)^+)²] = ½[(z² + 1)(1 - Phi(z)) - z phi(z)].

    Snyder & Shen (2019), eq. (C.27). Used by the (r, Q) loss-function approximation.
    """
    values = check_policy_inputs(z=z)["z"]
    phi = _INV_SQRT_2PI * np.exp(-0.5 * values * values)
    return _result(0.5 * ((values * values + 1.0) * ndtr(-values) - values * phi))


def safety_factor(service_level: ArrayLike) -> NDArray[np.float64] | float:
    """z = Phi⁻¹(service_level): the safety factor that gives a cycle service level.

    Silver, Pyke & Thomas (2017), ch. 6 (specified probability P1 of no stockout per cycle);
    Snyder & Shen (2019), eq. (4.30) with alpha the service level.
    """
    values = check_policy_inputs(service_level=service_level)["service_level"]
    return _result(ndtri(values))


def cycle_service_level(safety_factor: ArrayLike) -> NDArray[np.float64] | float:
    """Phi(k): the probability of no stockout in a replenishment cycle that a safety factor gives.

    The inverse of :func:`safety_factor`. Chopra & Meindl (2016), *Supply Chain Management*, 6th
    ed., ch. 12 (``CSL = F(ROP, D_L, sigma_L)``); Silver, Pyke & Thomas (2017), ch. 6 (P1).
    """
    values = check_policy_inputs(safety_factor=safety_factor)["safety_factor"]
    return _result(ndtr(values))


def inverse_standard_normal_loss(
    loss: ArrayLike, k_min: float = -math.inf
) -> NDArray[np.float64] | float:
    """The k with L(k) = loss, raised to ``k_min`` where the solution lies below it.

    L decreases from +inf to 0, so every positive ``loss`` has exactly one solution: for a large
    loss k ~ -loss (L(k) = -k + L(-k)), for a tiny one k grows like sqrt(-2 log loss). The solver
    is Newton's method on ``log L(k) - log loss`` (log L is concave, so the iterates approach the
    root monotonically once they are right of it), safeguarded by the bracket
    ``[-loss, max(0, sqrt(-2 log(loss·sqrt(2 pi))))]`` and run on whole arrays; rows drop out as
    they converge (|dk| < 1e-12 (1 + |k|)). Used for the fill-rate safety factor
    (Silver, Pyke & Thomas 2017, ch. 6: ``G_u(k) = Q (1 - P2) / sigma_L``) and for the (r, Q)
    loss-function approximation (Snyder & Shen 2019, eq. (5.29)).
    """
    values = check_policy_inputs(loss=loss)["loss"]
    if k_min != -math.inf:
        check_policy_inputs(k_min=k_min)
    return _result(_inverse_loss(values, float(k_min)))


def _inverse_loss(loss: NDArray[np.float64], k_min: float = -math.inf) -> NDArray[np.float64]:
    """The solver behind :func:`inverse_standard_normal_loss`; inputs assumed valid (loss > 0).

    Fast path (loss >= 1e-12, i.e. k below ~7): start from a tabulated inverse (or from
    -loss + L(loss) for a large loss) and polish with Newton's method on L(k) - loss, whose
    derivative is -(1 - Phi(k)); one step (two for ~7% of rows) reaches machine precision.
    Rows that do not converge, and tiny losses, go to the bracketed log-space solver.
    """
    loss = np.asarray(loss, dtype=np.float64)
    k = np.full(loss.shape, k_min, dtype=np.float64)
    # Where L(k_min) <= loss the capped answer is k_min itself: no need to solve.
    todo = np.ones(loss.shape, dtype=bool)
    if math.isfinite(k_min):
        todo = _loss(np.asarray(k_min)) > loss
    flat = np.flatnonzero(todo)
    if flat.size == 0:
        return k
    c = loss.reshape(-1)[flat]
    solved = np.empty_like(c)
    fast = c >= _FAST_MIN_LOSS
    solved[fast], converged = _inverse_loss_newton(c[fast])
    slow = ~fast
    slow[np.flatnonzero(fast)[~converged]] = True
    if slow.any():
        solved[slow] = _inverse_loss_bracketed(c[slow])
    out = k.reshape(-1)
    out[flat] = np.maximum(solved, k_min)
    return out.reshape(loss.shape)


def _loss_and_tail(k: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    """L(k) and 1 - Phi(k) for any real k, from one exp and one erfcx."""
    gauss, scaled_tail, scaled_loss = _upper_tail_parts(k)
    upper_tail = gauss * scaled_tail
    negative = k < 0
    loss = gauss * scaled_loss + np.where(negative, -k, 0.0)
    tail = np.where(negative, 1.0 - upper_tail, upper_tail)
    return loss, tail


@functools.cache
def _inverse_loss_table() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """k at evenly spaced log L(k), computed once (lazily) by the bracketed solver."""
    log_loss = np.linspace(math.log(_FAST_MIN_LOSS), math.log(_TABLE_MAX_LOSS), _TABLE_SIZE)
    return log_loss, _inverse_loss_bracketed(np.exp(log_loss))


def _inverse_loss_newton(c: NDArray[np.float64]) -> tuple[NDArray, NDArray[np.bool_]]:
    """Newton's method on L(k) = c from a tabulated start; also says which rows converged."""
    table_log_loss, table_k = _inverse_loss_table()
    log_c = np.log(c)
    large = c > _TABLE_MAX_LOSS
    # The table is evenly spaced in log L, so the cell is computed, not searched (np.interp's
    # binary search costs more than the Newton steps on a million rows).
    spacing = table_log_loss[1] - table_log_loss[0]
    position = np.clip((log_c - table_log_loss[0]) / spacing, 0.0, table_k.size - 1.000001)
    cell = position.astype(np.intp)
    guess = table_k[cell] + (position - cell) * (table_k[cell + 1] - table_k[cell])
    if large.any():
        guess[large] = -c[large] + _loss(c[large])  # L(k) = -k + L(-k), L(-k) ~ L(c)
    solved = guess.copy()
    converged = np.zeros(c.shape, dtype=bool)
    active = np.arange(c.size)
    for _ in range(_MAX_FAST_STEPS):
        value, tail = _loss_and_tail(guess)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (value - c[active]) / tail
        proposal = guess + step
        # Newton's error after a step is ~ (k/2) step², so a step below 1e-8 leaves ~1e-15.
        done = np.abs(step) <= _FAST_STEP_TOLERANCE * (1.0 + np.abs(guess))
        solved[active[done]] = proposal[done]
        converged[active[done]] = True
        keep = ~done & np.isfinite(proposal)
        active, guess = active[keep], proposal[keep]
        if active.size == 0:
            break
    return solved, converged


def _inverse_loss_bracketed(c: NDArray[np.float64]) -> NDArray[np.float64]:
    """Safeguarded Newton on log L(k) - log c inside a shrinking bracket; robust for any c > 0."""
    log_c = np.log(c)
    low = -c
    with np.errstate(divide="ignore"):
        high = np.where(c >= _PHI0, 0.0, np.sqrt(np.maximum(-2.0 * np.log(c / _PHI0), 0.0)))
    # Start close to the root: for a large loss k = -c + L(|k|) ~ -c + L(c); else the tail bound.
    guess = np.clip(np.where(c >= _PHI0, -c + _loss(c), high), low, high)
    solved = guess.copy()
    active = np.arange(c.size)
    for _ in range(_MAX_NEWTON_STEPS):
        log_loss, slope = _log_loss_and_slope(guess)
        gap = log_loss - log_c[active]
        above = gap > 0  # L(guess) > c: the root is to the right
        low[active] = np.where(above, guess, low[active])
        high[active] = np.where(above, high[active], guess)
        step = -gap / slope
        proposal = guess + step
        done = (np.abs(step) <= _TOLERANCE * (1.0 + np.abs(guess))) | (gap == 0)
        solved[active[done]] = proposal[done]
        lo, hi = low[active], high[active]
        inside = (proposal > lo) & (proposal < hi)
        proposal = np.where(inside, proposal, 0.5 * (lo + hi))
        keep = ~done
        active, guess = active[keep], proposal[keep]
        if active.size == 0:
            break
    solved[active] = guess
    return solved
