"""The clusters labeller recovers planted segments, keeps noise explicit, reports candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
from planted import TRUTH, planted_catalogue, planted_config, planted_frame
from sklearn.metrics import adjusted_rand_score

from ml.catalogue import assign_by_rules
from training.clusters import NOISE, cluster_labels, cluster_matrix, stratified_sample


def _established(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["age_periods"] >= 13].reset_index(drop=True)


def test_clusters_recover_the_planted_segments(planted):
    frame = _established(planted)
    rules = assign_by_rules(frame, planted_catalogue())["segment"]
    result = cluster_labels(frame, rules, planted_config().clusters, seed=0)
    clustered = result.cluster >= 0
    ari = adjusted_rand_score(frame[TRUTH][clustered], result.cluster[clustered])
    assert ari >= 0.8
    assert result.metrics["n_clusters"] == 6
    assert 0 <= result.metrics["noise_share"] < 0.1
    assert result.metrics["silhouette"] > 0.3
    assert -1 <= result.metrics["dbcv"] <= 1
    # each cluster is named by its members' rule segment; noise stays "noise"
    assert set(result.labels[clustered]) == set(frame[TRUTH])
    assert (result.labels[~clustered] == NOISE).all()
    profiles = result.profiles
    assert {"cluster", "status", "label", "size", "majority_share", "median_adi"} <= set(profiles)
    assert profiles["size"].sum() == len(frame)


def test_above_the_sample_cap_the_rest_is_placed_by_approximate_predict():
    frame = _established(planted_frame(2400, seed=3))
    rules = assign_by_rules(frame, planted_catalogue())["segment"]
    cfg = planted_config(clusters={"min_cluster_size": 30, "sample_cap": 1000}).clusters
    result = cluster_labels(frame, rules, cfg, seed=0)
    assert result.metrics["clustered_sample_size"] < len(frame)
    clustered = result.cluster >= 0
    assert clustered.mean() > 0.9
    assert adjusted_rand_score(frame[TRUTH][clustered], result.cluster[clustered]) >= 0.8


def test_a_cluster_without_a_rule_majority_is_a_candidate_segment(planted):
    frame = _established(planted)
    rules = frame[TRUTH].astype(str).copy()
    smooth = np.flatnonzero(rules == "smooth_sellers")
    rules.iloc[smooth[::2]] = "erratic_sellers"  # the rules split this cluster 50/50
    result = cluster_labels(frame, rules, planted_config().clusters, seed=0)
    cand = result.profiles[result.profiles["status"] == "candidate"]
    assert len(cand) == 1
    assert cand["label"].iloc[0].startswith("candidate_")
    assert result.metrics["n_candidate_clusters"] == 1
    assert not result.trainable[result.labels.str.startswith("candidate_").to_numpy()].any()


def test_transform_is_log1p_then_robust_scaling():
    frame = pd.DataFrame({"a": [0.0, 1.0, 3.0, 7.0, np.nan], "b": [1.0, 2.0, 3.0, 4.0, 5.0]})
    X, scale = cluster_matrix(frame, ["a", "b"], ["a"])
    logged = np.log1p([0.0, 1.0, 3.0, 7.0])
    med, iqr = np.median(logged), np.subtract(*np.percentile(logged, [75, 25]))
    np.testing.assert_allclose(X[:4, 0], (logged - med) / iqr)
    assert X[4, 0] == 0.0  # missing -> the median
    np.testing.assert_allclose(X[:, 1], (np.arange(1, 6) - 3.0) / 2.0)
    assert scale["b"] == (3.0, 2.0)


def test_stratified_sample_keeps_small_strata():
    strata = np.array(["big"] * 9900 + ["small"] * 100)
    idx = stratified_sample(strata, cap=1000, floor=80, seed=0)
    picked = pd.Series(strata[idx]).value_counts()
    assert picked["small"] == 80
    assert picked["big"] == 990
    assert len(np.unique(idx)) == len(idx)
