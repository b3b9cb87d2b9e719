"""The empirical bootstrap of lead-time demand from a product's own history, and its policies.

Each sample draws a lead time (gamma with the product's mean and sd; fixed when the sd is 0),
then ``floor(l + R)`` of the product's observed periods with replacement plus the fraction
``(l + R) mod 1`` of one more: a simplified form of Willemain, Smart & Schwarz (2004),
*Int. J. Forecasting* 20, 375-387, without their Markov model of demand occurrence and the
jittering of sizes. The reorder point for a cycle service level is the empirical quantile; the
fill rate of an (r, Q) policy is ``1 - E[(X - r)^+ - (X - r - Q)^+] / Q`` over the samples
(Axsäter 2015, *Inventory Control*, 3rd ed., ch. 5).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ml.errors import StrataError
from ml.policy.validation import check_policy_inputs

__all__ = [
    "bootstrap_fill_rate",
    "bootstrap_lead_time_demand",
    "bootstrap_reorder_point",
    "empirical_fill_rate",
    "empirical_fill_rate_reorder_point",
    "empirical_quantile",
]

Array = NDArray[np.float64]
_SAMPLE_CELLS_PER_CHUNK = 4_000_000  # products x samples x periods drawn at once (memory)
_LEAD_TIME_CAP_SDS = 8.0  # lead-time draws are capped at mean + 8 sd
_BISECTION_STEPS = 60


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


def _gamma_lead_times(rng: np.random.Generator, mean: Array, sd: Array, n_samples: int) -> Array:
    """Lead-time draws (rows x n_samples): gamma with each row's mean and sd, fixed at sd 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = np.where(sd > 0, (mean / sd) ** 2, np.inf)
        scale = np.where(sd > 0, sd**2 / mean, 0.0)
    random_lt = np.isfinite(shape)
    lt = np.broadcast_to(mean[:, None], (mean.size, n_samples)).copy()
    if random_lt.any():
        lt[random_lt] = rng.gamma(
            shape[random_lt, None], scale[random_lt, None], size=(int(random_lt.sum()), n_samples)
        )
    return lt


def _resampled_sums(
    rng: np.random.Generator, values: Array, counts: NDArray[np.intp], horizon: Array
) -> Array:
    """Sums of ``horizon`` periods drawn with replacement from each row's observed values."""
    c, n_samples = horizon.shape
    whole = np.floor(horizon).astype(np.intp)
    fraction = horizon - whole
    width = int(whole.max(initial=0)) + 1
    picks = (rng.random((c, n_samples, width)) * counts[:, None, None]).astype(np.intp)
    drawn = np.take_along_axis(values[:, None, :], picks.reshape(c, 1, -1), axis=2)
    drawn = drawn.reshape(c, n_samples, width)
    # Period j counts fully when j < floor(l + R), by its fraction when j == floor(l + R).
    j = np.arange(width)
    weight = np.where(
        j < whole[..., None], 1.0, np.where(j == whole[..., None], fraction[..., None], 0.0)
    )
    return np.einsum("psj,psj->ps", drawn, weight)


def bootstrap_lead_time_demand(
    history: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
    n_samples: int = 1000,
    seed: int = 0,
    lead_time_sd: ArrayLike = 0.0,
) -> Array:
    """Samples (products x n_samples) of demand over a (random) lead time plus the review period.

    ``history`` is products x periods, NaN for periods not observed (before launch); lead times
    are gamma with mean ``lead_time`` and sd ``lead_time_sd`` (capped at mean + 8 sd), fixed
    when the sd is 0. Deterministic for a given ``seed``; chunked over products so memory stays
    at ~``_SAMPLE_CELLS_PER_CHUNK`` draws.
    """
    if n_samples < 1:
        raise StrataError(f"n_samples = {n_samples} must be at least 1, e.g. 1000")
    ordered, counts = _histories(history)
    values = np.nan_to_num(ordered, nan=0.0)
    n = values.shape[0]
    a = check_policy_inputs(
        lead_time=lead_time, lead_time_sd=lead_time_sd, review_period=review_period
    )
    mean_l, sd_l, review = (np.broadcast_to(a[k], (n,)) for k in a)
    rng = np.random.default_rng(seed)
    cap = mean_l + _LEAD_TIME_CAP_SDS * sd_l + review
    periods_max = int(np.ceil(cap.max(initial=0.0))) + 1
    step = max(1, _SAMPLE_CELLS_PER_CHUNK // (n_samples * periods_max))
    out = np.empty((n, n_samples))
    for start in range(0, n, step):
        rows = slice(start, min(start + step, n))
        lt = _gamma_lead_times(rng, mean_l[rows], sd_l[rows], n_samples)
        horizon = np.minimum(lt + review[rows, None], cap[rows, None])
        out[rows] = _resampled_sums(rng, values[rows], counts[rows], horizon)
    return out


def empirical_quantile(samples: Array, level: Array) -> Array:
    """The smallest sample value with empirical cdf >= level, per row."""
    ordered = np.sort(samples, axis=1)
    at = np.ceil(level * samples.shape[1]).astype(np.intp) - 1
    return np.take_along_axis(ordered, np.clip(at, 0, samples.shape[1] - 1)[:, None], 1)[:, 0]


def empirical_fill_rate(samples: Array, reorder_point: Array, order_qty: Array) -> Array:
    """1 - E[(X - r)^+ - (X - r - Q)^+] / Q over each row's samples X (Axsäter 2015, ch. 5)."""
    r = np.asarray(reorder_point, dtype=np.float64)[:, None]
    q = np.asarray(order_qty, dtype=np.float64)[:, None]
    short = np.mean(np.maximum(samples - r, 0.0) - np.maximum(samples - r - q, 0.0), axis=1)
    return np.clip(1.0 - short / q[:, 0], 0.0, 1.0)


def empirical_fill_rate_reorder_point(samples: Array, fill_rate: Array, order_qty: Array) -> Array:
    """The lowest r >= 0 whose sample fill rate reaches the target (bisection; it rises in r)."""
    low = np.zeros(samples.shape[0])
    high = np.maximum(samples.max(axis=1), 0.0)
    target = np.asarray(fill_rate, dtype=np.float64)
    met_at_zero = empirical_fill_rate(samples, low, order_qty) >= target
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        reached = empirical_fill_rate(samples, mid, order_qty) >= target
        high = np.where(reached, mid, high)
        low = np.where(reached, low, mid)
    return np.where(met_at_zero, 0.0, high)


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
    return empirical_quantile(samples, np.broadcast_to(alpha, (samples.shape[0],)))


def bootstrap_fill_rate(
    reorder_point: ArrayLike,
    order_qty: ArrayLike,
    history: ArrayLike,
    lead_time: ArrayLike,
    review_period: ArrayLike = 0.0,
    n_samples: int = 1000,
    seed: int = 0,
) -> Array:
    """The fill rate of an (r, Q) policy under bootstrapped lead-time demand, per product."""
    samples = bootstrap_lead_time_demand(history, lead_time, review_period, n_samples, seed)
    a = check_policy_inputs(reorder_point=reorder_point, order_qty=order_qty)
    n = samples.shape[0]
    return empirical_fill_rate(
        samples, np.broadcast_to(a["reorder_point"], (n,)), np.broadcast_to(a["order_qty"], (n,))
    )
