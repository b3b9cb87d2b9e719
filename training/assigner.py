"""The supervised assigner: LightGBM multiclass on attributes, class weights, stratified CV."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    recall_score,
)
from sklearn.model_selection import StratifiedKFold, train_test_split

from ml.config.training import LightGBMParams

__all__ = [
    "CVResult",
    "FittedModel",
    "categories_of",
    "classification_metrics",
    "cross_validate",
    "design_matrix",
    "fit_booster",
    "fit_model",
    "holdout_macro_f1",
    "lgb_params",
    "sample_weights",
]


def categories_of(frame: pd.DataFrame, columns: Sequence[str], max_categories: int) -> dict:
    """Per categorical column, its most frequent values (at most `max_categories`), sorted."""
    out = {}
    for c in columns:
        counts = frame[c].dropna().astype(str).value_counts()
        out[c] = sorted(counts.index[:max_categories].tolist())
    return out


def design_matrix(
    frame: pd.DataFrame, features: Sequence[str], categories: dict[str, list[str]] | None = None
) -> np.ndarray:
    """float64 matrix of `features`; a categorical becomes its code (unknown or missing -> NaN)."""
    categories = categories or {}
    cols = []
    for f in features:
        if f in categories:
            codes = pd.Categorical(frame[f].astype("str"), categories=categories[f]).codes
            cols.append(np.where(codes < 0, np.nan, codes).astype(np.float64))
        else:
            cols.append(
                pd.to_numeric(frame[f], errors="coerce").to_numpy(np.float64, na_value=np.nan)
            )
    return np.column_stack(cols) if cols else np.empty((len(frame), 0))


def sample_weights(y: np.ndarray, n_classes: int, mode: str) -> np.ndarray:
    """balanced: each class weighs n / (k * n_class), as scikit-learn's class_weight='balanced'."""
    if mode == "none":
        return np.ones(len(y))
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = counts > 0
    per_class = np.zeros(n_classes)
    per_class[present] = len(y) / (present.sum() * counts[present])
    return per_class[y]


def lgb_params(
    params: LightGBMParams, n_classes: int, seed: int, num_threads: int = 0
) -> dict[str, Any]:
    """The LightGBM parameter dict of a compact multiclass model."""
    return {
        "objective": "multiclass",
        "num_class": n_classes,
        "num_leaves": params.num_leaves,
        "max_depth": params.max_depth,
        "learning_rate": params.learning_rate,
        "min_data_in_leaf": params.min_data_in_leaf,
        "feature_fraction": params.feature_fraction,
        "lambda_l2": params.lambda_l2,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads,
        "verbosity": -1,
    }


def fit_booster(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    params: LightGBMParams,
    n_classes: int,
    *,
    seed: int,
    categorical: Sequence[int] = (),
    num_threads: int = 0,
    valid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    callbacks: list[Callable[..., Any]] | None = None,
) -> lgb.Booster:
    """Train one multiclass booster; `valid` (X, y, w) is evaluated for pruning callbacks."""
    cat = list(categorical) or "auto"
    train = lgb.Dataset(X, y, weight=w, categorical_feature=cat, free_raw_data=True)
    valid_sets = []
    if valid is not None:
        valid_sets = [lgb.Dataset(valid[0], valid[1], weight=valid[2], reference=train)]
    p = lgb_params(params, n_classes, seed, num_threads)
    if valid is not None:
        p["metric"] = "multi_logloss"
    return lgb.train(
        p,
        train,
        num_boost_round=params.num_boost_round,
        valid_sets=valid_sets or None,
        valid_names=["valid"] if valid_sets else None,
        callbacks=callbacks,
    )


def classification_metrics(
    y: np.ndarray, proba: np.ndarray, classes: Sequence[str], prefix: str = "cv_"
) -> dict[str, float]:
    """macro-F1, balanced accuracy, log loss (`prefix`ed) and recall_<segment> of each class."""
    labels = np.arange(len(classes))
    pred = proba.argmax(axis=1)
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    out = {
        f"{prefix}macro_f1": float(
            f1_score(y, pred, labels=labels, average="macro", zero_division=0)
        ),
        f"{prefix}balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        f"{prefix}log_loss": float(log_loss(y, clipped, labels=labels)),
    }
    recalls = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    for name, r in zip(classes, recalls, strict=True):
        out[f"recall_{name}"] = float(r)
    return out


