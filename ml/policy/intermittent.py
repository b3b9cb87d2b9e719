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
    Exact but the costliest: each evaluation sums one incomplete gamma per Poisson count that
    matters (~10 of ~20 at m ~ 1.6), compiled (:mod:`ml.policy.poisson_gamma_kernel`); a
    cycle-service reorder point takes ~3-4 evaluations (~7 us per product here), a fill-rate one
    ~3 of two points each after a moment-matched gamma start (~14 us).
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
(:mod:`ml.policy.bootstrap`): a simplified form of the bootstrap of Willemain, Smart &
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

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ml.errors import StrataError
from ml.policy.compound_poisson import (
    _DISCRETE,
    INTERMITTENT_METHODS,
    CompoundPoissonParameters,
    _cdf,
    _continuous_sizes,
    _expected_shortage,
    _lead_time_demand,
    _LeadTimeDemand,
    _pg_fill_rate_reorder_point,
    _pg_policy,
    _quantile,
    compound_poisson_parameters,
    lead_time_demand_moments,
)
from ml.policy.poisson_gamma_kernel import PeriodicRates
from ml.policy.solvers import _smallest_integer, _solve_increasing

__all__ = [
    "INTERMITTENT_METHODS",
    "CompoundPoissonParameters",
    "compound_poisson_parameters",
    "intermittent_expected_shortage",
    "intermittent_fill_rate",
    "intermittent_fill_rate_reorder_point",
    "intermittent_policy",
    "intermittent_reorder_point",
    "lead_time_demand_moments",
    "periodic_fill_rate",
]

Array = NDArray[np.float64]


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
    if method == "poisson_gamma":
        gamma_rows = _continuous_sizes(ltd)
        out = np.empty_like(beta)
        if gamma_rows.any():  # compiled; Newton from the moment-matched gamma's answer
            out[gamma_rows] = _pg_fill_rate_reorder_point(
                beta[gamma_rows], q[gamma_rows], ltd.take(gamma_rows)
            )
        fixed = ~gamma_rows
        if fixed.any():
            sub = with_q.take(fixed)
            start = _fill_rate_reorder_point("gamma", beta[fixed], q[fixed], ltd.take(fixed))
            out[fixed] = _solve_increasing(
                rate, slope, beta[fixed], sub, low[fixed], high[fixed], start=start
            )
        return out
    return _solve_increasing(rate, slope, beta, with_q, low, high)


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


