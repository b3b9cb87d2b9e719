"""Per-class SHAP contributions equal shap.TreeExplainer's and add up to the raw score."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from training.contrib import assigned_contributions, class_boosters, top_contributions


def _model(n_classes: int, categorical: bool = False):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 5))
    if categorical:
        X[:, 4] = rng.integers(0, 6, 600)
    score = X[:, 0] + np.sin(X[:, 1]) + (X[:, 4] > 2 if categorical else X[:, 2])
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values take the default branch
    params = {
        "objective": "multiclass",
        "num_class": n_classes,
        "num_leaves": 7,
        "max_depth": 3,
        "verbosity": -1,
        "seed": 0,
    }
    cat = [4] if categorical else "auto"
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=cat), num_boost_round=25)
    return booster, X


@pytest.mark.parametrize(("n_classes", "categorical"), [(2, False), (4, False), (4, True)])
def test_assigned_contributions_equal_tree_explainer(n_classes, categorical):
    import shap

    booster, X = _model(n_classes, categorical)
    assigned = booster.predict(X).argmax(axis=1)
    ours = assigned_contributions(class_boosters(booster), X, assigned)

    explainer = shap.TreeExplainer(booster)
    values = explainer.shap_values(X)
    values = np.stack(values, axis=-1) if isinstance(values, list) else np.asarray(values)
    assert values.shape == (X.shape[0], X.shape[1], n_classes)
    theirs = values[np.arange(len(X)), :, assigned]
    base = np.asarray(explainer.expected_value).reshape(-1)[assigned]
    np.testing.assert_allclose(ours[:, :-1], theirs, atol=1e-6)
    np.testing.assert_allclose(ours[:, -1], base, atol=1e-6)


def test_contributions_plus_base_equal_the_raw_score():
    booster, X = _model(3)
    assigned = np.arange(len(X)) % 3  # any class, not only the winning one
    contrib = assigned_contributions(class_boosters(booster), X, assigned)
    raw = booster.predict(X, raw_score=True)[np.arange(len(X)), assigned]
    np.testing.assert_allclose(contrib.sum(axis=1), raw, atol=1e-9)


def test_contributions_equal_the_full_pred_contrib_block():
    booster, X = _model(3)
    full = booster.predict(X, pred_contrib=True).reshape(len(X), 3, X.shape[1] + 1)
    for c, sub in enumerate(class_boosters(booster)):
        np.testing.assert_allclose(sub.predict(X, pred_contrib=True), full[:, c, :], atol=1e-12)


def test_top_contributions_rank_by_absolute_value():
    contrib = np.array([[0.1, -0.5, 0.3, 0.0, 9.0], [2.0, 0.0, -3.0, 1.0, 9.0]])
    idx, values = top_contributions(contrib, 2)
    assert idx.tolist() == [[1, 2], [2, 0]]
    assert values.tolist() == [[-0.5, 0.3], [-3.0, 2.0]]
