"""Lead-time demand for intermittent and lumpy products, where the normal approximation fails.

Demand is a compound Poisson process: demand occurrences arrive at ``demand_rate`` per period,
each of a size with mean ``size_mean`` and sd ``size_sd``. Over a protection interval L + R the
number of occurrences is Poisson with mean ``m = demand_rate (L + R)``; the lead-time demand has
mean ``m size_mean`` and variance ``m (size_sd² + size_mean²)`` (Axsäter 2015, *Inventory
Control*, 3rd ed., ch. 5, compound Poisson demand). The distribution of lead-time demand is
chosen per segment by ``method``:

``poisson_gamma``
    the compound Poisson with gamma-distributed sizes itself: a Poisson mixture of gamma
    distributions, with an atom at 0 of mass ``exp(-m)`` (no demand at all in the interval), the
    feature of intermittent demand the normal misses. Sizes of sd 0 give ``size_mean`` x Poisson.
    Exact but the costliest: each evaluation sums ~m + 7.5 sqrt(m) + 12 incomplete gamma
    functions per product, a quantile takes ~5-8 evaluations (~0.1 ms per product here); for
    hundreds of thousands of products ``negative_binomial`` or ``gamma`` are ~10x faster.
``negative_binomial``
    matches the mean and variance with a negative binomial: exact when sizes are logarithmic
    (Axsäter 2015, ch. 5, "compound Poisson with logarithmic compounding"); Poisson when the
    variance does not exceed the mean. Integer units.
``poisson``
    Poisson with the lead-time demand mean: only for slow movers sold one unit at a time (Axsäter
    2015, ch. 5, Poisson demand); it ignores the size distribution. Integer units.
``gamma``
    a gamma matching mean and variance: continuous, skewed, non-negative; its loss function is
    Zipkin (2000), *Foundations of Inventory Management*, app. C (eq. (C.14)).
``normal``
    the usual normal with the same moments, for comparison only.

and, from a product's own history instead of a model, the empirical bootstrap of lead-time demand
(:func:`bootstrap_lead_time_demand`): a simplified form of the bootstrap of Willemain, Smart &
Schwarz (2004), *Int. J. Forecasting* 20, 375-387, resampling whole periods, without their
Markov model of demand occurrence and the jittering of sizes.

Lead times are taken as fixed here (their variance is not added); the normal formulas in
:mod:`ml.policy.safety_stock` handle a lead-time sd. Service measures: the reorder
point for a cycle service level is the ``service_level`` quantile of lead-time demand (for the
discrete methods the smallest integer with P(X <= r) >= service level); the fill rate of an
(r, Q) policy is ``1 - [n(r) - n(r + Q)] / Q`` with ``n(x) = E[(X - x)^+]`` (Axsäter 2015, ch. 5,
continuous review with backorders; the undershoot of the reorder point is ignored). Rows with no
demand get reorder point 0 and fill rate 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import (
    betainc,
    gammainc,
    gammaincc,
    gammaincinv,
    gammaln,
    ndtr,
    ndtri,
    pdtr,
)

from ml.errors import StrataError
from ml.policy.normal import _loss as _standard_normal_loss
from ml.policy.normal import _result
from ml.policy.validation import check_policy_inputs

__all__ = [
    "INTERMITTENT_METHODS",
    "CompoundPoissonParameters",
    "bootstrap_fill_rate",
    "bootstrap_lead_time_demand",
    "bootstrap_reorder_point",
    "compound_poisson_parameters",
    "intermittent_expected_shortage",
    "intermittent_fill_rate",
    "intermittent_fill_rate_reorder_point",
    "intermittent_reorder_point",
    "lead_time_demand_moments",
]

Array = NDArray[np.float64]
INTERMITTENT_METHODS = ("poisson_gamma", "negative_binomial", "poisson", "gamma", "normal")
_DISCRETE = frozenset({"poisson", "negative_binomial"})
_TAIL_MASS = 1e-14  # Poisson terms beyond this upper-tail mass are dropped from the mixture
_CELLS_PER_CHUNK = 2_000_000  # rows x mixture terms evaluated at once (memory bound)
_MAX_STEPS = 200
_X_TOLERANCE = 1e-10
_G_TOLERANCE = 1e-12
_NEWTON_ONLY_STEPS = 12  # then rows that stall fall back to bisection
_SAMPLES_PER_CHUNK = 20_000_000  # products x samples x periods drawn at once by the bootstrap


class CompoundPoissonParameters(NamedTuple):
    """Demand occurrences per period and the mean and sd of one occurrence's size."""

    demand_rate: Array | float
    size_mean: Array | float
    size_sd: Array | float


