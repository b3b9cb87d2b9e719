"""Small pieces of the assigner and the training config, checked against known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from planted import planted_workspace
from sklearn.utils.class_weight import compute_sample_weight

from ml.config.files import load_training_config
from ml.config.training import TrainingConfig
from ml.errors import StrataError
from training.assigner import design_matrix, sample_weights
from training.cross_validation import classification_metrics


def test_balanced_weights_match_scikit_learn():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 0, 1, 0])
    np.testing.assert_allclose(
        sample_weights(y, 3, "balanced"), compute_sample_weight("balanced", y)
    )
    assert (sample_weights(y, 3, "none") == 1).all()


def test_design_matrix_codes_categories_and_unknowns_are_missing():
    frame = pd.DataFrame({"family": ["b", "a", "zz", None], "price": ["1.5", 2, None, 4]})
    X = design_matrix(frame, ["family", "price"], {"family": ["a", "b"]})
    np.testing.assert_array_equal(X[:, 0], [1, 0, np.nan, np.nan])
    np.testing.assert_array_equal(X[:, 1], [1.5, 2, np.nan, 4])


def test_metrics_of_a_perfect_and_a_wrong_prediction():
    y = np.array([0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    m = classification_metrics(y, proba, ["a", "b"])
    assert m["recall_a"] == 1.0
    assert m["recall_b"] == 0.5
    assert m["cv_balanced_accuracy"] == 0.75
    assert m["cv_macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert m["cv_log_loss"] == pytest.approx(-(np.log(0.9) + np.log(0.8) + np.log(0.4)) / 3)


def test_training_config_is_read_from_the_workspace_and_validated(tmp_path):
    ws = planted_workspace(tmp_path, pd.DataFrame({"sku_id": ["A"], "planted_segment": ["x"]}))
    (tmp_path / "configs").mkdir()
    path = tmp_path / "configs" / "training.yaml"
    path.write_text(yaml.safe_dump({"labeller": "clusters", "assigner": {"cv_folds": 3}}))
    cfg = load_training_config(ws)
    assert cfg.labeller == "clusters" and cfg.assigner.cv_folds == 3
    path.write_text(yaml.safe_dump({"assigner": {"params": {"num_leaves": 64, "max_depth": 3}}}))
    with pytest.raises(StrataError, match="num_leaves 64 cannot be reached with max_depth 3"):
        load_training_config(ws)
    path.write_text(yaml.safe_dump({"assigner": {"trees": 5}}))
    with pytest.raises(StrataError, match=r"key 'assigner\.trees' is not allowed"):
        load_training_config(ws)


def test_repo_training_yaml_is_valid_and_matches_the_defaults():
    from pathlib import Path

    from ml.config.files import load_model

    repo = Path(__file__).resolve().parents[2]
    shipped = load_model(repo / "configs" / "training.yaml", TrainingConfig)
    defaults = TrainingConfig()
    # the shipped file tunes the cluster attributes to the real data; the rest are the defaults
    assert shipped.model_copy(update={"clusters": defaults.clusters}) == defaults
    scms = load_model(repo / "configs" / "training_scms.yaml", TrainingConfig)
    assert scms.clusters.min_cluster_size < shipped.clusters.min_cluster_size
