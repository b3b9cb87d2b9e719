"""Test-wide settings (no telemetry, non-interactive plotting), the shared test helpers in
tests/support on the path, and the registered workspace several packages' tests share.

`registered` trains two model versions on planted data once per session (see
tests/support/registered_ws.py); `serving_ws` gives each test a private copy of it.
`postgres_db` is the URL of a fresh database on a real PostgreSQL server (tests/support/postgres.py).
"""

import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

from postgres import fresh_database, postgres_server
from registered_ws import (
    AS_OF,
    LATER,
    MODEL,
    N_PRODUCTS,
    Registered,
    drifted,
    planted_catalogue,
    planted_config,
    planted_frame,
    planted_workspace,
    write_cli_configs,
    write_snapshot_frame,
)


@pytest.fixture(scope="session")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    from training.train import train

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    root = tmp_path_factory.mktemp("registered")
    frame = planted_frame(N_PRODUCTS, seed=0)
    ws = planted_workspace(root, frame, AS_OF)
    config = planted_config(assigner={"cv_folds": 2})
    v1 = train(ws, labels="rules", config=config, catalogue=planted_catalogue())
    config2 = planted_config(assigner={"cv_folds": 2}, seed=7)
    v2 = train(ws, labels="rules", config=config2, catalogue=planted_catalogue())
    write_snapshot_frame(ws, drifted(frame), LATER)
    write_cli_configs(root)
    return Registered(root, ws, v1, v2)


@pytest.fixture
def serving_ws(registered: Registered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(workspace, RegistryRef) of a private copy of the registered workspace."""
    from store.registry import RegistryRef
    from training.tracking import tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("STRATA_USER", "tester")
    root = tmp_path / "ws"
    shutil.copytree(registered.root, root)
    ws = registered.ws.model_copy(update={"root": root})
    return ws, RegistryRef(MODEL, tracking_uri(ws))


@pytest.fixture(scope="session")
def postgres_server_url():
    """A PostgreSQL server for the session: CI's ($STRATA_TEST_POSTGRES_URL) or a throw-away one."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_db(postgres_server_url: str):
    """The URL (postgresql+psycopg://...) of a new, empty database, dropped after the test."""
    with fresh_database(postgres_server_url) as url:
        yield url
