"""Compound Poisson lead-time demand: its parameters, moments, cdf, loss, density and quantile.

Demand occurrences arrive at ``demand_rate`` per period, each of a size with mean ``size_mean``
and sd ``size_sd``; over a protection interval L + R the lead-time demand has mean
``m size_mean`` and variance ``m (size_sd² + size_mean²)`` with ``m = demand_rate (L + R)``
(Axsäter 2015, *Inventory Control*, 3rd ed., ch. 5). Each distribution family of
:data:`INTERMITTENT_METHODS` is evaluated here; :mod:`ml.policy.intermittent` documents when to
use which and solves reorder points and fill rates with them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betainc, gammainc, gammaincc, gammaincinv, gammaln, ndtr, ndtri, pdtr

from ml.policy.normal import _loss as _standard_normal_loss
from ml.policy.normal import _result
from ml.policy.poisson_gamma_kernel import (
    PeriodicRates,
    mixture_fill_rate_reorder_points,
    mixture_policies,
    mixture_quantiles,
    mixture_values,
)
from ml.policy.solvers import _smallest_integer
from ml.policy.validation import check_policy_inputs

__all__ = [
    "INTERMITTENT_METHODS",
    "CompoundPoissonParameters",
    "compound_poisson_parameters",
    "lead_time_demand_moments",
]

Array = NDArray[np.float64]
INTERMITTENT_METHODS = ("poisson_gamma", "negative_binomial", "poisson", "gamma", "normal")
_DISCRETE = frozenset({"poisson", "negative_binomial"})


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
    """At most this many Poisson counts per row (the kernel stops once their tail is < 1e-16)."""
    return np.ceil(occurrences + 7.5 * np.sqrt(occurrences) + 12.0).astype(np.intp)


def _gamma_sizes(ltd: _LeadTimeDemand) -> tuple[Array, Array]:
    """Shape and scale of one occurrence's gamma size (rows with size_sd > 0)."""
    return (ltd.size_mean / ltd.size_sd) ** 2, ltd.size_sd**2 / ltd.size_mean


def _max_terms(ltd: _LeadTimeDemand) -> int:
    return int(_mixture_size(ltd.occurrences).max(initial=1))


def _pg_values(x: Array, ltd: _LeadTimeDemand) -> tuple[Array, Array, Array]:
    """cdf, loss and density of the Poisson-gamma mixture at x (compiled; gamma-size rows)."""
    return mixture_values(x, ltd.occurrences, *_gamma_sizes(ltd), _max_terms(ltd))


def _pg_cdf_raw(x: Array, ltd: _LeadTimeDemand) -> Array:
    return _pg_values(x, ltd)[0]


def _pg_loss_raw(x: Array, ltd: _LeadTimeDemand) -> Array:
    return _pg_values(x, ltd)[1]


def _pg_pdf_raw(x: Array, ltd: _LeadTimeDemand) -> Array:
    return _pg_values(x, ltd)[2]


def _atom_and_gamma_quantile(alpha: Array, ltd: _LeadTimeDemand) -> Array:
    """Newton's start for the mixture's quantile (alpha > e^-m): the atom e^-m at 0 and, beyond
    it, the gamma with the mixture's conditional mean and variance given X > 0."""
    positive = -np.expm1(-ltd.occurrences)
    mean = ltd.mean / positive
    var = (ltd.var + ltd.mean**2) / positive - mean**2
    p = np.clip((alpha - (1.0 - positive)) / positive, 0.0, 1.0)
    return var / mean * gammaincinv(mean**2 / var, p)


def _pg_policy(
    level: Array,
    q: Array,
    fill: NDArray[np.bool_],
    ltd: _LeadTimeDemand,
    periodic: PeriodicRates | None = None,
) -> tuple[Array, Array]:
    """Reorder points (fill-rate targets where ``fill``, else cycle service above the atom) and
    the fill rates of (max(r, 0), Q), or the periodic review's for ``periodic`` rows, of the
    Poisson-gamma mixture (gamma-size rows, compiled)."""
    start = np.full_like(level, np.nan)  # fill-rate rows: the kernel's own start
    if (~fill).any():
        start[~fill] = _atom_and_gamma_quantile(level[~fill], ltd.take(~fill))
    return mixture_policies(
        level,
        q,
        fill,
        ltd.occurrences,
        *_gamma_sizes(ltd),
        start,
        _max_terms(ltd),
        periodic=periodic,
    )


def _pg_fill_rate_reorder_point(beta: Array, q: Array, ltd: _LeadTimeDemand) -> Array:
    """The fill-rate reorder point of the Poisson-gamma mixture (gamma-size rows, compiled)."""
    return mixture_fill_rate_reorder_points(
        beta, q, ltd.occurrences, *_gamma_sizes(ltd), _max_terms(ltd)
    )


def _continuous_sizes(ltd: _LeadTimeDemand) -> NDArray[np.bool_]:
    return ltd.size_sd > 0


def _pg(
    fn_gamma_sizes: Callable, fn_fixed_sizes: Callable, x: Array, ltd: _LeadTimeDemand
) -> Array:
    """Gamma sizes where size_sd > 0; fixed sizes (size_mean x Poisson count) elsewhere."""
    out = np.empty_like(x)
    gamma_rows = _continuous_sizes(ltd)
    if gamma_rows.any():
        out[gamma_rows] = fn_gamma_sizes(x[gamma_rows], ltd.take(gamma_rows))
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
    return _pg_pdf_raw(x, ltd)


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
        start = _atom_and_gamma_quantile(alpha[positive], sub)
        out[positive] = mixture_quantiles(
            alpha[positive], sub.occurrences, *_gamma_sizes(sub), start, _max_terms(sub)
        )
    return out
