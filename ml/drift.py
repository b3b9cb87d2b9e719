"""Attribute drift between two snapshots: the population stability index (PSI).

PSI = sum over bins of (a_i - e_i) * ln(a_i / e_i), where e_i and a_i are the shares of the
expected (training) and actual (newest) populations in bin i — Siddiqi, N. (2006), *Credit Risk
Scorecards*, Wiley, ch. 8; Yurdakul, B. (2018), *Statistical Properties of Population Stability
Index*, PhD thesis, Western Michigan University, eq. 2.1. Every term is >= 0 (a - e and
ln(a / e) share their sign), so PSI >= 0 and PSI(x, x) = 0. The usual reading: below 0.1 no real
shift, 0.1-0.25 a moderate shift, above 0.25 a major one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ml.errors import StrataError

__all__ = ["DRIFT_PREFIX", "drift_metrics", "population_stability_index", "psi_by_attribute"]

DRIFT_PREFIX = "psi."
DEFAULT_EPSILON = 1e-4


def _shares(counts: np.ndarray, total: int, epsilon: float) -> np.ndarray:
    """Bin shares with empty bins raised to `epsilon`, so ln(a / e) stays finite."""
    return np.maximum(counts / total, epsilon)


def _psi_from_counts(e_counts: np.ndarray, a_counts: np.ndarray, epsilon: float) -> float:
    e = _shares(e_counts, int(e_counts.sum()), epsilon)
    a = _shares(a_counts, int(a_counts.sum()), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def population_stability_index(
    expected: Iterable[float] | np.ndarray | pd.Series,
    actual: Iterable[float] | np.ndarray | pd.Series,
    bins: int = 10,
    epsilon: float = DEFAULT_EPSILON,
) -> float:
    """PSI of `actual` against `expected` over quantile bins of `expected`; NaNs are their own bin.

    Bin edges are the 1/bins ... (bins-1)/bins quantiles of the non-missing expected values
    (repeated edges merged, so a discrete attribute gets fewer bins); the outer bins are open, so
    an actual value beyond the training range lands in the first or last bin. Bins are
    (-inf, q1], (q1, q2], ..., (q_last, inf). An empty bin counts as share `epsilon`.
    """
    if bins < 1:
        raise StrataError(f"PSI bins must be at least 1, got {bins}; the usual choice is 10")
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.size == 0 or a.size == 0:
        empty = "expected" if e.size == 0 else "actual"
        raise StrataError(f"PSI needs values in both populations; the {empty} one is empty")
    e_nan, a_nan = np.isnan(e), np.isnan(a)
    e_finite = e[~e_nan]
    edges = (
        np.unique(np.quantile(e_finite, np.linspace(0, 1, bins + 1)[1:-1]))
        if e_finite.size
        else np.empty(0)
    )
    # side="left": the bin index is the number of edges strictly below the value.
    e_bin = np.searchsorted(edges, e_finite, side="left")
    a_bin = np.searchsorted(edges, a[~a_nan], side="left")
    n_bins = edges.size + 1
    e_counts = np.append(np.bincount(e_bin, minlength=n_bins), e_nan.sum())
    a_counts = np.append(np.bincount(a_bin, minlength=n_bins), a_nan.sum())
    return _psi_from_counts(e_counts, a_counts, epsilon)


def _categorical_psi(expected: pd.Series, actual: pd.Series, epsilon: float) -> float:
    """PSI over the categories seen in either population, missing values as one category."""
    e = expected.astype("object").where(expected.notna(), "<missing>")
    a = actual.astype("object").where(actual.notna(), "<missing>")
    cats = pd.Index(pd.unique(pd.concat([e, a], ignore_index=True)))
    e_counts = e.value_counts().reindex(cats, fill_value=0).to_numpy()
    a_counts = a.value_counts().reindex(cats, fill_value=0).to_numpy()
    return _psi_from_counts(e_counts, a_counts, epsilon)


def psi_by_attribute(
    train_frame: pd.DataFrame,
    new_frame: pd.DataFrame,
    attributes: Iterable[str],
    bins: int = 10,
    epsilon: float = DEFAULT_EPSILON,
) -> dict[str, float]:
    """PSI of each attribute, training snapshot (expected) against the newest one (actual).

    Numeric and boolean attributes use quantile bins; text attributes use their categories.
    """
    attributes = list(attributes)
    for label, frame in (("training", train_frame), ("newest", new_frame)):
        missing = [name for name in attributes if name not in frame.columns]
        if missing:
            raise StrataError(
                f"drift: the {label} snapshot has no column(s) {', '.join(missing)}; "
                f"compare only attributes present in both snapshots"
            )
    out: dict[str, float] = {}
    for name in attributes:
        e, a = train_frame[name], new_frame[name]
        numeric = all(
            pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s) for s in (e, a)
        )
        out[name] = (
            population_stability_index(e.astype(float), a.astype(float), bins, epsilon)
            if numeric
            else _categorical_psi(e, a, epsilon)
        )
    return out


def drift_metrics(psi: dict[str, float]) -> dict[str, float]:
    """PSI per attribute as gate metrics: ``psi.<attribute>`` (matched by the gate metric psi.*)."""
    return {f"{DRIFT_PREFIX}{name}": value for name, value in psi.items()}
