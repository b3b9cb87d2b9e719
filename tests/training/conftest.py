"""Planted workspaces; one trained once per session (clusters labeller) for the slower tests.

`planted` comes from tests/support (on the path by the root conftest).
"""

from __future__ import annotations

import os

import pytest
from planted import planted_catalogue, planted_config, planted_frame, planted_workspace


@pytest.fixture(autouse=True)
def _embedded_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test uses its tmp workspace's sqlite store, never an outside tracking server."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="session")
def planted():
    """3,000 planted products (5% young), seed 0."""
    return planted_frame(3000, seed=0)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, planted):
    """(workspace, TrainResult) of one clusters-labelled training run on the planted snapshot."""
    from training.train import train

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    ws = planted_workspace(tmp_path_factory.mktemp("trained"), planted)
    result = train(ws, labels="clusters", config=planted_config(), catalogue=planted_catalogue())
    return ws, result
