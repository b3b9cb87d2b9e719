"""The workspace's MLflow store: tracking URI, experiment with its artifact root, run look-ups."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from ml.config import Workspace
from ml.errors import StrataError
from store.registry import point_mlflow_at

__all__ = [
    "artifact_root",
    "compare_runs",
    "ensure_experiment",
    "list_runs",
    "store_db",
    "tracking_uri",
    "use_workspace_store",
]

TRACKING_ENV = "MLFLOW_TRACKING_URI"


def store_db(ws: Workspace) -> Path:
    """The SQLite file of the embedded store: <root>/<mlruns_dir>/mlflow.db."""
    return ws.resolve(ws.paths.mlruns_dir).resolve() / "mlflow.db"


def artifact_root(ws: Workspace) -> Path:
    """Where the embedded store keeps artifacts: <root>/<mlruns_dir>/artifacts."""
    return ws.resolve(ws.paths.mlruns_dir).resolve() / "artifacts"


def tracking_uri(ws: Workspace) -> str:
    """MLFLOW_TRACKING_URI when set, else the workspace's sqlite store.

    A bare ``postgresql://`` (or ``postgres://``) URI is read with the installed driver,
    psycopg 3 (``postgresql+psycopg://``); SQLAlchemy would otherwise look for psycopg2.
    """
    env = os.environ.get(TRACKING_ENV)
    if env:
        return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", env)
    return f"sqlite:///{store_db(ws)}"


def _server_keeps_artifacts(uri: str) -> bool:
    """True for a tracking server (it chooses where artifacts go); False for a database."""
    return uri.startswith(("http://", "https://", "databricks"))


def use_workspace_store(ws: Workspace) -> str:
    """Point MLflow (tracking and registry) at the workspace's store; returns the URI."""
    uri = tracking_uri(ws)
    if not os.environ.get(TRACKING_ENV):
        store_db(ws).parent.mkdir(parents=True, exist_ok=True)
        artifact_root(ws).mkdir(parents=True, exist_ok=True)
    point_mlflow_at(uri)
    return uri


def ensure_experiment(ws: Workspace, name: str) -> str:
    """The experiment's id, created with the workspace's artifact root (embedded store only)."""
    client = MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    location = None
    if not _server_keeps_artifacts(tracking_uri(ws)):
        # a database store (the embedded SQLite, or PostgreSQL) has no artifact server: keep
        # the artifacts in the workspace, not in ./mlruns of whatever folder the job ran in
        artifact_root(ws).mkdir(parents=True, exist_ok=True)
        location = (artifact_root(ws) / name).as_uri()
    return client.create_experiment(name, artifact_location=location)


def _runs(ws: Workspace, experiment: str, filter_string: str = "", max_results: int = 50) -> list:
    use_workspace_store(ws)
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    return list(
        client.search_runs(
            [exp.experiment_id],
            filter_string=filter_string,
            max_results=max_results,
            order_by=["attributes.start_time DESC"],
        )
    )


def list_runs(ws: Workspace, experiment: str, max_results: int = 20) -> pd.DataFrame:
    """The experiment's top-level training runs, newest first, with their headline numbers.

    `run` is the id's first 12 characters; `strata runs compare` accepts such unique prefixes.
    """
    runs = [
        r
        for r in _runs(ws, experiment, max_results=max_results * 5)
        if "mlflow.parentRunId" not in r.data.tags
    ][:max_results]
    rows = []
    for r in runs:
        m, t = r.data.metrics, r.data.tags
        rows.append(
            {
                "run": r.info.run_id[:12],
                "started": pd.Timestamp(r.info.start_time, unit="ms").strftime("%Y-%m-%d %H:%M"),
                "status": r.info.status,
                "labeller": t.get("labeller", ""),
                "as_of": t.get("as_of", ""),
                "version": t.get("model_version", ""),
                "cv_macro_f1": m.get("cv_macro_f1"),
                "cv_log_loss": m.get("cv_log_loss"),
                "segments": int(m["n_segments"]) if "n_segments" in m else None,
                "noise_share": m.get("noise_share"),
            }
        )
    return pd.DataFrame(rows)


def _find_run(ws: Workspace, experiment: str, rid: str) -> Any:
    """A run by id, or by a unique id prefix within the experiment (as `runs list` shows it)."""
    try:
        return MlflowClient().get_run(rid)
    except MlflowException:
        pass
    hits = [r for r in _runs(ws, experiment, max_results=1000) if r.info.run_id.startswith(rid)]
    if len(hits) == 1:
        return hits[0]
    what = "matches several runs" if hits else "matches no run"
    raise StrataError(
        f"run {rid!r} {what} in experiment '{experiment}' of {tracking_uri(ws)}; "
        f"`strata runs list` shows the run ids"
    )


def compare_runs(ws: Workspace, experiment: str, run_ids: list[str]) -> dict[str, pd.DataFrame]:
    """Data (tags: as_of, labeller...), params and metrics of runs side by side, one column each."""
    use_workspace_store(ws)
    found = {rid: _find_run(ws, experiment, rid) for rid in run_ids}
    out = {}
    for section, getter in (
        ("data", lambda r: {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")}),
        ("params", lambda r: r.data.params),
        ("metrics", lambda r: r.data.metrics),
    ):
        table = pd.DataFrame(
            {r.info.run_id[:8]: pd.Series(getter(r), dtype=object) for r in found.values()}
        )
        out[section] = table.sort_index()
    return out
