"""A scored workspace served over HTTP: champion v1 scored as of 2026-11-02, policies built, one
user per role (and a second approver and admin); `api` is a TestClient on the real application."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_users import USERS
from registered_ws import AS_OF, MODEL


@dataclass
class Served:
    ws: object
    ref: object
    tokens: dict[str, str]  # user name -> API token
    root: Path


@pytest.fixture(scope="session")
def scored(registered, tmp_path_factory: pytest.TempPathFactory) -> Served:
    """The registered workspace, promoted, scored, with policies and users (built once)."""
    from ml.config.files import load_policy_config, load_roles_config, load_scoring_config
    from planning.policy_job import build_policies
    from serving.scoring import score
    from store.registry import RegistryRef, registry_client
    from store.users import add_user
    from training.tracking import tracking_uri

    _forget_mlflow_uris()  # an earlier test's exported URI must not pick the registry
    root = tmp_path_factory.mktemp("served") / "ws"
    shutil.copytree(registered.root, root)
    ws = registered.ws.model_copy(update={"root": root})
    ref = RegistryRef(MODEL, tracking_uri(ws))
    registry_client(ref).set_registered_model_alias(MODEL, "champion", "1")
    scoring = load_scoring_config(ws)
    score(ws, ref, scoring, as_of=AS_OF)
    from ml.config.files import load_catalogue

    build_policies(
        ws,
        as_of=AS_OF,
        catalogue=load_catalogue(ws),
        scoring=scoring,
        config=load_policy_config(ws),
    )
    roles = list(load_roles_config(ws).roles)
    tokens = {name: add_user(ws, name, role, roles, "test") for name, role in USERS.items()}
    _forget_mlflow_uris()
    return Served(ws, ref, tokens, root)


def _forget_mlflow_uris() -> None:
    """mlflow.set_tracking_uri exports the URI to the environment; later tests must not see it."""
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        os.environ.pop(key, None)


@pytest.fixture
def served(scored: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Served:
    """A private copy of the scored workspace (writes never leak between tests)."""
    from store.registry import RegistryRef
    from training.tracking import tracking_uri

    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        # set, then delete: monkeypatch then restores "unset" after the test, whatever MLflow
        # exported to the environment meanwhile
        monkeypatch.setenv(key, "unset")
        monkeypatch.delenv(key)
    monkeypatch.setenv("STRATA_USER", "env-user-must-not-be-recorded")
    root = tmp_path / "ws"
    shutil.copytree(scored.root, root, symlinks=True)
    ws = scored.ws.model_copy(update={"root": root})
    return Served(ws, RegistryRef(MODEL, tracking_uri(ws)), scored.tokens, root)


@pytest.fixture
def api(served: Served):
    """(TestClient, headers(name)) on the application of a private scored workspace."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    client = TestClient(create_app(served.ws))

    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {served.tokens[name]}"}

    return client, auth


@pytest.fixture
def live(served):
    """The application of a private scored workspace served by uvicorn on a free loopback port."""
    import socket
    import threading
    import time

    import uvicorn

    from api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(served.ws), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 20 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