def compound_poisson_parameters(
    mean_qty: ArrayLike, adi: ArrayLike, cv2: ArrayLike
) -> CompoundPoissonParameters:
    """Demand rate 1 / ADI, size mean ``mean_qty x ADI``, size sd ``sqrt(CV²) x size mean``.

    From the snapshot's per-period attributes: ``mean_qty`` (mean demand per period, zeros
    included), ``adi`` (average demand interval, periods per non-zero period) and ``cv2`` (squared
    coefficient of variation of the non-zero demands), as in Syntetos & Boylan's classification.
    The per-period mean is kept exactly; treating the non-zero periods as Poisson arrivals is an
    approximation that is exact as the demand probability 1 / ADI goes to 0 (the variance is
    overstated by ``size_mean² / ADI²`` per period).
    """
    a = check_policy_inputs(mean_qty=mean_qty, adi=adi, cv2=cv2)
    size_mean = a["mean_qty"] * a["adi"]
    return CompoundPoissonParameters(
        demand_rate=_result(1.0 / a["adi"]),
        size_mean=_result(size_mean),
        size_sd=_result(np.sqrt(a["cv2"]) * size_mean),
    )


@dataclass(frozen=True)
class _LeadTimeDemand:
    """Per-row parameters of lead-time demand (all arrays of one length)."""

    occurrences: Array  # m = demand_rate (L + R)
    size_mean: Array
    size_sd: Array
    order_qty: Array | None = None  # carried along by the fill-rate solver

    @property
    def mean(self) -> Array:
        return self.occurrences * self.size_mean

    @property
    def var(self) -> Array:
        return self.occurrences * (self.size_sd**2 + self.size_mean**2)

    def take(self, rows: NDArray[np.intp] | NDArray[np.bool_] | slice) -> _LeadTimeDemand:
        return _LeadTimeDemand(
            self.occurrences[rows],
            self.size_mean[rows],
            self.size_sd[rows],
            None if self.order_qty is None else self.order_qty[rows],
        )


def _lead_time_demand(
    demand_rate, size_mean, size_sd, lead_time, review_period, **more: ArrayLike
) -> tuple[_LeadTimeDemand, dict[str, Array]]:
    a = check_policy_inputs(
        demand_rate=demand_rate,
        size_mean=size_mean,
        size_sd=size_sd,
        lead_time=lead_time,
        review_period=review_period,
        **more,
    )
    a = {name: np.atleast_1d(value).astype(np.float64) for name, value in a.items()}
    ltd = _LeadTimeDemand(
        occurrences=a["demand_rate"] * (a["lead_time"] + a["review_period"]),
        size_mean=a["size_mean"],
        size_sd=a["size_sd"],
    )
    return ltd, a


def lead_time_demand_moments(
    demand_rate: ArrayLike,
    size_mean: ArrayLike,
    size_sd: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
) -> tuple[Array | float, Array | float]:
    """Mean ``m mu_s`` and variance ``m (sigma_s² + mu_s²)`` of compound Poisson lead-time demand.

    ``m = demand_rate (L + R)``. Axsäter (2015), ch. 5 (compound Poisson demand).
    """
    scalar = all(
        np.ndim(v) == 0 for v in (demand_rate, size_mean, size_sd, lead_time, review_period)
    )
    ltd, _ = _lead_time_demand(demand_rate, size_mean, size_sd, lead_time, review_period)
    mean, var = ltd.mean, ltd.var
    return (float(mean[0]), float(var[0])) if scalar else (mean, var)


# --- the distributions: cdf, loss n(x) = E[(X - x)^+], quantile -------------------------------


