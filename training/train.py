"""`strata train`: label -> cross-validate -> fit -> explain -> log one MLflow run -> register.

The one entry point is `train(ws, labels=..., trials=..., as_of=...)`. Everything a user can get
wrong (missing attributes, a catalogue naming unknown attributes, a single segment, too few
products to cluster) is checked before the MLflow run starts, so a bad input leaves nothing in
the store. The run holds the resolved configs, the snapshot manifest, params, metrics, plots and
the pyfunc model, which is registered as a new version of the configured model with no alias.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.columns import SKU_ID
from ml.config import Workspace
from ml.config.files import load_catalogue, load_training_config
from ml.config.training import TrainingConfig
from ml.errors import StrataError
from ml.grain import at_grain
from ml.segment_rules import AGE_PERIODS
from training.clusters import ClusterResult, cluster_labels

__all__ = [
    "SegmentFn",
    "TrainResult",
    "Training",
    "prepare_training",
    "train",
]

SegmentFn = Callable[[pd.DataFrame], pd.Series]
MODEL_NAME_IN_RUN = "model"
PIP_PACKAGES = ("mlflow", "lightgbm", "numpy", "pandas", "scikit-learn", "scipy", "pyarrow")


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


@dataclass
class Training:
    """The validated inputs of a run: snapshot, labels and which rows train which model."""

    config: TrainingConfig
    catalogue: Any
    labeller: str
    frame: pd.DataFrame
    manifest: dict[str, Any]
    as_of: date
    rule_segments: pd.Series
    labels: pd.Series  # per row: segment, noise, candidate_<id>, or "" for new products
    young: np.ndarray
    trainable: np.ndarray
    classes: list[str]
    clusters: ClusterResult | None


# ---------------------------------------------------------------------------------------------
# validation and labels (all before the MLflow run)


def _column_problems(frame: pd.DataFrame, config: TrainingConfig, labeller: str) -> list[str]:
    wanted: list[tuple[str, str]] = [(f, "assigner.features") for f in config.assigner.features]
    if labeller == "clusters":
        wanted += [(a, "clusters.attributes") for a in config.clusters.attributes]
    if config.new_products.enabled:
        wanted += [(f, "new_products.features") for f in config.new_products.features]
        wanted.append((AGE_PERIODS, "new_products (the age test)"))
    missing: dict[str, list[str]] = {}
    for col, key in wanted:
        if col not in frame.columns:
            missing.setdefault(col, []).append(key)
    if SKU_ID not in frame.columns:
        missing[SKU_ID] = ["the snapshot key"]
    if not missing:
        return []
    listed = "; ".join(f"'{c}' (named in {', '.join(sorted(set(k)))})" for c, k in missing.items())
    return [
        f"it lacks {len(missing)} column(s) configs/training.yaml names: {listed}. Remove them "
        f"from configs/training.yaml or build a snapshot that has them (`strata features list` "
        f"prints the attributes)"
    ]


def _catalogue_problems(catalogue: Any, frame: pd.DataFrame) -> list[str]:
    from ml.catalogue import validate_catalogue

    problems = validate_catalogue(catalogue, [str(c) for c in frame.columns])
    return [
        f"the segment catalogue does not fit it: {p}. Change the archetypes in "
        f"configs/segments.yaml or build a snapshot with these attributes"
        for p in problems
    ]


def _check_inputs(
    frame: pd.DataFrame, config: TrainingConfig, catalogue: Any, labeller: str, where: str
) -> None:
    """Every problem of snapshot, training config and catalogue together, in one StrataError."""
    problems = _column_problems(frame, config, labeller) + _catalogue_problems(catalogue, frame)
    if len(problems) == 1:
        raise StrataError(f"cannot train on {where}: {problems[0]}")
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise StrataError(f"cannot train on {where}: {len(problems)} problem(s):\n{listed}")


def _ordered(names: set[str], catalogue: Any) -> list[str]:
    known = [s.name for s in catalogue.segments]
    return [n for n in known if n in names] + sorted(names - set(known))


def prepare_training(
    ws: Workspace,
    *,
    labels: str | None = None,
    as_of: date | None = None,
    config: TrainingConfig | None = None,
    catalogue: Any = None,
    segment_fn: SegmentFn | None = None,
    frame: pd.DataFrame | None = None,
) -> Training:
    """Load and check the snapshot, compute labels; raise one StrataError when anything is off."""
    from features.snapshots import load_features, read_manifest

    config = config if config is not None else load_training_config(ws)
    labeller = labels or config.labeller
    if labeller not in ("rules", "clusters"):
        raise StrataError(f"--labels {labeller!r} is not a labeller; use rules or clusters")
    catalogue = catalogue if catalogue is not None else load_catalogue(ws)
    if frame is None:
        frame = load_features(as_of, workspace=ws)
        manifest = read_manifest(ws, as_of)
    else:
        manifest = {"as_of": str(as_of or date.today()), "feature_set": ws.features.feature_set}
    frame = at_grain(frame, catalogue.drivers.grain)
    day = date.fromisoformat(str(manifest.get("as_of", as_of)))
    where = f"the feature snapshot as of {day.isoformat()} of workspace '{ws.name}'"
    _check_inputs(frame, config, catalogue, labeller, where)

    if segment_fn is None:
        from ml.catalogue import assign_by_rules

        def segment_fn(f: pd.DataFrame) -> pd.Series:
            return assign_by_rules(f, catalogue)["segment"]

    np_cfg = config.new_products
    known = [s.name for s in catalogue.segments]
    if np_cfg.enabled and np_cfg.fallback_segment and np_cfg.fallback_segment not in known:
        raise StrataError(
            f"new_products.fallback_segment '{np_cfg.fallback_segment}' in configs/training.yaml "
            f"is not a segment of the catalogue; known segments: {', '.join(known)}. "
            "Name one of them or set it to null"
        )
    rule_segments = segment_fn(frame).astype(str).reset_index(drop=True)
    if np_cfg.enabled:
        from training.pyfunc_model import new_product_mask

        young = new_product_mask(frame, AGE_PERIODS, catalogue.drivers.history.min_periods)
    else:
        young = np.zeros(len(frame), dtype=bool)
    established = ~young
    labels_out = pd.Series("", index=frame.index, dtype="str")
    clusters = None
    if labeller == "rules":
        labels_out[established] = rule_segments[established]
        trainable = established.copy()
    else:
        n = int(established.sum())
        need = 2 * config.clusters.min_cluster_size
        if n < need:
            raise StrataError(
                f"{where} has {n} established product(s); clustering with "
                f"clusters.min_cluster_size {config.clusters.min_cluster_size} needs at least "
                f"{need}. Lower clusters.min_cluster_size in configs/training.yaml or use "
                f"--labels rules"
            )
        sub = frame.loc[established].reset_index(drop=True)
        clusters = cluster_labels(
            sub,
            rule_segments[established].reset_index(drop=True),
            config.clusters,
            seed=config.seed,
        )
        labels_out[established] = clusters.labels.to_numpy()
        trainable = established.copy()
        trainable[np.flatnonzero(established)] = clusters.trainable
    classes = _ordered(set(labels_out[trainable]), catalogue)
    if len(classes) < 2:
        got = classes[0] if classes else "none"
        raise StrataError(
            f"the {labeller} labeller gives the {int(trainable.sum())} trainable product(s) of "
            f"{where} a single segment ({got}); the assigner needs at least two. "
            + (
                "Check the catalogue's archetypes against the data (configs/segments.yaml)"
                if labeller == "rules"
                else "Lower clusters.min_cluster_size or clusters.min_majority_share in "
                "configs/training.yaml, or use --labels rules"
            )
        )
    return Training(
        config,
        catalogue,
        labeller,
        frame,
        manifest,
        day,
        rule_segments,
        labels_out,
        young,
        trainable,
        classes,
        clusters,
    )


# ---------------------------------------------------------------------------------------------
# the run


def _pip_requirements() -> list[str]:
    return [f"{p}=={version(p)}" for p in PIP_PACKAGES]


def _signature(
    main_features: list[str],
    launch: dict[str, Any] | None,
    outputs: list[str],
    top_k: int,
    categorical: set[str],
    num_threads: int,
) -> Any:
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = [ColSpec("string", SKU_ID)]
    seen = {SKU_ID}
    for f in [*main_features, *(launch["features"] if launch else []), *launch_extra(launch)]:
        if f in seen:
            continue
        seen.add(f)
        inputs.append(ColSpec("string" if f in categorical else "double", f, required=False))
    kinds = {"sku_id": "string", "segment": "string", "provisional": "boolean", "review": "boolean"}
    out_specs = []
    for c in outputs:
        if c in kinds:
            out_specs.append(ColSpec(kinds[c], c))
        elif c.startswith(("reason_", "feature_")):
            out_specs.append(ColSpec("string", c))
        else:
            out_specs.append(ColSpec("double", c))
    params = ParamSchema(
        [
            ParamSpec("explain", "boolean", True),
            ParamSpec("top_k", "long", top_k),
            ParamSpec("num_threads", "long", num_threads),
        ]
    )
    return ModelSignature(Schema(inputs), Schema(out_specs), params)


def launch_extra(launch: dict[str, Any] | None) -> list[str]:
    """Input columns the model reads besides features: the history attribute for routing."""
    return [launch["history_attribute"]] if launch else []


def _input_frame(frame: pd.DataFrame, columns: list[str], categorical: set[str]) -> pd.DataFrame:
    out = {}
    for c in columns:
        if c == SKU_ID or c in categorical:
            out[c] = frame[c].astype("str").where(frame[c].notna(), "")
        else:
            out[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    return pd.DataFrame(out)


def _flat_params(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in values.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat_params(f"{key}.", v))
        elif isinstance(v, list | tuple):
            out[key] = ",".join(map(str, v))[:5000]
        else:
            out[key] = v
    return out


def _yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False)


def _global_importance(
    contrib: np.ndarray, assigned: np.ndarray, classes: list[str], features: list[str]
) -> pd.DataFrame:
    rows = []
    for c, name in enumerate(classes):
        m = assigned == c
        if not m.any():
            continue
        mean_abs = np.abs(contrib[m, :-1]).mean(axis=0)
        mean = contrib[m, :-1].mean(axis=0)
        for f, a, s in zip(features, mean_abs, mean, strict=True):
            rows.append(
                {
                    "segment": name,
                    "feature": f,
                    "mean_abs_shap": a,
                    "mean_shap": s,
                    "products": int(m.sum()),
                }
            )
    table = pd.DataFrame(rows)
    if not table.empty:
        table["rank"] = table.groupby("segment")["mean_abs_shap"].rank(
            ascending=False, method="first"
        )
        table = table.sort_values(["segment", "rank"]).reset_index(drop=True)
    return table


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
    import mlflow
    from mlflow import MlflowClient

    from ml.attributes import attributes_for
    from ml.wording import wording_table
    from training import plots
    from training.assigner import (
        categories_of,
        cross_validate,
        design_matrix,
        fit_model,
        holdout_macro_f1,
    )
    from training.contrib import assigned_contributions, class_boosters
    from training.pyfunc_model import SegmenterModel, output_columns
    from training.tracking import ensure_experiment, use_workspace_store

    cfg, classes = t.config, t.classes
    a_cfg, np_cfg = cfg.assigner, cfg.new_products
    index = {c: i for i, c in enumerate(classes)}
    train_rows = t.frame.loc[t.trainable].reset_index(drop=True)
    y = t.labels[t.trainable].map(index).to_numpy(dtype=int)
    feature_set = str(t.manifest.get("feature_set", ws.features.feature_set))

    use_workspace_store(ws)
    experiment_id = ensure_experiment(ws, cfg.experiment)
    client = MlflowClient()
    tags = {
        "labeller": t.labeller,
        "as_of": t.as_of.isoformat(),
        "feature_set": feature_set,
        "workspace": ws.name,
    }
    with (
        mlflow.start_run(
            experiment_id=experiment_id, run_name=f"{t.labeller}-{t.as_of.isoformat()}", tags=tags
        ) as run,
        tempfile.TemporaryDirectory() as tmp_dir,
    ):
        tmp = Path(tmp_dir)
        run_id = run.info.run_id
        mlflow.log_text(_yaml(cfg.model_dump(mode="json")), "config/training.yaml")
        mlflow.log_text(_yaml(t.catalogue.model_dump(mode="json")), "config/segments.yaml")
        mlflow.log_text(_yaml(ws.model_dump(mode="json")), "config/workspace.yaml")
        mlflow.log_text(json.dumps(t.manifest, indent=2, default=str), "data/manifest.json")

        label_mix = t.labels[t.labels != ""].value_counts().to_dict()
        mlflow.log_params(
            {
                "labeller": t.labeller,
                "as_of": t.as_of.isoformat(),
                "feature_set": feature_set,
                "n_products": len(t.frame),
                "n_new_products": int(t.young.sum()),
                "n_trainable": int(t.trainable.sum()),
                "segments": ",".join(classes),
                "trials": trials,
                **_flat_params("assigner.", a_cfg.model_dump(mode="json", exclude={"params"})),
                **_flat_params("new_products.", np_cfg.model_dump(mode="json")),
                "top_k": cfg.explain.top_k,
                **(
                    _flat_params("clusters.", cfg.clusters.model_dump(mode="json"))
                    if t.labeller == "clusters"
                    else {}
                ),
            }
        )
        metrics: dict[str, float] = {
            "n_segments": float(len(classes)),
            "n_trainable": float(t.trainable.sum()),
        }

        if t.clusters is not None:
            say("logging cluster profiles")
            metrics.update(t.clusters.metrics)
            profiles = t.clusters.profiles
            profiles.to_csv(tmp / "cluster_profiles.csv", index=False)
            mlflow.log_artifact(str(tmp / "cluster_profiles.csv"), "clusters")
            plots.cluster_profiles_png(
                profiles, cfg.clusters.attributes, tmp / "cluster_profiles.png"
            )
            mlflow.log_artifact(str(tmp / "cluster_profiles.png"), "clusters")

        X = design_matrix(train_rows, a_cfg.features)
        params = a_cfg.params
        if trials > 0:
            from training.tuning import tune

            say(f"tuning the assigner: {trials} Optuna trial(s)")

            def log_trial(number: int, p: dict[str, Any], value: float | None, state: str) -> None:
                with mlflow.start_run(
                    run_name=f"trial-{number:03d}",
                    nested=True,
                    experiment_id=experiment_id,
                    tags={**tags, "optuna_state": state, "optuna_trial": str(number)},
                ):
                    mlflow.log_params(p)
                    if value is not None:
                        mlflow.log_metric("valid_log_loss", value)

            params, summary = tune(
                X,
                y,
                len(classes),
                cfg.tuning,
                trials=trials,
                seed=cfg.seed,
                class_weight=a_cfg.class_weight,
                num_threads=a_cfg.num_threads,
                on_trial=log_trial,
            )
            metrics.update(summary)
        mlflow.log_params(_flat_params("lgbm.", params.model_dump()))

        say(f"cross-validating the assigner ({a_cfg.cv_folds} folds, {len(y)} products)")
        cv = cross_validate(
            X,
            y,
            classes,
            params,
            folds=a_cfg.cv_folds,
            seed=cfg.seed,
            class_weight=a_cfg.class_weight,
            num_threads=a_cfg.num_threads,
        )
        metrics.update(cv.metrics)
        metrics["cv_folds_used"] = float(cv.folds)
        metrics["holdout_macro_f1"] = holdout_macro_f1(
            X,
            y,
            len(classes),
            params,
            share=a_cfg.holdout_share,
            seed=cfg.seed,
            class_weight=a_cfg.class_weight,
            num_threads=a_cfg.num_threads,
        )
        cm = pd.DataFrame(cv.confusion, index=classes, columns=classes)
        cm.to_csv(tmp / "confusion_matrix.csv")
        mlflow.log_artifact(str(tmp / "confusion_matrix.csv"), "evaluation")
        plots.confusion_matrix_png(
            cv.confusion,
            classes,
            tmp / "confusion_matrix.png",
            f"Assigner, {cv.folds}-fold CV: macro-F1 {cv.metrics['cv_macro_f1']:.3f}",
        )
        mlflow.log_artifact(str(tmp / "confusion_matrix.png"), "evaluation")

        say("fitting the final assigner")
        main = fit_model(
            train_rows,
            y,
            classes,
            a_cfg.features,
            params,
            seed=cfg.seed,
            class_weight=a_cfg.class_weight,
            num_threads=a_cfg.num_threads,
        )
        launch_spec = None
        if np_cfg.enabled:
            say("fitting the new-product model on launch attributes")
            cats = categories_of(train_rows, np_cfg.categorical, np_cfg.max_categories)
            XL = design_matrix(train_rows, np_cfg.features, cats)
            cat_idx = [i for i, f in enumerate(np_cfg.features) if f in cats]
            lcv = cross_validate(
                XL,
                y,
                classes,
                np_cfg.params,
                folds=a_cfg.cv_folds,
                seed=cfg.seed,
                class_weight=a_cfg.class_weight,
                categorical=cat_idx,
                num_threads=a_cfg.num_threads,
                prefix="launch_cv_",
            )
            metrics.update({k: v for k, v in lcv.metrics.items() if k.startswith("launch_cv_")})
            launch = fit_model(
                train_rows,
                y,
                classes,
                np_cfg.features,
                np_cfg.params,
                seed=cfg.seed,
                class_weight=a_cfg.class_weight,
                categories=cats,
                num_threads=a_cfg.num_threads,
            )
            launch_spec = {
                "model": launch.booster.model_to_string(),
                "features": launch.features,
                "categories": launch.categories,
                "typical": launch.typical,
                "history_attribute": AGE_PERIODS,
            }
        main_spec = {
            "model": main.booster.model_to_string(),
            "features": main.features,
            "categories": {},
            "typical": main.typical,
        }

        say("explaining the assignments")
        calendar = ws.calendar
        registry = attributes_for(
            calendar.bucket, calendar.recent_periods, ws.harmonisation.reporting_currency
        )
        model = SegmenterModel(
            segments=classes,
            main=main_spec,
            launch=launch_spec,
            new_products={
                "enabled": np_cfg.enabled,
                "history_attribute": AGE_PERIODS,
                "min_periods": t.catalogue.drivers.history.min_periods,
                "review_below": np_cfg.review_below,
                "fallback_segment": np_cfg.fallback_segment,
            },
            wordings=wording_table(registry),
            catalogue=t.catalogue.model_dump(mode="json"),
            top_k=cfg.explain.top_k,
            num_threads=a_cfg.num_threads,
            info={
                **tags,
                "run_id": run_id,
                "labeller": t.labeller,
                "grain": t.catalogue.drivers.grain,
            },
        )
        categorical = set(np_cfg.categorical) if np_cfg.enabled else set()
        read = [
            *main.features,
            *(launch_spec["features"] if launch_spec else []),
            *launch_extra(launch_spec),
        ]
        input_cols = list(dict.fromkeys([SKU_ID, *read]))
        inputs = _input_frame(t.frame, input_cols, categorical)
        # plain predictions for the mix; SHAP once below; worded reasons for a sample only
        scored = model.predict(None, inputs, params={"explain": False})
        assigned_mix = scored["segment"].value_counts().to_dict()
        metrics["min_segment_share"] = float(min(assigned_mix.values()) / len(scored))
        metrics["provisional_share"] = float(scored["provisional"].mean())
        metrics["review_share"] = float(scored["review"].mean())
        for name in classes:
            metrics[f"share_{name}"] = float(assigned_mix.get(name, 0) / len(scored))

        # additivity and global importance on the established products (main model)
        est = ~t.young
        X_all = design_matrix(t.frame.loc[est], main.features)
        assigned = scored.loc[est, "segment"].map(index).to_numpy(dtype=int)
        threads = a_cfg.num_threads
        contrib = assigned_contributions(class_boosters(main.booster), X_all, assigned, threads)
        raw = main.booster.predict(X_all, raw_score=True, num_threads=threads)
        raw_assigned = raw[np.arange(len(assigned)), assigned] if len(assigned) else np.zeros(0)
        metrics["shap_additivity_error"] = (
            float(np.max(np.abs(contrib.sum(axis=1) - raw_assigned))) if len(assigned) else 0.0
        )
        importance = _global_importance(contrib, assigned, classes, main.features)
        importance.to_csv(tmp / "global_importance.csv", index=False)
        mlflow.log_artifact(str(tmp / "global_importance.csv"), "explanations")
        for c, name in enumerate(classes):
            m = assigned == c
            if m.sum() >= 2:
                png = plots.shap_summary_png(
                    contrib[m, :-1],
                    X_all[m],
                    main.features,
                    tmp / f"shap_{name}.png",
                    f"Why products are {name} ({int(m.sum())} products)",
                )
                mlflow.log_artifact(str(png), "explanations")
        model.predict(None, inputs.head(200)).to_csv(tmp / "sample_predictions.csv", index=False)
        mlflow.log_artifact(str(tmp / "sample_predictions.csv"), "explanations")
        (tmp / "main_model.txt").write_text(main_spec["model"], encoding="utf-8")
        mlflow.log_artifact(str(tmp / "main_model.txt"), "boosters")
        if launch_spec is not None:
            (tmp / "launch_model.txt").write_text(launch_spec["model"], encoding="utf-8")
            mlflow.log_artifact(str(tmp / "launch_model.txt"), "boosters")

        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})

        say(f"logging and registering the model as '{cfg.registered_model}'")
        outputs = output_columns(classes, cfg.explain.top_k)
        signature = _signature(
            main.features, launch_spec, outputs, cfg.explain.top_k, categorical, a_cfg.num_threads
        )
        example = _input_frame(t.frame.head(5), input_cols, categorical)
        info = mlflow.pyfunc.log_model(
            name=MODEL_NAME_IN_RUN,
            python_model=model,
            signature=signature,
            input_example=example,
            pip_requirements=_pip_requirements(),
            registered_model_name=cfg.registered_model,
            metadata={"segments": classes, "labeller": t.labeller, "as_of": t.as_of.isoformat()},
        )
        model_version = str(info.registered_model_version)
        for key, value in {**tags, "run_id": run_id}.items():
            client.set_model_version_tag(cfg.registered_model, model_version, key, value)
        client.update_model_version(
            cfg.registered_model,
            model_version,
            description=f"{t.labeller} labels, snapshot {t.as_of.isoformat()}, "
            f"cv_macro_f1 {metrics['cv_macro_f1']:.3f}",
        )
        mlflow.set_tag("model_version", model_version)
        mlflow.set_tag("registered_model", cfg.registered_model)

    candidates = []
    if t.clusters is not None:
        cand = t.clusters.profiles[t.clusters.profiles["status"] == "candidate"]
        candidates = json.loads(cand.to_json(orient="records"))
    return TrainResult(
        run_id=run_id,
        experiment_id=experiment_id,
        model_name=cfg.registered_model,
        model_version=model_version,
        model_uri=f"models:/{cfg.registered_model}/{model_version}",
        labeller=t.labeller,
        as_of=t.as_of,
        feature_set=feature_set,
        metrics=metrics,
        label_mix={str(k): int(v) for k, v in label_mix.items()},
        assigned_mix={str(k): int(v) for k, v in assigned_mix.items()},
        params=params.model_dump(),
        candidates=candidates,
    )
