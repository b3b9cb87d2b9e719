"""MLflow's tracking store and registry on a real PostgreSQL (MLFLOW_TRACKING_URI=postgresql://...):
an experiment, a run, a registered model version with an alias, through Strata's tracking module."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
import sqlalchemy as sa
from mlflow import MlflowClient

from ml.config import Workspace
from training.tracking import ensure_experiment, tracking_uri, use_workspace_store


class _Constant(mlflow.pyfunc.PythonModel):
    """Every product in segment A: the smallest model the registry can hold."""

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:
        return pd.Series(["A"] * len(model_input))


@pytest.fixture
def _forget_the_store():
    """use_workspace_store points MLflow's globals at PostgreSQL; later tests must not see it."""
    yield
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


@pytest.mark.usefixtures("_forget_the_store")
def test_experiment_run_and_model_version_on_postgres(tmp_path: Path, postgres_db, monkeypatch):
    bare = "postgresql://" + postgres_db.split("://", 1)[1]  # as a user would write it
    monkeypatch.setenv("MLFLOW_TRACKING_URI", bare)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    ws = Workspace(
        name="pg",
        root=tmp_path,
        sources=[{"name": "d", "table": "demand", "kind": "csv", "path": "d.csv", "columns": {}}],
    )
    assert tracking_uri(ws) == postgres_db  # read with psycopg 3
    assert use_workspace_store(ws) == postgres_db
    experiment = ensure_experiment(ws, "strata-pg")
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_param("labels", "rules")
        mlflow.log_metric("macro_f1", 0.91)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=_Constant(),
            pip_requirements=["pandas"],
            registered_model_name="strata-segmenter",
        )
    client = MlflowClient(tracking_uri=postgres_db, registry_uri=postgres_db)
    client.set_registered_model_alias("strata-segmenter", "champion", info.registered_model_version)

    logged = client.get_run(run.info.run_id)
    assert logged.data.params == {"labels": "rules"}
    assert logged.data.metrics == {"macro_f1": 0.91}
    champion = client.get_model_version_by_alias("strata-segmenter", "champion")
    assert (str(champion.version), champion.run_id) == ("1", run.info.run_id)
    # the artifacts stay in the workspace (no artifact server), the records in PostgreSQL
    assert client.get_experiment(experiment).artifact_location.startswith(
        (tmp_path / "mlruns" / "artifacts").as_uri()
    )
    loaded = mlflow.pyfunc.load_model("models:/strata-segmenter@champion")
    assert loaded.predict(pd.DataFrame({"x": [1, 2]})).tolist() == ["A", "A"]
    engine = sa.create_engine(postgres_db)
    with engine.connect() as con:
        names = con.execute(sa.text("SELECT name FROM registered_models")).scalars().all()
        runs = con.execute(sa.text("SELECT count(*) FROM runs")).scalar_one()
    engine.dispose()
    assert names == ["strata-segmenter"] and runs == 1
