"""How well the assigner generalises: stratified k-fold CV and a held-out share, on clones of it."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    recall_score,
)
from sklearn.model_selection import StratifiedKFold, train_test_split

from training.assigner import SegmentAssigner, segment_codes

__all__ = ["CVResult", "classification_metrics", "cross_validate", "holdout_macro_f1"]


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
    """Out-of-fold probabilities, raw scores and fold of each row, and the metrics from them."""

    oof_proba: np.ndarray
    metrics: dict[str, float]
    confusion: np.ndarray
    folds: int
    oof_raw: np.ndarray | None = None  # decision_function of the fold model that held it out
    fold_of: np.ndarray | None = None  # the fold (0..folds-1) each row was held out in
    codes: np.ndarray | None = None  # each row's label as a class position


def _fit_on(
    assigner: SegmentAssigner, classes: list[str], X: pd.DataFrame, y: np.ndarray, rows: np.ndarray
) -> SegmentAssigner:
    """A clone of `assigner` fitted on `rows`, with every class kept (a fold may lack one)."""
    return clone(assigner).set_params(classes=classes).fit(X.iloc[rows], y[rows])


def _labels_and_codes(
    assigner: SegmentAssigner, y: Sequence[Any] | pd.Series
) -> tuple[list[str], np.ndarray, np.ndarray]:
    labels = np.asarray(y, dtype=object)
    classes = list(assigner.classes) if assigner.classes is not None else sorted(set(labels))
    # the splitters see class positions (their class order decides the split), never names
    return classes, labels, segment_codes(labels, classes)


def cross_validate(
    assigner: SegmentAssigner,
    X: pd.DataFrame,
    y: Sequence[Any] | pd.Series,
    *,
    folds: int,
    seed: int,
    prefix: str = "cv_",
) -> CVResult:
    """Stratified k-fold CV; a segment smaller than k is still used (it lands in fewer folds)."""
    classes, labels, codes = _labels_and_codes(assigner, y)
    frame = X.reset_index(drop=True)
    n_classes = len(classes)
    # StratifiedKFold refuses only when every segment is smaller than k
    largest = int(np.bincount(codes, minlength=n_classes).max(initial=0))
    k = max(2, min(folds, largest))
    oof = np.zeros((len(codes), n_classes))
    raw = np.zeros((len(codes), n_classes))
    fold_of = np.zeros(len(codes), dtype=int)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        splits = splitter.split(np.zeros((len(codes), 1)), codes)
        for fold, (tr, te) in enumerate(splits):
            fitted = _fit_on(assigner, classes, frame, labels, tr)
            held_out = frame.iloc[te]
            oof[te] = fitted.predict_proba(held_out)
            raw[te] = fitted.decision_function(held_out)
            fold_of[te] = fold
    metrics = classification_metrics(codes, oof, classes, prefix)
    cm = confusion_matrix(codes, oof.argmax(axis=1), labels=np.arange(n_classes))
    return CVResult(oof, metrics, cm, k, raw, fold_of, codes)


def holdout_macro_f1(
    assigner: SegmentAssigner,
    X: pd.DataFrame,
    y: Sequence[Any] | pd.Series,
    *,
    share: float,
    seed: int,
) -> float:
    """macro-F1 on a stratified held-out share, of a clone trained on the rest."""
    classes, labels, codes = _labels_and_codes(assigner, y)
    frame = X.reset_index(drop=True)
    counts = np.bincount(codes, minlength=len(classes))
    stratify = codes if counts[counts > 0].min() >= 2 else None
    tr, te = train_test_split(
        np.arange(len(codes)), test_size=share, random_state=seed, stratify=stratify
    )
    pred = (
        _fit_on(assigner, classes, frame, labels, tr).predict_proba(frame.iloc[te]).argmax(axis=1)
    )
    present = np.unique(codes)
    return float(f1_score(codes[te], pred, labels=present, average="macro", zero_division=0))
