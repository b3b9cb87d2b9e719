"""One training run in MLflow: the run and its tags, configs and params, artifacts, registration."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
import yaml
from mlflow import MlflowClient

from ml.config import Workspace
from training import plots
from training.labels import Training

__all__ = [
    "MODEL_NAME_IN_RUN",
    "PIP_PACKAGES",
    "RunLog",
    "flat_params",
    "log_clusters",
    "log_inputs",
    "open_run",
    "pip_requirements",
    "register_model",
]

MODEL_NAME_IN_RUN = "model"
PIP_PACKAGES = ("mlflow", "lightgbm", "numpy", "pandas", "scikit-learn", "scipy", "pyarrow")


@dataclass(frozen=True)
class RunLog:
    """The open MLflow run: ids, the tags every record of it carries, a scratch folder."""

    run_id: str
    experiment_id: str
    tags: dict[str, str]
    tmp: Path

    def table(self, table: pd.DataFrame, name: str, folder: str, index: bool = False) -> None:
        """`table` as the CSV artifact `folder/name`."""
        table.to_csv(self.tmp / name, index=index)
        mlflow.log_artifact(str(self.tmp / name), folder)

    def text(self, text: str, name: str, folder: str) -> None:
        """`text` as the artifact `folder/name`."""
        (self.tmp / name).write_text(text, encoding="utf-8")
        mlflow.log_artifact(str(self.tmp / name), folder)

    def file(self, path: Path, folder: str) -> None:
        """A file written in `tmp` (a PNG) as an artifact in `folder`."""
        mlflow.log_artifact(str(path), folder)


@contextmanager
def open_run(ws: Workspace, t: Training, experiment_id: str, feature_set: str) -> Iterator[RunLog]:
    """The run of training `t`, named <labeller>-<as_of>, tagged with what it was trained on."""
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
        yield RunLog(run.info.run_id, experiment_id, tags, Path(tmp_dir))


def flat_params(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """Nested settings as flat MLflow params `prefix` + dotted key; lists comma-joined."""
    out = {}
    for k, v in values.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_params(f"{key}.", v))
        elif isinstance(v, list | tuple):
            out[key] = ",".join(map(str, v))[:5000]
        else:
            out[key] = v
    return out


def _yaml(data: Any) -> str:
    return yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False)


def log_inputs(run: RunLog, ws: Workspace, t: Training, trials: int) -> None:
    """The resolved configs, the snapshot's manifest and the run's settings as params."""
    cfg = t.config
    mlflow.log_text(_yaml(cfg.model_dump(mode="json")), "config/training.yaml")
    mlflow.log_text(_yaml(t.catalogue.model_dump(mode="json")), "config/segments.yaml")
    mlflow.log_text(_yaml(ws.model_dump(mode="json")), "config/workspace.yaml")
    mlflow.log_text(json.dumps(t.manifest, indent=2, default=str), "data/manifest.json")
    clusters = cfg.clusters.model_dump(mode="json") if t.labeller == "clusters" else None
    mlflow.log_params(
        {
            "labeller": t.labeller,
            "as_of": t.as_of.isoformat(),
            "feature_set": run.tags["feature_set"],
            "n_products": len(t.frame),
            "n_new_products": int(t.young.sum()),
            "n_trainable": int(t.trainable.sum()),
            "segments": ",".join(t.classes),
            "trials": trials,
            **flat_params("assigner.", cfg.assigner.model_dump(mode="json", exclude={"params"})),
            **flat_params("new_products.", cfg.new_products.model_dump(mode="json")),
            "top_k": cfg.explain.top_k,
            **(flat_params("clusters.", clusters) if clusters is not None else {}),
        }
    )


def log_clusters(run: RunLog, t: Training) -> None:
    """The clusters' profiles as CSV and as a heatmap."""
    profiles = t.clusters.profiles
    run.table(profiles, "cluster_profiles.csv", "clusters")
    png = plots.cluster_profiles_png(
        profiles, t.config.clusters.attributes, run.tmp / "cluster_profiles.png"
    )
    run.file(png, "clusters")


def pip_requirements() -> list[str]:
    """The installed versions of what the registered model needs to load."""
    return [f"{p}=={version(p)}" for p in PIP_PACKAGES]


def register_model(
    run: RunLog,
    t: Training,
    model: Any,
    signature: Any,
    example: pd.DataFrame,
    cv_macro_f1: float,
) -> str:
    """Log the pyfunc in the run, register it as a new version (no alias); returns the version."""
    name = t.config.registered_model
    info = mlflow.pyfunc.log_model(
        name=MODEL_NAME_IN_RUN,
        python_model=model,
        signature=signature,
        input_example=example,
        pip_requirements=pip_requirements(),
        registered_model_name=name,
        metadata={"segments": t.classes, "labeller": t.labeller, "as_of": t.as_of.isoformat()},
    )
    model_version = str(info.registered_model_version)
    client = MlflowClient()
    for key, value in {**run.tags, "run_id": run.run_id}.items():
        client.set_model_version_tag(name, model_version, key, value)
    client.update_model_version(
        name,
        model_version,
        description=f"{t.labeller} labels, snapshot {t.as_of.isoformat()}, "
        f"cv_macro_f1 {cv_macro_f1:.3f}",
    )
    mlflow.set_tag("model_version", model_version)
    mlflow.set_tag("registered_model", name)
    return model_version
