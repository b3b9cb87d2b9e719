"""The assigner steps of a run: tune, cross-validate, fit the main and the new-product models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from ml.calibration import (
    cross_fitted_proba,
    expected_calibration_error,
    fit_temperature,
)
from ml.config.training import LightGBMParams
from training import plots
from training.assigner import SegmentAssigner, categories_of, design_matrix, segment_codes
from training.cross_validation import CVResult, cross_validate, holdout_macro_f1
from training.labels import Training
from training.run_log import RunLog
from training.tuning import tune

__all__ = [
    "calibration_metrics",
    "cross_validated",
    "fitted_launch_model",
    "main_assigner",
    "tuned_params",
]

Say = Callable[[str], None]


def main_assigner(t: Training, params: LightGBMParams) -> SegmentAssigner:
    """The (unfitted) assigner of established products on configs/training.yaml's features."""
    a_cfg = t.config.assigner
    return SegmentAssigner(
        a_cfg.features,
        classes=t.classes,
        params=params,
        class_weight=a_cfg.class_weight,
        seed=t.config.seed,
        num_threads=a_cfg.num_threads,
    )


def tuned_params(
    run: RunLog, t: Training, rows: pd.DataFrame, y: np.ndarray, trials: int, say: Say
) -> tuple[LightGBMParams, dict[str, float]]:
    """The configured LightGBM settings, or the best of `trials` Optuna trials (nested runs)."""
    a_cfg = t.config.assigner
    if trials <= 0:
        return a_cfg.params, {}
    say(f"tuning the assigner: {trials} Optuna trial(s)")

    def log_trial(number: int, p: dict[str, Any], value: float | None, state: str) -> None:
        with mlflow.start_run(
            run_name=f"trial-{number:03d}",
            nested=True,
            experiment_id=run.experiment_id,
            tags={**run.tags, "optuna_state": state, "optuna_trial": str(number)},
        ):
            mlflow.log_params(p)
            if value is not None:
                mlflow.log_metric("valid_log_loss", value)

    return tune(
        design_matrix(rows, a_cfg.features),
        segment_codes(y, t.classes),
        len(t.classes),
        t.config.tuning,
        trials=trials,
        seed=t.config.seed,
        class_weight=a_cfg.class_weight,
        num_threads=a_cfg.num_threads,
        on_trial=log_trial,
    )


def calibration_metrics(cv: CVResult, method: str) -> tuple[dict[str, float], float]:
    """ECE of the out-of-fold probabilities before (`ece_raw`) and after (`ece`) calibration.

    With `method` temperature, T is fitted on all out-of-fold raw scores (the final model's);
    `ece` scores each fold with a T fitted on the other folds, so it is measured on held-out
    rows. With none, T = 1 and `ece` = `ece_raw`. Returns the metrics and T.
    """
    if cv.oof_raw is None or cv.fold_of is None or cv.codes is None:
        raise ValueError("calibration_metrics needs a CVResult with oof_raw, fold_of and codes")
    ece_raw = expected_calibration_error(cv.oof_proba, cv.codes)
    if method == "none":
        return {"ece_raw": ece_raw, "ece": ece_raw, "temperature": 1.0}, 1.0
    temperature = fit_temperature(cv.oof_raw, cv.codes)
    held_out = cross_fitted_proba(cv.oof_raw, cv.codes, cv.fold_of)
    ece = expected_calibration_error(held_out, cv.codes)
    return {"ece_raw": ece_raw, "ece": ece, "temperature": temperature}, temperature


def cross_validated(
    run: RunLog, t: Training, assigner: SegmentAssigner, rows: pd.DataFrame, y: np.ndarray
) -> tuple[dict[str, float], float]:
    """k-fold CV, held-out and calibration metrics of `assigner`, and its temperature.

    The confusion matrix goes to the run as CSV and PNG.
    """
    a_cfg, seed = t.config.assigner, t.config.seed
    cv = cross_validate(assigner, rows, y, folds=a_cfg.cv_folds, seed=seed)
    calibration, temperature = calibration_metrics(cv, a_cfg.calibration)
    metrics = {**cv.metrics, **calibration, "cv_folds_used": float(cv.folds)}
    metrics["holdout_macro_f1"] = holdout_macro_f1(
        assigner, rows, y, share=a_cfg.holdout_share, seed=seed
    )
    confusion = pd.DataFrame(cv.confusion, index=t.classes, columns=t.classes)
    run.table(confusion, "confusion_matrix.csv", "evaluation", index=True)
    png = plots.confusion_matrix_png(
        cv.confusion,
        t.classes,
        run.tmp / "confusion_matrix.png",
        f"Assigner, {cv.folds}-fold CV: macro-F1 {cv.metrics['cv_macro_f1']:.3f}",
    )
    run.file(png, "evaluation")
    return metrics, temperature


def fitted_launch_model(
    t: Training, rows: pd.DataFrame, y: np.ndarray, say: Say
) -> tuple[SegmentAssigner | None, dict[str, float]]:
    """The new-product assigner on launch attributes, fitted, and its CV metrics (launch_cv_*)."""
    np_cfg, a_cfg = t.config.new_products, t.config.assigner
    if not np_cfg.enabled:
        return None, {}
    say("fitting the new-product model on launch attributes")
    launch = SegmentAssigner(
        np_cfg.features,
        classes=t.classes,
        params=np_cfg.params,
        class_weight=a_cfg.class_weight,
        # the known values are the whole training set's, in every fold as in the final model
        categories=categories_of(rows, np_cfg.categorical, np_cfg.max_categories),
        seed=t.config.seed,
        num_threads=a_cfg.num_threads,
    )
    cv = cross_validate(
        launch, rows, y, folds=a_cfg.cv_folds, seed=t.config.seed, prefix="launch_cv_"
    )
    metrics = {k: v for k, v in cv.metrics.items() if k.startswith("launch_cv_")}
    return launch.fit(rows, y), metrics
