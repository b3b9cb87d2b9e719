"""Compiled Poisson-gamma mixture: its cdf, loss and density at a point, and its reorder points.

Compound Poisson lead-time demand with gamma sizes (shape ``s``, scale ``theta``) over ``m``
expected occurrences is the mixture ``e^-m [x >= 0] + sum_k w_k Gamma(k s, theta)`` with Poisson
weights ``w_k = e^-m m^k / k!`` (Axsäter 2015, *Inventory Control*, 3rd ed., ch. 5). At
``z = x / theta`` each term needs one regularised upper incomplete gamma ``Q(a, z)``, ``a = k s``
(scipy's own, called from compiled code), and ``t = z^a e^-z / Gamma(a + 1)``:

- cdf term ``1 - Q(a, z)``;
- loss term ``E[(X_k - x)^+] = a theta Q(a + 1, z) - x Q(a, z)`` (Zipkin 2000, eq. (C.14)) with
  ``Q(a + 1, z) = Q(a, z) + t`` (DLMF 8.8.2), so no second incomplete gamma;
- density term ``t a / x``.

Exactness: terms are kept until the Poisson tail beyond them is below ``_TAIL_MASS`` (never more
than :func:`ml.policy.compound_poisson._mixture_size`), and a term's ``Q`` is taken as 0 or 1
only where a bound proves it within ``_NEGLIGIBLE`` of that (in the cdf, and relative to the mean
in the loss): ``Q(a, z) <= t a / (z - max(a - 1, 0))`` for ``z > a`` and
``1 - Q(a, z) <= t (a + 1) / (a + 1 - z)`` for ``z <= a`` (from the integral and the series of the
incomplete gamma, DLMF 8.7.3 / 8.11). Everything else is the exact sum, in double precision.

The solvers are the safeguarded Newton of :func:`ml.policy.solvers._solve_increasing` run per row
in compiled code (the loop over rows is compiled, not Python), with the upper end of the bracket
checked only if an iterate needs it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import get_num_threads, njit, parallel_chunksize, prange
from numpy.typing import NDArray

from ml.compiled_special import gammaincc as _gammaincc
from ml.compiled_special import link

__all__ = [
    "PeriodicRates",
    "mixture_fill_rate_reorder_points",
    "mixture_policies",
    "mixture_quantiles",
    "mixture_values",
    "parallel_chunks",
]

Array = NDArray[np.float64]
_TAIL_MASS = 1e-16  # Poisson terms beyond this upper-tail mass are dropped
_NEGLIGIBLE = 1e-18  # a term's Q within this of 0 or 1 (bounded) is taken as 0 or 1
_MAX_STEPS = 200
_X_TOLERANCE = 1e-10
_G_TOLERANCE = 1e-12
_START_TOLERANCE = 1e-9  # the moment-matched gamma's answer is only a start
_NEWTON_ONLY_STEPS = 12
CHUNKS_PER_THREAD = 16  # runs of rows per numba thread (parallel_chunks)


class PeriodicRates(NamedTuple):
    """Rows whose fill rate is the periodic review's, 1 - [n_{L+R}(S) - n_L(S)] / E[D_R]."""

    offset: Array  # S - max(r, 0) per row; NaN: the row keeps the (r, Q) fill rate
    lead_occurrences: Array  # expected occurrences over the lead time alone, per row
    per_review: Array  # expected demand of one review period, per row (> 0 where periodic)


