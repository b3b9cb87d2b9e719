"""TreeSHAP as lookup tables equals LightGBM's pred_contrib and shap.TreeExplainer."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from training.contrib import assigned_contributions, class_boosters
from training.shap_tables import table_contributions, tree_tables


def _booster(
    extra: dict, nan_share: float = 0.05, rounds: int = 25
) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(800, 6))
    X[:, 5] = rng.integers(0, 3, 800)  # many exact zeros
    score = X[:, 0] + np.sin(X[:, 1]) + X[:, 2] * (X[:, 5] - 1)
    y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    X[rng.random(X.shape) < nan_share] = np.nan
    params = {
        "objective": "multiclass",
        "num_class": 3,
        "num_leaves": 7,
        "max_depth": 3,
        "verbosity": -1,
        "seed": 0,
        **extra,
    }
    return lgb.train(params, lgb.Dataset(X, y), num_boost_round=rounds), X


def _rows_to_score(X: np.ndarray) -> np.ndarray:
    """The training rows plus gaps, zeros and values LightGBM reads as zero, on every feature."""
    rng = np.random.default_rng(8)
    extra = rng.normal(size=(300, X.shape[1]))
    extra[rng.random(extra.shape) < 0.2] = np.nan
    extra[rng.random(extra.shape) < 0.1] = 0.0
    extra[rng.random(extra.shape) < 0.05] = 1e-40
    return np.vstack([X, extra])


@pytest.mark.parametrize(
    ("extra", "nan_share"),
    [
        ({}, 0.05),  # missing type NaN: a gap takes the default branch
        ({}, 0.0),  # missing type None: a gap reads as 0
        ({"zero_as_missing": True}, 0.05),  # missing type Zero
        ({"max_depth": -1, "num_leaves": 9}, 0.05),  # deeper trees, features split twice
    ],
)
def test_tables_equal_pred_contrib(extra, nan_share):
    booster, X = _booster(extra, nan_share)
    rows = _rows_to_score(X)
    for sub in class_boosters(booster):
        tables = tree_tables(sub)
        assert tables is not None
        ours = table_contributions(tables, rows)
        np.testing.assert_allclose(ours, sub.predict(rows, pred_contrib=True), atol=1e-12)


def test_assigned_contributions_by_tables_equal_tree_explainer():
    import shap

    booster, X = _booster({})
    assigned = booster.predict(X).argmax(axis=1)
    per_class = class_boosters(booster)
    ours = assigned_contributions(
        per_class, X, assigned, tables=[tree_tables(b) for b in per_class]
    )
    values = np.asarray(shap.TreeExplainer(booster).shap_values(X))
    values = values if values.shape[-1] == 3 else np.moveaxis(values, 0, -1)
    np.testing.assert_allclose(ours[:, :-1], values[np.arange(len(X)), :, assigned], atol=1e-6)


def test_a_categorical_split_is_left_to_lightgbm():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=600), rng.integers(0, 6, 600)])
    y = (X[:, 1] > 2).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "verbosity": -1, "min_data_per_group": 5}
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=[1]), num_boost_round=5)
    assert tree_tables(booster) is None


def test_trees_past_eight_internal_nodes_are_left_to_lightgbm():
    booster, _X = _booster({"max_depth": -1, "num_leaves": 15}, rounds=3)
    assert all(tree_tables(sub) is None for sub in class_boosters(booster))
