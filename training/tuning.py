"""Optuna search over the assigner's size and regularisation, with pruning and a seeded sampler.

Each trial trains on a stratified 75% and is scored by the multi-class log loss on the other 25%;
LightGBMPruningCallback reports that loss every round and a median pruner stops trials that lag.
The search space stays inside compact models (TuningConfig bounds rounds, leaves and depth)
because explaining a product costs time in proportion to rounds x leaves x depth². Every trial,
pruned or not, is handed to `on_trial` so the caller can log it as a nested MLflow run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from optuna_integration import LightGBMPruningCallback
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from ml.config.training import LightGBMParams, TuningConfig
from training.assigner import fit_booster, sample_weights

__all__ = ["suggest_params", "tune"]

TrialHook = Callable[[int, dict[str, Any], float | None, str], None]


def suggest_params(trial: Any, bounds: TuningConfig) -> LightGBMParams:
    """One trial's LightGBM settings; leaves are capped at what the depth allows."""
    depth = trial.suggest_int("max_depth", 2, bounds.max_depth)
    leaves = trial.suggest_int("num_leaves", 4, bounds.max_leaves)
    return LightGBMParams(
        num_boost_round=trial.suggest_int("num_boost_round", 20, bounds.max_boost_round, step=10),
        num_leaves=min(leaves, 2**depth),
        max_depth=depth,
        learning_rate=trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
        min_data_in_leaf=trial.suggest_int("min_data_in_leaf", 5, 100, log=True),
        feature_fraction=trial.suggest_float("feature_fraction", 0.6, 1.0),
        lambda_l2=trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    )


def tune(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    bounds: TuningConfig,
    *,
    trials: int,
    seed: int,
    class_weight: str = "balanced",
    categorical: Sequence[int] = (),
    num_threads: int = 0,
    on_trial: TrialHook | None = None,
) -> tuple[LightGBMParams, dict[str, float]]:
    """The best settings found in `trials` trials, and a summary (best loss, pruned, complete)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    counts = np.bincount(y, minlength=n_classes)
    stratify = y if counts[counts > 0].min() >= 2 else None
    tr, va = train_test_split(
        np.arange(len(y)), test_size=0.25, random_state=seed, stratify=stratify
    )
    w_tr = sample_weights(y[tr], n_classes, class_weight)
    w_va = sample_weights(y[va], n_classes, class_weight)
    labels = np.arange(n_classes)

    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial, bounds)
        trial.set_user_attr("params", params.model_dump())
        pruning = LightGBMPruningCallback(trial, "multi_logloss", valid_name="valid")
        booster = fit_booster(
            X[tr],
            y[tr],
            w_tr,
            params,
            n_classes,
            seed=seed,
            categorical=categorical,
            num_threads=num_threads,
            valid=(X[va], y[va], w_va),
            callbacks=[pruning],
        )
        proba = np.clip(booster.predict(X[va]), 1e-15, 1)
        return float(log_loss(y[va], proba / proba.sum(axis=1, keepdims=True), labels=labels))

    def report(study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(
                frozen.number,
                frozen.user_attrs.get("params", frozen.params),
                frozen.value,
                frozen.state.name,
            )

    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=10),
    )
    study.optimize(objective, n_trials=trials, timeout=bounds.timeout_s, callbacks=[report])
    return _best(study)


def _best(study: optuna.Study) -> tuple[LightGBMParams, dict[str, float]]:
    """The best trial's settings and the search's summary; an error when no trial completed."""
    states = [t.state.name for t in study.trials]
    if "COMPLETE" not in states:
        raise RuntimeError("every Optuna trial was pruned or failed; run more trials")
    best = LightGBMParams(**study.best_trial.user_attrs["params"])
    summary = {
        "tuning_best_log_loss": float(study.best_value),
        "tuning_trials": float(len(states)),
        "tuning_pruned": float(states.count("PRUNED")),
        "tuning_best_trial": float(study.best_trial.number),
    }
    return best, summary