@njit(cache=True)
def _terms(m: float, shape: float, max_terms: int, w: Array, a: Array, lga: Array) -> int:
    """Fill the Poisson weights, gamma shapes and log Gamma(a + 1) of one row; their count: at
    most the row's own ``_mixture_size`` (and ``max_terms``, the scratch's length), so a row's
    terms do not depend on the other rows of its call."""
    log_m = math.log(m)
    n = 0
    own = math.ceil(m + 7.5 * math.sqrt(m) + 12.0)  # as compound_poisson._mixture_size
    for k in range(1, min(own, max_terms) + 1):
        wk = math.exp(k * log_m - m - math.lgamma(k + 1.0))
        w[n] = wk
        a[n] = k * shape
        lga[n] = math.lgamma(k * shape + 1.0)
        n += 1
        # Once k + 1 > m, sum_{j >= k} w_j <= w_k (k + 1) / (k + 1 - m) (a geometric bound): the
        # cdf mass dropped and the loss dropped relative to the mean, sum_{j > k} j w_j / m.
        if k + 1.0 > m and wk * (k + 1.0) / (k + 1.0 - m) < _TAIL_MASS:
            break
    return n


@njit(cache=True)
def _at(
    x: float, n: int, w: Array, a: Array, lga: Array, atom: float, scale: float, mean: float
) -> tuple[float, float, float, float]:
    """cdf, loss E[(X - x)^+], density and the density's slope of the mixture at x."""
    if x < 0.0:
        return 0.0, mean - x, 0.0, 0.0
    if x == 0.0:
        return atom, mean, 0.0, 0.0
    z = x / scale
    log_z = math.log(z)
    cdf = atom
    loss = 0.0
    dens = 0.0  # x times the density: sum w t a
    curve = 0.0  # sum w t a (a - 1), for the density's slope
    inv_mean = 1.0 / mean
    for i in range(n):
        ak = a[i]
        wk = w[i]
        t = math.exp(ak * log_z - z - lga[i])
        mu = ak * scale
        weight = wk * max(1.0, (x + mu) * inv_mean)  # a Q error's reach into cdf and loss
        if z > ak:
            q = 0.0
            if weight * t * ak / (z - max(ak - 1.0, 0.0)) > _NEGLIGIBLE:
                q = _gammaincc(ak, z, 0)
        else:
            q = 1.0
            if weight * t * (ak + 1.0) / (ak + 1.0 - z) > _NEGLIGIBLE:
                q = _gammaincc(ak, z, 0)
        cdf += wk * (1.0 - q)
        loss += wk * ((mu - x) * q + mu * t)
        dens += wk * t * ak
        curve += wk * t * ak * (ak - 1.0)
    # f_k(x) = t a / x and f_k'(x) = f_k(x) ((a - 1) / x - 1 / theta)
    return cdf, loss, dens / x, (curve / x - dens / scale) / x