def intermittent_policy(
    service_level: ArrayLike,
    order_qty: ArrayLike,
    fill_rate_target: ArrayLike,
    demand_rate: ArrayLike,
    size_mean: ArrayLike,
    size_sd: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
    method: str = "poisson_gamma",
    order_up_to_offset: ArrayLike | None = None,
) -> tuple[Array, Array]:
    """Reorder point, floored at 0, and the fill rate of (r, Q), per product.

    ``service_level`` is a fill-rate target where ``fill_rate_target``, else a cycle service
    level: the numbers of :func:`intermittent_fill_rate_reorder_point` or
    :func:`intermittent_reorder_point`, then :func:`intermittent_fill_rate` at max(r, 0); rows
    with a finite ``order_up_to_offset`` get :func:`periodic_fill_rate` at S = max(r, 0) +
    offset instead (0 for (R, S), Q for (R, s, Q)). For ``poisson_gamma`` with gamma sizes it
    all comes from one compiled pass, the fill rate from the solver's last evaluation at r
    where it can be (the same numbers, not evaluated twice).
    """
    inputs = (service_level, order_qty, demand_rate, size_mean, size_sd, lead_time, review_period)
    ltd, a = _lead_time_demand(*inputs[2:], service_level=service_level, order_qty=order_qty)
    level, q = a["service_level"], a["order_qty"]
    fill = np.broadcast_to(np.asarray(fill_rate_target, dtype=bool), level.shape).copy()
    offset = np.broadcast_to(
        np.asarray(np.nan if order_up_to_offset is None else order_up_to_offset, np.float64),
        level.shape,
    )
    names = ("demand_rate", "size_mean", "size_sd", "lead_time", "review_period")
    given = [a[name] for name in names]  # broadcast to level's shape by check_policy_inputs
    rate_d, mean_d, _, lead, review = given
    per_review = rate_d * mean_d * review  # as periodic_fill_rate computes it
    periodic = np.isfinite(offset)
    r, rate = np.empty_like(level), np.empty_like(level)
    compiled = np.zeros(level.size, dtype=bool)
    if method == "poisson_gamma":
        compiled = _continuous_sizes(ltd) & (ltd.mean > 0)
        # cycle-service rows at or below the atom at 0 need no stock: the numpy path's zeros
        compiled &= fill | (level > np.exp(-ltd.occurrences))
    if compiled.any():
        rows = np.flatnonzero(compiled)
        in_kernel = periodic[rows] & (review[rows] > 0) & (per_review[rows] > 0)
        pr = PeriodicRates(
            np.where(in_kernel, offset[rows], np.nan), rate_d[rows] * lead[rows], per_review[rows]
        )
        r[rows], rate[rows] = _pg_policy(level[rows], q[rows], fill[rows], ltd.take(rows), pr)
        periodic[rows[in_kernel]] = False  # done
    rest = np.flatnonzero(~compiled)
    if rest.size:
        lv, qq, *params = (v[rest] for v in (level, q, *given))
        f = fill[rest]
        rr = np.empty(rest.size)
        if (~f).any():
            rr[~f] = intermittent_reorder_point(lv[~f], *(p[~f] for p in params), method=method)
        if f.any():
            rr[f] = intermittent_fill_rate_reorder_point(
                lv[f], qq[f], *(p[f] for p in params), method=method
            )
        r[rest] = rr
        rq = ~periodic[rest]  # the periodic rows' rate comes below
        rate[rest[rq]] = intermittent_fill_rate(
            np.maximum(rr[rq], 0.0), qq[rq], *(v[rq] for v in params), method=method
        )
    r = np.maximum(r, 0.0)
    if periodic.any():  # the rows the kernel did not take
        p = np.flatnonzero(periodic)
        rate[p] = periodic_fill_rate(r[p] + offset[p], *(v[p] for v in given), method=method)
    return r, rate


def periodic_fill_rate(
    order_up_to: ArrayLike,
    demand_rate: ArrayLike,
    size_mean: ArrayLike,
    size_sd: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike,
    method: str = "poisson_gamma",
) -> Array | float:
    """Expected fill rate of a periodic review up to S: 1 - [n_{L+R}(S) - n_L(S)] / E[D_R].

    The expected shortage per review cycle is the demand over L + R beyond S less the part of
    it already short by the end of the lead time (Silver, Pyke & Thomas 2017, *Inventory and
    Production Management in Supply Chains*, 4th ed., ch. 7, "ESPRC" of the (R, S) system),
    over the demand of one review period. Unlike ``1 - [n(r) - n(r + Q)] / Q`` it lets one
    demand exceed the whole stock: a customer order of 98 units against S = 8 is 90 units
    short, not 8/98 of a cycle. Rows without a review period or without demand get fill rate 1.
    """
    inputs = (order_up_to, demand_rate, size_mean, size_sd, lead_time, review_period)
    shape = np.broadcast_shapes(*(np.shape(v) for v in inputs))
    a = [np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for v in inputs]
    s, rate, mean, sd, lead, review = (v.ravel() for v in a)
    per_review = rate * mean * review
    out = np.ones(s.size)
    live = np.flatnonzero((review > 0) & (per_review > 0))
    if live.size:
        take = [v[live] for v in (rate, mean, sd, lead)]
        over_protection = intermittent_expected_shortage(
            s[live], *take, review[live], method=method
        )
        by_lead_time = intermittent_expected_shortage(s[live], *take, 0.0, method=method)
        short = np.maximum(np.asarray(over_protection) - np.asarray(by_lead_time), 0.0)
        share = np.clip(1.0 - short / per_review[live], 0.0, 1.0)
        out[live] = np.where(share < 1e-12, 0.0, share)  # S = 0 serves nothing, not 1e-16
    return _shaped(out, *inputs)