def _poisson_pmf(j: Array, mean: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pmf = j * np.log(mean) - mean - gammaln(j + 1.0)
    return np.where(j >= 0, np.exp(log_pmf), 0.0)


def _poisson_cdf(x: Array, mean: Array) -> Array:
    j = np.floor(x)
    return np.where(j >= 0, pdtr(np.maximum(j, 0.0), mean), 0.0)


def _poisson_loss(x: Array, mean: Array) -> Array:
    """E[(X - x)^+], X ~ Poisson(mean), any real x (linear between integers).

    n(j) = (mu - j)(1 - F(j)) + mu f(j) at integers j (Snyder & Shen 2019, eq. (C.41)).
    """
    j = np.floor(x)
    jj = np.maximum(j, 0.0)
    upper = 1.0 - pdtr(jj, mean)
    at_j = (mean - jj) * upper + mean * _poisson_pmf(jj, mean)
    return np.where(j >= 0, at_j - (x - jj) * upper, mean - x)


def _nb_shape(ltd: _LeadTimeDemand) -> tuple[Array, Array]:
    """Negative binomial r and p with the lead-time demand's mean and variance (var > mean)."""
    mean, var = ltd.mean, ltd.var
    return mean**2 / (var - mean), mean / var


def _nb_cdf(x: Array, r: Array, p: Array) -> Array:
    j = np.floor(x)
    return np.where(j >= 0, betainc(r, np.maximum(j, 0.0) + 1.0, p), 0.0)


def _nb_loss(x: Array, r: Array, p: Array) -> Array:
    """n(j) = (mu - j)(1 - F(j)) + ((1 - p) / p)(j + r) f(j) (Zipkin 2000, §C.2.3.6)."""
    mean = r * (1.0 - p) / p
    j = np.floor(x)
    jj = np.maximum(j, 0.0)
    upper = 1.0 - betainc(r, jj + 1.0, p)
    log_pmf = gammaln(jj + r) - gammaln(r) - gammaln(jj + 1.0) + r * np.log(p) + jj * np.log1p(-p)
    at_j = (mean - jj) * upper + (1.0 - p) / p * (jj + r) * np.exp(log_pmf)
    return np.where(j >= 0, at_j - (x - jj) * upper, mean - x)


def _gamma_shape_scale(ltd: _LeadTimeDemand) -> tuple[Array, Array]:
    mean, var = ltd.mean, ltd.var
    return mean**2 / var, var / mean


def _gamma_loss(x: Array, shape: Array, scale: Array) -> Array:
    """E[(X - x)^+] = mu Q(a + 1, x / theta) - x Q(a, x / theta) for x >= 0 (Zipkin 2000, C.14)."""
    z = np.maximum(x, 0.0) / scale
    mean = shape * scale
    return np.where(x >= 0, mean * gammaincc(shape + 1.0, z) - x * gammaincc(shape, z), mean - x)


def _mixture_size(occurrences: Array) -> NDArray[np.intp]:
    """Poisson counts kept per row: enough that the dropped upper tail is below ~1e-14."""
    return np.ceil(occurrences + 7.5 * np.sqrt(occurrences) + 12.0).astype(np.intp)


def _mixture_terms(ltd: _LeadTimeDemand) -> tuple[Array, Array]:
    """Occurrence counts 1..K and their Poisson weights (rows x K) for the Poisson-gamma mixture."""
    m = ltd.occurrences
    k = int(_mixture_size(m).max()) if m.size else 1
    counts = np.arange(1.0, k + 1.0)
    weights = _poisson_pmf(counts[None, :], m[:, None])
    return counts, weights


def _chunked(fn: Callable[..., Array], x: Array, ltd: _LeadTimeDemand) -> Array:
    """Apply a mixture function over rows sorted by their number of terms, in chunks of at most
    ``_CELLS_PER_CHUNK`` rows x terms: memory stays bounded and slow movers stay cheap."""
    sizes = _mixture_size(ltd.occurrences)
    if x.size * int(sizes.max(initial=1)) <= _CELLS_PER_CHUNK:
        return fn(x, ltd)
    order = np.argsort(sizes, kind="stable")
    sorted_sizes = sizes[order]
    out = np.empty_like(x)
    start = 0
    while start < x.size:
        # The largest end with (end - start) x K[end - 1] within budget (K is sorted).
        cost = (np.arange(start + 1, x.size + 1) - start) * sorted_sizes[start:]
        end = start + max(1, int(np.searchsorted(cost, _CELLS_PER_CHUNK, side="right")))
        rows = order[start:end]
        out[rows] = fn(x[rows], ltd.take(rows))
        start = end
    return out


def _pg_parts(ltd: _LeadTimeDemand) -> tuple[Array, Array, Array, Array]:
    counts, weights = _mixture_terms(ltd)
    shape = (ltd.size_mean / ltd.size_sd) ** 2
    scale = ltd.size_sd**2 / ltd.size_mean
    return counts, weights, shape, scale


def _pg_cdf_raw(x: Array, ltd: _LeadTimeDemand) -> Array:
    counts, weights, shape, scale = _pg_parts(ltd)
    z = (np.maximum(x, 0.0) / scale)[:, None]
    mixture = np.sum(weights * gammainc(counts[None, :] * shape[:, None], z), axis=1)
    return np.where(x >= 0, np.exp(-ltd.occurrences) + mixture, 0.0)


def _pg_pdf_raw(x: Array, ltd: _LeadTimeDemand) -> Array:
    counts, weights, shape, scale = _pg_parts(ltd)
    a = counts[None, :] * shape[:, None]
    xs = np.maximum(x, 1e-300)[:, None]
    s = scale[:, None]
    log_pdf = (a - 1.0) * np.log(xs / s) - xs / s - gammaln(a) - np.log(s)
    return np.where(x > 0, np.sum(weights * np.exp(log_pdf), axis=1), 0.0)


def _pg_loss_raw(x: Array, ltd: _LeadTimeDemand) -> Array:
    counts, weights, shape, scale = _pg_parts(ltd)
    a = counts[None, :] * shape[:, None]
    z = (np.maximum(x, 0.0) / scale)[:, None]
    per_count = a * scale[:, None] * gammaincc(a + 1.0, z) - x[:, None] * gammaincc(a, z)
    return np.where(x >= 0, np.sum(weights * per_count, axis=1), ltd.mean - x)


def _continuous_sizes(ltd: _LeadTimeDemand) -> NDArray[np.bool_]:
    return ltd.size_sd > 0


def _pg(
    fn_gamma_sizes: Callable, fn_fixed_sizes: Callable, x: Array, ltd: _LeadTimeDemand
) -> Array:
    """Gamma sizes where size_sd > 0; fixed sizes (size_mean x Poisson count) elsewhere."""
    out = np.empty_like(x)
    gamma_rows = _continuous_sizes(ltd)
    if gamma_rows.any():
        out[gamma_rows] = _chunked(fn_gamma_sizes, x[gamma_rows], ltd.take(gamma_rows))
    fixed = ~gamma_rows
    if fixed.any():
        out[fixed] = fn_fixed_sizes(x[fixed], ltd.take(fixed))
    return out


def _cdf(method: str, x: Array, ltd: _LeadTimeDemand) -> Array:
    mean, var = ltd.mean, ltd.var
    if method == "normal":
        return ndtr((x - mean) / np.sqrt(var))
    if method == "gamma":
        shape, scale = _gamma_shape_scale(ltd)
        return np.where(x > 0, gammainc(shape, np.maximum(x, 0.0) / scale), 0.0)
    if method == "poisson":
        return _poisson_cdf(x, mean)
    if method == "negative_binomial":
        over = var > mean
        r, p = _nb_shape(ltd.take(over)) if over.any() else (mean[:0], mean[:0])
        out = _poisson_cdf(x, mean)
        out[over] = _nb_cdf(x[over], r, p)
        return out
    return _pg(_pg_cdf_raw, lambda xs, d: _poisson_cdf(xs / d.size_mean, d.occurrences), x, ltd)


def _expected_shortage(method: str, x: Array, ltd: _LeadTimeDemand) -> Array:
    mean, var = ltd.mean, ltd.var
    if method == "normal":
        sd = np.sqrt(var)
        return sd * _standard_normal_loss((x - mean) / sd)
    if method == "gamma":
        return _gamma_loss(x, *_gamma_shape_scale(ltd))
    if method == "poisson":
        return _poisson_loss(x, mean)
    if method == "negative_binomial":
        over = var > mean
        out = _poisson_loss(x, mean)
        if over.any():
            out[over] = _nb_loss(x[over], *_nb_shape(ltd.take(over)))
        return out
    return _pg(
        _pg_loss_raw,
        lambda xs, d: d.size_mean * _poisson_loss(xs / d.size_mean, d.occurrences),
        x,
        ltd,
    )


def _density(method: str, x: Array, ltd: _LeadTimeDemand) -> Array:
    """Density of the continuous methods (for Newton steps)."""
    mean, var = ltd.mean, ltd.var
    if method == "normal":
        sd = np.sqrt(var)
        u = (x - mean) / sd
        return np.exp(-0.5 * u * u) / (sd * math.sqrt(2.0 * math.pi))
    if method == "gamma":
        shape, scale = _gamma_shape_scale(ltd)
        xs = np.maximum(x, 1e-300)
        log_pdf = (shape - 1.0) * np.log(xs / scale) - xs / scale - gammaln(shape) - np.log(scale)
        return np.where(x > 0, np.exp(log_pdf), 0.0)
    return _chunked(_pg_pdf_raw, x, ltd)


def _quantile(method: str, alpha: Array, ltd: _LeadTimeDemand) -> Array:
    mean, var = ltd.mean, ltd.var
    if method == "normal":
        return mean + np.sqrt(var) * ndtri(alpha)
    if method == "gamma":
        shape, scale = _gamma_shape_scale(ltd)
        return scale * gammaincinv(shape, alpha)
    sd = np.sqrt(var)
    if method in _DISCRETE or (method == "poisson_gamma" and not _continuous_sizes(ltd).any()):
        fixed_sizes = method == "poisson_gamma"
        cdf = (
            (lambda xs, d: _poisson_cdf(xs, d.occurrences))
            if fixed_sizes
            else (lambda xs, d: _cdf(method, xs, d))
        )
        start = ltd.occurrences if fixed_sizes else mean
        start_sd = np.sqrt(ltd.occurrences) if fixed_sizes else sd
        counts = _smallest_integer(
            cdf, alpha, ltd, np.full_like(alpha, -1.0), start + 10 * start_sd + 10
        )
        return counts * ltd.size_mean if fixed_sizes else counts
    if method == "poisson_gamma" and not _continuous_sizes(ltd).all():
        out = np.empty_like(alpha)
        gamma_rows = _continuous_sizes(ltd)
        out[gamma_rows] = _quantile(method, alpha[gamma_rows], ltd.take(gamma_rows))
        out[~gamma_rows] = _quantile(method, alpha[~gamma_rows], ltd.take(~gamma_rows))
        return out
    # Poisson-gamma with gamma sizes: an atom exp(-m) at 0, then a continuous increasing cdf.
    out = np.zeros_like(alpha)
    positive = alpha > np.exp(-ltd.occurrences)
    if positive.any():
        sub = ltd.take(positive)
        out[positive] = _solve_increasing(
            lambda xs, d: _cdf(method, xs, d),
            lambda xs, d: _density(method, xs, d),
            alpha[positive],
            sub,
            np.zeros(int(positive.sum())),
            sub.mean + 10.0 * np.sqrt(sub.var) + sub.size_mean,
            start=_quantile("gamma", alpha[positive], sub),  # moment-matched: a close start
        )
    return out


# --- vectorised solvers over rows ---------------------------------------------------------------


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


# --- public formulas --------------------------------------------------------------------------


def _methods(method: str | Sequence[str] | NDArray, n: int) -> NDArray[np.object_]:
    if np.ndim(method) == 0:
        methods = np.full(n, str(method), dtype=object)
    else:
        methods = np.asarray(method, dtype=object).reshape(-1)
    if methods.shape != (n,):
        raise StrataError(
            f"method has {methods.size} entries for {n} products; pass one method for all "
            "or one per product"
        )
    unknown = sorted({str(m) for m in methods.tolist()} - set(INTERMITTENT_METHODS))
    if unknown:
        raise StrataError(
            f"lead-time demand method {', '.join(map(repr, unknown))} is not one of "
            f"{', '.join(INTERMITTENT_METHODS)} (or use bootstrap_* with a demand history)"
        )
    return methods


def _by_method(
    method: str | Sequence[str],
    ltd: _LeadTimeDemand,
    per_method: Callable[[str, NDArray[np.intp]], Array],
    no_demand: Callable[[NDArray[np.intp]], Array],
) -> Array:
    """Run ``per_method(name, rows)`` for each method's rows; rows without demand use no_demand."""
    n = ltd.occurrences.size
    methods = _methods(method, n)
    out = np.empty(n)
    none = ltd.mean <= 0
    if none.any():
        out[none] = no_demand(np.flatnonzero(none))
    for name in INTERMITTENT_METHODS:
        rows = np.flatnonzero((methods == name) & ~none)
        if rows.size:
            out[rows] = per_method(name, rows)
    return out


def _shaped(out: Array, *inputs: object) -> Array | float:
    """A float for all-scalar inputs, else the array in the inputs' broadcast shape."""
    if all(np.ndim(v) == 0 for v in inputs):
        return float(out[0])
    return out.reshape(np.broadcast_shapes(*(np.shape(v) for v in inputs)))


def intermittent_reorder_point(
    service_level: ArrayLike,
    demand_rate: ArrayLike,
    size_mean: ArrayLike,
    size_sd: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
    method: str | Sequence[str] = "poisson_gamma",
) -> Array | float:
    """The cycle-service reorder point: the ``service_level`` quantile of lead-time demand.

    ``method`` (one, or one per product) picks the distribution; see the module docstring.
    Silver, Pyke & Thomas (2017), ch. 6 (reorder point for a specified P1 under any distribution);
    Axsäter (2015), ch. 5 (compound Poisson demand).
    """
    inputs = (service_level, demand_rate, size_mean, size_sd, lead_time, review_period)
    ltd, a = _lead_time_demand(*inputs[1:], service_level=service_level)
    alpha = a["service_level"]
    out = _by_method(
        method,
        ltd,
        lambda name, rows: _quantile(name, alpha[rows], ltd.take(rows)),
        lambda rows: np.zeros(rows.size),
    )
    return _shaped(out, *inputs)


def intermittent_expected_shortage(
    reorder_point: ArrayLike,
    demand_rate: ArrayLike,
    size_mean: ArrayLike,
    size_sd: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
    method: str | Sequence[str] = "poisson_gamma",
) -> Array | float:
    """n(r) = E[(X - r)^+]: expected lead-time demand beyond the reorder point (the loss function).

    Snyder & Shen (2019), app. C (loss functions; Poisson eq. (C.41)); Zipkin (2000),
    *Foundations of Inventory Management*, app. C (gamma, negative binomial).
    """
    inputs = (reorder_point, demand_rate, size_mean, size_sd, lead_time, review_period)
    ltd, a = _lead_time_demand(*inputs[1:], reorder_point=reorder_point)
    r = a["reorder_point"]
    out = _by_method(
        method,
        ltd,
        lambda name, rows: _expected_shortage(name, r[rows], ltd.take(rows)),
        lambda rows: np.maximum(-r[rows], 0.0),
    )
    return _shaped(out, *inputs)


def _fill_rate(method: str, r: Array, q: Array, ltd: _LeadTimeDemand) -> Array:
    short = _expected_shortage(method, r, ltd) - _expected_shortage(method, r + q, ltd)
    return np.clip(1.0 - short / q, 0.0, 1.0)


def intermittent_fill_rate(
    reorder_point: ArrayLike,
    order_qty: ArrayLike,
    demand_rate: ArrayLike,
    size_mean: ArrayLike,
    size_sd: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
    method: str | Sequence[str] = "poisson_gamma",
) -> Array | float:
    """Expected fill rate of (r, Q): 1 - [n(r) - n(r + Q)] / Q.

    Axsäter (2015), ch. 5 (fill rate of a continuous-review (R, Q) policy with backorders).
    The second term matters here: with lumpy demand Q is often small against lead-time demand,
    where ``1 - n(r) / Q`` would go negative.
    """
    inputs = (reorder_point, order_qty, demand_rate, size_mean, size_sd, lead_time, review_period)
    ltd, a = _lead_time_demand(*inputs[2:], reorder_point=reorder_point, order_qty=order_qty)
    r, q = a["reorder_point"], a["order_qty"]
    out = _by_method(
        method,
        ltd,
        lambda name, rows: _fill_rate(name, r[rows], q[rows], ltd.take(rows)),
        lambda rows: np.ones(rows.size),
    )
    return _shaped(out, *inputs)


def _fill_rate_slope(method: str, r: Array, q: Array, ltd: _LeadTimeDemand) -> Array:
    """d/dr of 1 - [n(r) - n(r + Q)] / Q = [F(r + Q) - F(r)] / Q (continuous methods)."""
    return (_cdf(method, r + q, ltd) - _cdf(method, r, ltd)) / q


def _fill_rate_reorder_point(method: str, beta: Array, q: Array, ltd: _LeadTimeDemand) -> Array:
    # At r = -Q - 1 every unit of the cycle is short (fill rate 0 < beta): a valid lower bracket.
    low = -q - 1.0
    high = ltd.mean + 10.0 * np.sqrt(ltd.var) + q
    with_q = replace(ltd, order_qty=q)  # the solvers take rows of it, Q included

    def rate(x: Array, d: _LeadTimeDemand) -> Array:
        return _fill_rate(method, x, d.order_qty, d)

    def slope(x: Array, d: _LeadTimeDemand) -> Array:
        return _fill_rate_slope(method, x, d.order_qty, d)

    if method in _DISCRETE:
        return _smallest_integer(rate, beta, with_q, low, high)
    start = None
    if method == "poisson_gamma":  # the moment-matched gamma's answer is a close start
        start = _fill_rate_reorder_point("gamma", beta, q, ltd)
    return _solve_increasing(rate, slope, beta, with_q, low, high, start=start)


def intermittent_fill_rate_reorder_point(
    fill_rate: ArrayLike,
    order_qty: ArrayLike,
    demand_rate: ArrayLike,
    size_mean: ArrayLike,
    size_sd: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
    method: str | Sequence[str] = "poisson_gamma",
) -> Array | float:
    """The lowest reorder point whose fill rate 1 - [n(r) - n(r + Q)] / Q reaches the target.

    Integer for the discrete methods, else solved by Newton's method in a bracket. It can be
    negative (order only once backorders exist) for a target the lot size alone nearly meets;
    Axsäter (2015), ch. 5, shows such reorder points are optimal for slow, expensive items.
    """
    inputs = (fill_rate, order_qty, demand_rate, size_mean, size_sd, lead_time, review_period)
    ltd, a = _lead_time_demand(*inputs[2:], fill_rate=fill_rate, order_qty=order_qty)
    beta, q = a["fill_rate"], a["order_qty"]
    out = _by_method(
        method,
        ltd,
        lambda name, rows: _fill_rate_reorder_point(name, beta[rows], q[rows], ltd.take(rows)),
        lambda rows: np.zeros(rows.size),
    )
    return _shaped(out, *inputs)


# --- the empirical bootstrap ------------------------------------------------------------------


def _histories(history: ArrayLike) -> tuple[Array, NDArray[np.intp]]:
    """Each row's observed periods moved to the front (NaN = not observed), and their counts."""
    h = np.asarray(history, dtype=np.float64)
    if h.ndim == 1:
        h = h[None, :]
    if h.ndim != 2:
        raise StrataError(
            f"history must be a 2-d array (products x periods), got {h.ndim} dimensions"
        )
    observed = ~np.isnan(h)
    negative = observed & (h < 0)
    if negative.any():
        row, col = np.argwhere(negative)[0]
        raise StrataError(
            f"history[{row}, {col}] = {h[row, col]:g} is negative in {int(negative.sum())} "
            "place(s); pass demand net of returns, or clip returns to 0 before bootstrapping"
        )
    counts = observed.sum(axis=1)
    if (counts == 0).any():
        row = int(np.flatnonzero(counts == 0)[0])
        raise StrataError(
            f"history row {row} has no observed period ({int((counts == 0).sum())} such rows); "
            "the bootstrap needs at least one period of history per product"
        )
    order = np.argsort(~observed, axis=1, kind="stable")
    return np.take_along_axis(h, order, axis=1), counts


def bootstrap_lead_time_demand(
    history: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
    n_samples: int = 1000,
    seed: int = 0,
) -> Array:
    """Samples of lead-time demand (products x n_samples): sums of L + R resampled periods.

    Each product's own per-period demands (zeros included; NaN marks periods before launch) are
    drawn with replacement, ``floor(L + R)`` of them plus a fraction ``(L + R) mod 1`` of one more
    (simplified from Willemain, Smart & Schwarz 2004: no Markov occurrence model, no jitter).
    Deterministic for a given ``seed``; chunked over products so memory stays at
    ~``_SAMPLES_PER_CHUNK`` draws.
    """
    values, counts = _histories(history)
    n = values.shape[0]
    a = check_policy_inputs(lead_time=lead_time, review_period=review_period)
    horizon = np.broadcast_to(a["lead_time"] + a["review_period"], (n,))
    if n_samples < 1:
        raise StrataError(f"n_samples = {n_samples} must be at least 1, e.g. 1000")
    whole = np.floor(horizon).astype(np.intp)
    fraction = horizon - whole
    periods = int(whole.max()) + 1
    rng = np.random.default_rng(seed)
    out = np.empty((n, n_samples))
    step = max(1, _SAMPLES_PER_CHUNK // (n_samples * periods))
    for start in range(0, n, step):
        rows = slice(start, min(start + step, n))
        draws = rng.random((out[rows].shape[0], n_samples, periods))
        picks = (draws * counts[rows, None, None]).astype(np.intp)
        demand = np.take_along_axis(values[rows, None, :], picks.reshape(picks.shape[0], 1, -1), 2)
        demand = demand.reshape(picks.shape)
        # Period j counts fully when j < floor(L + R), by its fraction when j == floor(L + R).
        j = np.arange(periods)
        weight = np.where(
            j[None, :] < whole[rows, None],
            1.0,
            np.where(j[None, :] == whole[rows, None], fraction[rows, None], 0.0),
        )
        out[rows] = np.einsum("psj,pj->ps", demand, weight)
    return out


def _empirical_quantile(samples: Array, alpha: Array) -> Array:
    """The smallest sample value with empirical cdf >= alpha, per row."""
    ordered = np.sort(samples, axis=1)
    position = np.ceil(alpha * samples.shape[1]).astype(np.intp) - 1
    return np.take_along_axis(ordered, np.clip(position, 0, samples.shape[1] - 1)[:, None], 1)[:, 0]


def bootstrap_reorder_point(
    service_level: ArrayLike,
    history: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
    n_samples: int = 1000,
    seed: int = 0,
) -> Array:
    """The ``service_level`` quantile of bootstrapped lead-time demand, per product.

    See :func:`bootstrap_lead_time_demand`. With n samples the quantile is resolved to 1 / n:
    use n of at least 10 / (1 - service level).
    """
    samples = bootstrap_lead_time_demand(history, lead_time, review_period, n_samples, seed)
    alpha = check_policy_inputs(service_level=service_level)["service_level"]
    return _empirical_quantile(samples, np.broadcast_to(alpha, (samples.shape[0],)))


def bootstrap_fill_rate(
    reorder_point: ArrayLike,
    order_qty: ArrayLike,
    history: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
    n_samples: int = 1000,
    seed: int = 0,
) -> Array:
    """1 - [n(r) - n(r + Q)] / Q with n the empirical loss of bootstrapped lead-time demand."""
    samples = bootstrap_lead_time_demand(history, lead_time, review_period, n_samples, seed)
    a = check_policy_inputs(reorder_point=reorder_point, order_qty=order_qty)
    n = samples.shape[0]
    r = np.broadcast_to(a["reorder_point"], (n,))[:, None]
    q = np.broadcast_to(a["order_qty"], (n,))[:, None]
    short = np.mean(np.maximum(samples - r, 0.0) - np.maximum(samples - r - q, 0.0), axis=1)
    return np.clip(1.0 - short / q[:, 0], 0.0, 1.0)