@njit(cache=True, parallel=True)
def _values(
    x: Array, m: Array, shape: Array, scale: Array, max_terms: int, chunks: int
) -> tuple[Array, Array, Array]:
    """cdf, loss and density per row, the rows cut into ``chunks`` runs evaluated in parallel
    (a row's numbers depend on its own inputs only)."""
    n_rows = x.size
    cdf, loss, dens = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)
    for c in prange(chunks):
        w, a, lga = np.empty(max_terms), np.empty(max_terms), np.empty(max_terms)
        for i in range(c * n_rows // chunks, (c + 1) * n_rows // chunks):
            n = _terms(m[i], shape[i], max_terms, w, a, lga)
            cdf[i], loss[i], dens[i], _ = _at(
                x[i], n, w, a, lga, math.exp(-m[i]), scale[i], m[i] * shape[i] * scale[i]
            )
    return cdf, loss, dens


@njit(cache=True)
def _gap(
    fill: bool,
    x: float,
    target: float,
    q: float,
    n: int,
    w: Array,
    a: Array,
    lga: Array,
    atom: float,
    scale: float,
    mean: float,
) -> tuple[float, float, float, float, float]:
    """g(x) - target, g'(x), g''(x), n(x) and n(x + Q) (NaN for the cdf): g the fill rate of
    (x, Q) when ``fill``, else the cdf.

    The fill rate's slope is [F(x + Q) - F(x)] / Q and its curvature [f(x + Q) - f(x)] / Q."""
    f0, n0, d0, s0 = _at(x, n, w, a, lga, atom, scale, mean)
    if not fill:
        return f0 - target, d0, s0, n0, np.nan
    f1, n1, d1, _ = _at(x + q, n, w, a, lga, atom, scale, mean)
    return _fill_rate(n0, n1, q) - target, (f1 - f0) / q, (d1 - d0) / q, n0, n1


@njit(cache=True)
def _fill_rate(n0: float, n1: float, q: float) -> float:
    """1 - [n(r) - n(r + Q)] / Q in [0, 1], as ml.policy.intermittent._fill_rate computes it."""
    return min(max(1.0 - (n0 - n1) / q, 0.0), 1.0)


@njit(cache=True)
def _solve(
    fill: bool,
    target: float,
    q: float,
    low: float,
    high: float,
    start: float,
    g_tolerance: float,
    n: int,
    w: Array,
    a: Array,
    lga: Array,
    atom: float,
    scale: float,
    mean: float,
) -> tuple[float, float, float]:
    """x with g(x) = target, g rising, g(low) < target: _solve_increasing for one row; and
    n(x), n(x + Q) from the evaluation at x (NaN where not evaluated there)."""
    high_known = False  # g(high) >= target checked (the solvers' _expand_upper, on demand)
    x = min(max(start, low), high)
    width_before = np.inf
    width_last = np.inf
    for step in range(_MAX_STEPS):
        gap, slope, curve, n0, n1 = _gap(fill, x, target, q, n, w, a, lga, atom, scale, mean)
        if gap < 0.0:
            low = x
        else:
            high = x
            high_known = True
        # done: g within tolerance and (where g is flat) the Newton step left within x's
        # tolerance too, or the bracket that narrow
        near = abs(gap) <= g_tolerance and abs(gap) <= _X_TOLERANCE * (1.0 + abs(x)) * slope
        if near or (high_known and high - low <= _X_TOLERANCE * (1.0 + abs(x))):
            return x, n0, n1
        # Halley's step (cubic convergence, the curvature costs nothing extra), else Newton's
        halley = 2.0 * slope * slope - gap * curve
        proposal = np.nan
        if halley > 0.0 and slope > 0.0:
            proposal = x - 2.0 * gap * slope / halley
        if not low < proposal < high and slope != 0.0:
            proposal = x - gap / slope
        inside = np.isfinite(proposal) and low < proposal < high
        if step >= _NEWTON_ONLY_STEPS:
            inside = inside and high - low <= 0.5 * width_before
        if not inside:
            while not high_known:
                if _gap(fill, high, target, q, n, w, a, lga, atom, scale, mean)[0] < 0.0:
                    low = high
                    high = 2.0 * abs(high) + 1.0
                else:
                    high_known = True
            proposal = 0.5 * (low + high)
        width_before = width_last
        width_last = high - low
        x = proposal
    return x, np.nan, np.nan


@njit(cache=True)
def _solve_row(
    i: int,
    fill: NDArray[np.bool_],
    target: Array,
    q: Array,
    m: Array,
    shape: Array,
    scale: Array,
    start: Array,
    max_terms: int,
    with_rates: bool,
    periodic: PeriodicRates,
    scratch: Array,
    out: Array,
    rate: Array,
) -> None:
    """Row ``i`` of :func:`_solve_rows`: its reorder point into ``out[i]``, its fill rate (or
    NaN) into ``rate[i]``; ``scratch`` (3 x max_terms + 3) is the caller's, reused per row."""
    w, a, lga = scratch[:max_terms], scratch[max_terms : 2 * max_terms], scratch[2 * max_terms :]
    one, g_a, g_lga = scratch[-3:-2], scratch[-2:-1], scratch[-1:]
    mean = m[i] * shape[i] * scale[i]
    sd = math.sqrt(m[i] * (1.0 + shape[i])) * shape[i] ** 0.5 * scale[i]
    qi = q[i]
    atom = math.exp(-m[i])
    x0 = start[i]
    if fill[i]:
        low, high = -qi - 1.0, mean + 10.0 * sd + qi
        if not np.isfinite(x0):
            # the atom e^-m at 0 and, beyond it, the gamma with the conditional moments
            # E[X | X > 0] and Var[X | X > 0]: one term, a close start
            positive = -math.expm1(-m[i])
            c_mean = mean / positive
            c_var = (sd * sd + mean * mean) / positive - c_mean * c_mean
            g_a[0] = c_mean * c_mean / c_var
            g_lga[0] = math.lgamma(g_a[0] + 1.0)
            one[0] = positive
            x0 = _solve(
                True,
                target[i],
                qi,
                low,
                high,
                0.5 * (low + high),
                _START_TOLERANCE,
                1,
                one,
                g_a,
                g_lga,
                atom,
                c_var / c_mean,
                mean,
            )[0]
    else:
        low, high = 0.0, mean + 10.0 * sd + shape[i] * scale[i]
    n = _terms(m[i], shape[i], max_terms, w, a, lga)
    x, n0, n1 = _solve(
        fill[i], target[i], qi, low, high, x0, _G_TOLERANCE, n, w, a, lga, atom, scale[i], mean
    )
    out[i] = x
    rate[i] = np.nan
    if not with_rates:
        return
    if x < 0.0 or not np.isfinite(n0):  # floored at 0, or not evaluated at x
        x = max(x, 0.0)
        n0 = _at(x, n, w, a, lga, atom, scale[i], mean)[1]
        n1 = np.nan
    offset = periodic.offset[i]
    if offset == 0.0:  # S = r: n_{L+R}(S) is n0
        rate[i] = _periodic_rate(x, n0, i, periodic, shape[i], scale[i], max_terms, w, a, lga)
        return
    if np.isfinite(offset) and offset != qi:
        n_s = _at(x + offset, n, w, a, lga, atom, scale[i], mean)[1]
        rate[i] = _periodic_rate(
            x + offset, n_s, i, periodic, shape[i], scale[i], max_terms, w, a, lga
        )
        return
    if not np.isfinite(n1):
        n1 = _at(x + qi, n, w, a, lga, atom, scale[i], mean)[1]
    if np.isfinite(offset):  # S = r + Q: n_{L+R}(S) is n1
        rate[i] = _periodic_rate(x + qi, n1, i, periodic, shape[i], scale[i], max_terms, w, a, lga)
    else:
        rate[i] = _fill_rate(n0, n1, qi)


@njit(cache=True)
def _periodic_rate(
    s: float,
    n_over: float,
    i: int,
    periodic: PeriodicRates,
    shape: float,
    scale: float,
    max_terms: int,
    w: Array,
    a: Array,
    lga: Array,
) -> float:
    """1 - [n_{L+R}(S) - n_L(S)] / E[D_R] in [0, 1] (0 below 1e-12), given n_{L+R}(S), as
    ml.policy.intermittent.periodic_fill_rate computes it; overwrites the row's terms."""
    m = periodic.lead_occurrences[i]
    n_lead = max(-s, 0.0)  # no demand over L
    if m > 0.0:
        n = _terms(m, shape, max_terms, w, a, lga)
        n_lead = _at(s, n, w, a, lga, math.exp(-m), scale, m * shape * scale)[1]
    share = min(max(1.0 - max(n_over - n_lead, 0.0) / periodic.per_review[i], 0.0), 1.0)
    return 0.0 if share < 1e-12 else share


@njit(cache=True, parallel=True)
def _solve_rows(
    fill: NDArray[np.bool_],
    target: Array,
    q: Array,
    m: Array,
    shape: Array,
    scale: Array,
    start: Array,
    max_terms: int,
    with_rates: bool,
    periodic: PeriodicRates,
    chunks: int,
) -> tuple[Array, Array]:
    """Per row: the reorder point for its target (the fill rate of (r, Q) where ``fill``, else
    the cdf, whose rows must have target > e^-m) and, ``with_rates``, the fill rate of
    (max(r, 0), Q) (else NaN). The rows are cut into ``chunks`` runs solved in parallel; a
    row's numbers depend on its own inputs only, so they are the same for any ``chunks``."""
    n_rows = target.size
    out = np.empty(n_rows)
    rate = np.empty(n_rows)
    for c in prange(chunks):
        scratch = np.empty(3 * max_terms + 3)
        for i in range(c * n_rows // chunks, (c + 1) * n_rows // chunks):
            _solve_row(
                i,
                fill,
                target,
                q,
                m,
                shape,
                scale,
                start,
                max_terms,
                with_rates,
                periodic,
                scratch,
                out,
                rate,
            )
    return out, rate


def parallel_chunks(rows: int) -> int:
    """Runs of rows for numba's threads: ``CHUNKS_PER_THREAD`` per thread, taken one at a time
    (so a thread slowed by another job holds up little), at least one."""
    return max(min(rows, CHUNKS_PER_THREAD * get_num_threads()), 1)


def mixture_values(
    x: Array, occurrences: Array, shape: Array, scale: Array, max_terms: int
) -> tuple[Array, Array, Array]:
    """cdf, loss E[(X - x)^+] and density at ``x`` per row (gamma sizes: shape, scale > 0), on
    numba's threads."""
    link()
    with parallel_chunksize(1):
        return _values(x, occurrences, shape, scale, max_terms, parallel_chunks(x.size))


def mixture_policies(
    target: Array,
    order_qty: Array,
    fill: NDArray[np.bool_],
    occurrences: Array,
    shape: Array,
    scale: Array,
    start: Array,
    max_terms: int,
    with_rates: bool = True,
    chunks: int | None = None,
    periodic: PeriodicRates | None = None,
) -> tuple[Array, Array]:
    """Per row the reorder point for ``target`` (a fill rate where ``fill``, else a cycle service
    level above the atom e^-m, Newton from ``start``; fill-rate rows start from the
    moment-matched gamma's r where ``start`` is NaN) and the fill rate of (max(r, 0), Q): the
    one computed at r by the last Newton step where r >= 0 (NaN without ``with_rates``), or
    for ``periodic`` rows the periodic review's at S = max(r, 0) + offset, reusing n(r) or
    n(r + Q) where S is r or r + Q.

    The rows are solved in ``chunks`` runs on numba's threads (default :func:`parallel_chunks`);
    the numbers do not depend on it."""
    link()
    if periodic is None:
        none = np.full(target.size, np.nan)
        periodic = PeriodicRates(none, none, none)
    with parallel_chunksize(1):  # one run per thread at a time
        return _solve_rows(
            fill,
            target,
            order_qty,
            occurrences,
            shape,
            scale,
            start,
            max_terms,
            with_rates,
            PeriodicRates(*(np.ascontiguousarray(v, dtype=np.float64) for v in periodic)),
            parallel_chunks(target.size) if chunks is None else max(int(chunks), 1),
        )


def mixture_quantiles(
    alpha: Array,
    occurrences: Array,
    shape: Array,
    scale: Array,
    start: Array,
    max_terms: int,
) -> Array:
    """The ``alpha`` quantile per row, for alpha above the atom ``e^-m``; Newton from ``start``."""
    fill = np.zeros(alpha.size, dtype=bool)
    return mixture_policies(
        alpha, np.ones_like(alpha), fill, occurrences, shape, scale, start, max_terms, False
    )[0]


def mixture_fill_rate_reorder_points(
    beta: Array,
    order_qty: Array,
    occurrences: Array,
    shape: Array,
    scale: Array,
    max_terms: int,
) -> Array:
    """r with fill rate 1 - [n(r) - n(r + Q)] / Q = beta per row; Newton from the moment-matched
    gamma's r (solved first, to ``_START_TOLERANCE``)."""
    fill = np.ones(beta.size, dtype=bool)
    start = np.full_like(beta, np.nan)
    return mixture_policies(
        beta, order_qty, fill, occurrences, shape, scale, start, max_terms, False
    )[0]