@dataclass(frozen=True)
class CVResult:
    """Out-of-fold probabilities and the metrics computed from them."""

    oof_proba: np.ndarray
    metrics: dict[str, float]
    confusion: np.ndarray
    folds: int


def cross_validate(
    X: np.ndarray,
    y: np.ndarray,
    classes: Sequence[str],
    params: LightGBMParams,
    *,
    folds: int,
    seed: int,
    class_weight: str = "balanced",
    categorical: Sequence[int] = (),
    num_threads: int = 0,
    prefix: str = "cv_",
) -> CVResult:
    """Stratified k-fold CV; a segment smaller than k is still used (it lands in fewer folds)."""
    n_classes = len(classes)
    # StratifiedKFold refuses only when every segment is smaller than k
    largest = int(np.bincount(y, minlength=n_classes).max(initial=0))
    k = max(2, min(folds, largest))
    oof = np.zeros((len(y), n_classes))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        for tr, te in splitter.split(X, y):
            w = sample_weights(y[tr], n_classes, class_weight)
            b = fit_booster(
                X[tr],
                y[tr],
                w,
                params,
                n_classes,
                seed=seed,
                categorical=categorical,
                num_threads=num_threads,
            )
            oof[te] = b.predict(X[te])
    metrics = classification_metrics(y, oof, classes, prefix)
    cm = confusion_matrix(y, oof.argmax(axis=1), labels=np.arange(n_classes))
    return CVResult(oof, metrics, cm, k)


def holdout_macro_f1(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    params: LightGBMParams,
    *,
    share: float,
    seed: int,
    class_weight: str = "balanced",
    categorical: Sequence[int] = (),
    num_threads: int = 0,
) -> float:
    """macro-F1 on a stratified held-out share, of a model trained on the rest."""
    counts = np.bincount(y, minlength=n_classes)
    stratify = y if counts[counts > 0].min() >= 2 else None
    tr, te = train_test_split(
        np.arange(len(y)), test_size=share, random_state=seed, stratify=stratify
    )
    b = fit_booster(
        X[tr],
        y[tr],
        sample_weights(y[tr], n_classes, class_weight),
        params,
        n_classes,
        seed=seed,
        categorical=categorical,
        num_threads=num_threads,
    )
    pred = b.predict(X[te]).argmax(axis=1)
    labels = np.unique(y)
    return float(f1_score(y[te], pred, labels=labels, average="macro", zero_division=0))


@dataclass
class FittedModel:
    """A trained booster with what it needs to read a feature frame and to word its reasons."""

    booster: lgb.Booster
    classes: list[str]
    features: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    typical: dict[str, float] = field(default_factory=dict)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's design matrix for `frame`."""
        return design_matrix(frame, self.features, self.categories)


def fit_model(
    frame: pd.DataFrame,
    y: np.ndarray,
    classes: Sequence[str],
    features: Sequence[str],
    params: LightGBMParams,
    *,
    seed: int,
    class_weight: str = "balanced",
    categories: dict[str, list[str]] | None = None,
    num_threads: int = 0,
) -> FittedModel:
    """Fit the final model on every labelled row; medians of numeric features for the wording."""
    categories = categories or {}
    X = design_matrix(frame, features, categories)
    cat_idx = [i for i, f in enumerate(features) if f in categories]
    w = sample_weights(y, len(classes), class_weight)
    booster = fit_booster(
        X, y, w, params, len(classes), seed=seed, categorical=cat_idx, num_threads=num_threads
    )
    typical = {
        f: float(np.nanmedian(X[:, i])) if np.isfinite(X[:, i]).any() else float("nan")
        for i, f in enumerate(features)
        if f not in categories
    }
    return FittedModel(booster, list(classes), list(features), dict(categories), typical)
