"""The clusters labeller: HDBSCAN on transformed attributes, clusters mapped onto catalogue segments.

Transforms (documented in configs/training.yaml): each attribute in `clusters.log1p` is clipped
at 0 and log1p-transformed (volumes and revenue span orders of magnitude); every clustered
attribute is then robust-scaled, (x - median) / IQR (IQR 0 -> 1), so no attribute dominates the
Euclidean distance by its unit. A missing value is set to the median (0 after scaling).

Above `sample_cap` products HDBSCAN fits a sample stratified by rule segment (proportional, with
each segment given at least 2 x min_cluster_size rows or all it has, so small segments can still
form a cluster); the other products are placed with `hdbscan.approximate_predict`.

Mapping: a cluster takes the segment that the catalogue's rules give most of its members
(majority vote), when that majority holds at least `min_majority_share` of the cluster. A
cluster below it matches no archetype and is reported as a candidate new segment
(`candidate_<id>`). HDBSCAN noise keeps the label `noise`. Neither noise nor candidate members
train the assigner; the assigner still gives them a segment.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import hdbscan
import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score

from ml.config.training import ClustersConfig

__all__ = [
    "CANDIDATE_PREFIX",
    "NOISE",
    "ClusterResult",
    "cluster_labels",
    "cluster_matrix",
    "stratified_sample",
]

NOISE = "noise"
CANDIDATE_PREFIX = "candidate_"


def cluster_matrix(
    frame: pd.DataFrame, attributes: list[str], log1p: list[str]
) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """The transformed matrix HDBSCAN sees, and each attribute's (median, IQR) after log1p."""
    cols, scale = [], {}
    for a in attributes:
        x = pd.to_numeric(frame[a], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        if a in log1p:
            x = np.log1p(np.clip(x, 0.0, None))
        finite = x[np.isfinite(x)]
        med = float(np.median(finite)) if finite.size else 0.0
        q1, q3 = np.percentile(finite, [25, 75]) if finite.size else (0.0, 1.0)
        iqr = float(q3 - q1) or 1.0
        scale[a] = (med, iqr)
        cols.append(np.where(np.isfinite(x), (x - med) / iqr, 0.0))
    return np.column_stack(cols), scale


def stratified_sample(strata: np.ndarray, cap: int, floor: int, seed: int) -> np.ndarray:
    """Sorted row indices: a proportional sample of about `cap` rows, each stratum >= `floor`."""
    n = len(strata)
    if n <= cap:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    _values, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
    take = np.maximum(np.round(counts * cap / n).astype(int), np.minimum(counts, floor))
    picked = [
        rng.choice(np.flatnonzero(inverse == i), size=int(t), replace=False)
        for i, t in enumerate(take)
    ]
    return np.sort(np.concatenate(picked))


@dataclass
class ClusterResult:
    """Every product's cluster and label, the clusters' profiles and the quality metrics."""

    cluster: np.ndarray  # per product, -1 = noise
    labels: pd.Series  # segment name, NOISE or candidate_<id>
    profiles: pd.DataFrame
    metrics: dict[str, float]
    scale: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def trainable(self) -> np.ndarray:
        """Products whose label is a catalogue segment (not noise, not a candidate)."""
        text = self.labels.astype(str)
        return ~(text.eq(NOISE) | text.str.startswith(CANDIDATE_PREFIX)).to_numpy()


def _validity(X: np.ndarray, labels: np.ndarray, cap: int, seed: int) -> tuple[float, float]:
    """DBCV and silhouette (non-noise points) on at most `cap` points; NaN when undefined."""
    idx = np.arange(len(labels))
    if len(idx) > cap:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=cap, replace=False))
    Xs, ls = X[idx].astype(np.float64), labels[idx]
    clusters = np.unique(ls[ls >= 0])
    dbcv = sil = float("nan")
    if clusters.size >= 2:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                dbcv = float(hdbscan.validity_index(Xs, ls))
            except (ValueError, ZeroDivisionError, IndexError):
                dbcv = float("nan")
        keep = ls >= 0
        if keep.sum() > clusters.size:
            sil = float(silhouette_score(Xs[keep], ls[keep]))
    return dbcv, sil


def _profiles(
    frame: pd.DataFrame,
    attributes: list[str],
    cluster: np.ndarray,
    rule_segments: pd.Series,
    min_share: float,
) -> tuple[pd.DataFrame, dict[int, str]]:
    rows, label_of = [], {}
    values = frame[attributes].apply(pd.to_numeric, errors="coerce")
    rules = rule_segments.astype(str).to_numpy()
    n = len(cluster)
    for c in np.unique(cluster):
        members = cluster == c
        counts = pd.Series(rules[members]).value_counts()
        top, top_n = (str(counts.index[0]), int(counts.iloc[0])) if len(counts) else ("", 0)
        share = top_n / int(members.sum())
        if c < 0:
            status, label = NOISE, NOISE
        elif share >= min_share:
            status, label = "matched", top
        else:
            status, label = "candidate", f"{CANDIDATE_PREFIX}{int(c)}"
        label_of[int(c)] = label
        medians = values.loc[members].median()
        rows.append(
            {
                "cluster": int(c),
                "status": status,
                "label": label,
                "majority_segment": top,
                "majority_share": round(share, 4),
                "size": int(members.sum()),
                "share": round(int(members.sum()) / n, 4),
                **{f"median_{a}": float(medians[a]) for a in attributes},
            }
        )
    return pd.DataFrame(rows), label_of


def cluster_labels(
    frame: pd.DataFrame, rule_segments: pd.Series, config: ClustersConfig, *, seed: int
) -> ClusterResult:
    """HDBSCAN clusters of `frame`'s products, labelled with catalogue segments (module doc)."""
    X, scale = cluster_matrix(frame, config.attributes, config.log1p)
    strata = rule_segments.astype(str).to_numpy()
    sample = stratified_sample(strata, config.sample_cap, 2 * config.min_cluster_size, seed)
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=config.min_cluster_size,
        min_samples=config.min_samples,
        cluster_selection_method=config.cluster_selection_method,
        prediction_data=True,
        core_dist_n_jobs=1,
    ).fit(X[sample])
    cluster = np.full(len(frame), -1, dtype=int)
    cluster[sample] = clusterer.labels_
    rest = np.setdiff1d(np.arange(len(frame)), sample, assume_unique=True)
    if rest.size and clusterer.labels_.max() >= 0:
        predicted, _strength = hdbscan.approximate_predict(clusterer, X[rest])
        cluster[rest] = predicted
    dbcv, sil = _validity(X[sample], clusterer.labels_, config.validity_sample, seed)
    profiles, label_of = _profiles(
        frame, config.attributes, cluster, rule_segments, config.min_majority_share
    )
    labels = pd.Series([label_of[int(c)] for c in cluster], index=frame.index, dtype="str")
    n_clusters = int((profiles["cluster"] >= 0).sum())
    metrics = {
        "n_clusters": float(n_clusters),
        "noise_share": float((cluster < 0).mean()),
        "dbcv": dbcv,
        "silhouette": sil,
        "n_candidate_clusters": float((profiles["status"] == "candidate").sum()),
        "clustered_sample_size": float(len(sample)),
    }
    return ClusterResult(cluster, labels, profiles, metrics, scale)
