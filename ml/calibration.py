"""Probability calibration: temperature scaling of multiclass logits and expected calibration error.

Both follow Guo, Pleiss, Sun and Weinberger (2017), "On calibration of modern neural networks",
ICML, section 2 and 4.2:

- expected calibration error (top-label, M equal-width bins B_m of the top probability over
  (0, 1]; their Eq. 3):  ECE = sum_m |B_m| / n * | acc(B_m) - conf(B_m) |, where acc is the share
  of rows in the bin whose top class is the true one and conf their mean top probability;
- temperature scaling: q_i = softmax(z_i / T) with one T > 0 chosen to minimise the negative
  log-likelihood on held-out logits z. Dividing every logit of a row by the same T > 0 keeps
  their order, so the argmax (the segment) never changes; only the confidence does.

Pure numpy/scipy functions on arrays: no estimator, no I/O.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

__all__ = [
    "ECE_BINS",
    "cross_fitted_proba",
    "expected_calibration_error",
    "fit_temperature",
    "temperature_scaled",
]

ECE_BINS = 15  # Guo et al. (2017) report ECE with M = 15 bins
_LOG_T_BOUNDS = (np.log(1e-2), np.log(1e3))  # T in [0.01, 1000]: far beyond any useful value


def temperature_scaled(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Class probabilities softmax(logits / T), row-wise; logits (n, k), T > 0."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    return np.exp(log_softmax(z, axis=1))


def _nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    logp = log_softmax(logits / temperature, axis=1)
    return float(-logp[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 minimising the mean negative log-likelihood of `y` under softmax(logits / T).

    `logits` (n, k) are held-out (out-of-fold) raw scores, `y` (n,) class positions 0..k-1.
    The NLL is convex in 1/T, so a bounded scalar search over log T finds the optimum.
    """
    z = np.asarray(logits, dtype=np.float64)
    codes = np.asarray(y, dtype=int)
    if z.ndim != 2 or len(z) != len(codes) or len(z) == 0:
        raise ValueError(
            f"fit_temperature needs logits (n, k) and one class per row, got logits of shape "
            f"{z.shape} and {len(codes)} labels"
        )
    found = minimize_scalar(
        lambda log_t: _nll(z, codes, float(np.exp(log_t))),
        bounds=_LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(found.x))


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE of probabilities `proba` (n, k) for true classes `y` (Guo et al. 2017, Eq. 3).

    Bin m holds the rows whose top probability lies in ((m-1)/M, m/M]; empty bins add nothing.
    """
    p = np.asarray(proba, dtype=np.float64)
    codes = np.asarray(y, dtype=int)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if p.ndim != 2 or len(p) != len(codes):
        raise ValueError(
            f"expected_calibration_error needs proba (n, k) and one class per row, got proba of "
            f"shape {p.shape} and {len(codes)} labels"
        )
    if len(p) == 0:
        return float("nan")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == codes).astype(np.float64)
    # right-closed bins: ceil(conf * M) - 1, so conf = m/M falls in bin m (0 -> the first bin)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins).astype(np.float64)
    gap = np.abs(
        np.bincount(bins, weights=correct, minlength=n_bins)
        - np.bincount(bins, weights=conf, minlength=n_bins)
    )
    # sum_m |B_m|/n * |acc - conf| = sum_m |sum correct - sum conf| / n
    return float(gap.sum() / count.sum())


def cross_fitted_proba(logits: np.ndarray, y: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """Temperature-scaled probabilities where each fold's T is fitted on the other folds only.

    `logits` are out-of-fold raw scores and `fold_of` the fold each row was held out in: the
    ECE of the result measures the calibration on data the temperature never saw.
    """
    z = np.asarray(logits, dtype=np.float64)
    codes = np.asarray(y, dtype=int)
    folds = np.asarray(fold_of)
    out = np.empty_like(z)
    for fold in np.unique(folds):
        held = folds == fold
        t = fit_temperature(z[~held], codes[~held]) if (~held).any() else 1.0
        out[held] = temperature_scaled(z[held], t)
    return out
