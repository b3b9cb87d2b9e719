"""Pointing MLflow at a workspace's store leaves the environment (and so child processes) alone."""

import os

import mlflow
import pytest

from store.registry import RegistryRef, point_mlflow_at, registry_client


@pytest.mark.parametrize("preset", [None, "sqlite:////tmp/users-own-store.db"])
def test_registry_client_does_not_export_its_uri(tmp_path, monkeypatch, preset):
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        if preset is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, preset)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = registry_client(RegistryRef("m", uri))
    assert client._registry_uri == uri
    assert mlflow.get_tracking_uri() == uri and mlflow.get_registry_uri() == uri
    assert os.environ.get("MLFLOW_TRACKING_URI") == preset
    assert os.environ.get("MLFLOW_REGISTRY_URI") == preset
    point_mlflow_at(f"sqlite:///{tmp_path / 'other.db'}")
    assert os.environ.get("MLFLOW_REGISTRY_URI") == preset
