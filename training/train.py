"""`strata train`: label -> cluster -> cross-validate -> fit -> explain -> log one MLflow run.

The one entry point is `train(ws, labels=..., trials=..., as_of=...)`. Everything a user can get
wrong is checked before the MLflow run starts (training.labels), so a bad input leaves nothing in
the store. The run holds the resolved configs, the snapshot manifest, params, metrics, plots and
the pyfunc model, which is registered as a new version of the configured model with no alias.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import mlflow
import pandas as pd

from ml.config import Workspace
from ml.config.training import TrainingConfig
from ml.errors import StrataError
from training.assigner import SegmentAssigner
from training.explanations import explain_assignments
from training.fitting import cross_validated, fitted_launch_model, main_assigner, tuned_params
from training.labels import SegmentFn, Training, prepare_training
from training.packaging import (
    categorical_inputs,
    input_columns,
    input_frame,
    model_signature,
    segmenter_model,
)
from training.pyfunc_model import SegmenterModel, output_columns
from training.run_log import RunLog, flat_params, log_clusters, log_inputs, open_run, register_model
from training.tracking import ensure_experiment, use_workspace_store

__all__ = ["TrainResult", "train"]


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced and where it is."""

    run_id: str
    experiment_id: str
    model_name: str
    model_version: str
    model_uri: str
    labeller: str
    as_of: date
    feature_set: str
    metrics: dict[str, float]
    label_mix: dict[str, int]
    assigned_mix: dict[str, int]
    params: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)


def train(
    ws: Workspace,
    *,
    labels: str | None = None,
    trials: int = 0,
    as_of: date | None = None,
    config: TrainingConfig | None = None,
    catalogue: Any = None,
    segment_fn: SegmentFn | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train, evaluate, explain, log one MLflow run and register a new model version (no alias).

    `labels`: rules | clusters (default: configs/training.yaml). `trials` > 0 tunes the
    assigner with Optuna first. `config`, `catalogue` and `segment_fn` (frame -> segment names)
    override what is read from the workspace's configs.
    """
    say = progress or (lambda _msg: None)
    if trials < 0:
        raise StrataError(f"--trials must be 0 or more, got {trials}")
    say("checking the snapshot and computing labels")
    t = prepare_training(
        ws, labels=labels, as_of=as_of, config=config, catalogue=catalogue, segment_fn=segment_fn
    )
    return _run(ws, t, trials, say)


def _run(ws: Workspace, t: Training, trials: int, say: Callable[[str], None]) -> TrainResult:
    """The steps after labelling, in order, inside one MLflow run."""
    cfg = t.config
    rows = t.frame.loc[t.trainable].reset_index(drop=True)
    y = t.labels[t.trainable].to_numpy(dtype=object)
    feature_set = str(t.manifest.get("feature_set", ws.features.feature_set))
    use_workspace_store(ws)
    experiment_id = ensure_experiment(ws, cfg.experiment)
    with open_run(ws, t, experiment_id, feature_set) as run:
        log_inputs(run, ws, t, trials)
        metrics = {"n_segments": float(len(t.classes)), "n_trainable": float(t.trainable.sum())}
        if t.clusters is not None:
            say("logging cluster profiles")
            metrics.update(t.clusters.metrics)
            log_clusters(run, t)
        params, tuning = tuned_params(run, t, rows, y, trials, say)
        metrics.update(tuning)
        mlflow.log_params(flat_params("lgbm.", params.model_dump()))
        say(f"cross-validating the assigner ({cfg.assigner.cv_folds} folds, {len(y)} products)")
        main = main_assigner(t, params)
        cv_metrics, temperature = cross_validated(run, t, main, rows, y)
        metrics.update(cv_metrics)
        say(f"fitting the final assigner (temperature {temperature:.3g})")
        main.fit(rows, y).set_temperature(temperature)
        launch, launch_metrics = fitted_launch_model(t, rows, y, say)
        metrics.update(launch_metrics)
        say("explaining the assignments")
        info = {**run.tags, "run_id": run.run_id, "grain": t.catalogue.drivers.grain}
        model = segmenter_model(ws, t, main, launch, info)
        columns = input_columns(main.features_, model.launch)
        inputs = input_frame(t.frame, columns, categorical_inputs(t))
        explained = explain_assignments(run, t, model, main, inputs)
        metrics.update(explained.metrics)
        _log_boosters(run, model)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        say(f"logging and registering the model as '{cfg.registered_model}'")
        model_version = _register(run, t, model, main, inputs.head(5), metrics)
    return _result(run, t, model_version, metrics, explained.assigned_mix, params.model_dump())


def _log_boosters(run: RunLog, model: SegmenterModel) -> None:
    """Each booster's LightGBM model text, readable without Strata."""
    run.text(model.main["model"], "main_model.txt", "boosters")
    if model.launch is not None:
        run.text(model.launch["model"], "launch_model.txt", "boosters")


def _register(
    run: RunLog,
    t: Training,
    model: SegmenterModel,
    main: SegmentAssigner,
    example: pd.DataFrame,
    metrics: dict[str, float],
) -> str:
    top_k, threads = t.config.explain.top_k, t.config.assigner.num_threads
    outputs = output_columns(t.classes, top_k)
    categorical = categorical_inputs(t)
    signature = model_signature(main.features_, model.launch, outputs, top_k, categorical, threads)
    return register_model(run, t, model, signature, example, metrics["cv_macro_f1"])


def _result(
    run: RunLog,
    t: Training,
    model_version: str,
    metrics: dict[str, float],
    assigned_mix: dict[str, int],
    params: dict[str, Any],
) -> TrainResult:
    name = t.config.registered_model
    candidates = []
    if t.clusters is not None:
        cand = t.clusters.profiles[t.clusters.profiles["status"] == "candidate"]
        candidates = json.loads(cand.to_json(orient="records"))
    label_mix = t.labels[t.labels != ""].value_counts().to_dict()
    return TrainResult(
        run_id=run.run_id,
        experiment_id=run.experiment_id,
        model_name=name,
        model_version=model_version,
        model_uri=f"models:/{name}/{model_version}",
        labeller=t.labeller,
        as_of=t.as_of,
        feature_set=run.tags["feature_set"],
        metrics=metrics,
        label_mix={str(k): int(v) for k, v in label_mix.items()},
        assigned_mix=assigned_mix,
        params=params,
        candidates=candidates,
    )
