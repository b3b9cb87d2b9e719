"""Users in the project's database: a SQLite file in the warehouse by default, PostgreSQL when
`database.url` says so — `strata users add`, then the token opens the API, on both."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import yaml
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.auth import TokenCache, current_user
from ml.config.files import load_workspace
from ml.errors import StrataError
from store.users import User, add_user, authenticate, list_users, users_url
from strata.cli import app

REPO = Path(__file__).resolve().parents[2]


def _workspace_config(root: Path, database_url: str | None) -> Path:
    """A minimal workspace (one declared source, never read) with the repo's roles."""
    (root / "configs").mkdir(parents=True)
    shutil.copy(REPO / "configs" / "roles.yaml", root / "configs" / "roles.yaml")
    config = {
        "name": "users_test",
        "sources": [
            {"name": "d", "table": "demand", "kind": "csv", "path": "d.csv", "columns": {}}
        ],
    }
    if database_url is not None:
        config["database"] = {"url": database_url}
    path = root / "configs" / "strata.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _api(ws) -> TestClient:
    """The real `current_user` dependency behind one route, on the workspace's users."""
    service = FastAPI()
    service.state.service = SimpleNamespace(ws=ws)
    service.state.tokens = TokenCache()

    @service.get("/me")
    async def me(user: User = Depends(current_user)) -> dict[str, str]:  # noqa: B008
        return {"name": user.name, "role": user.role}

    return TestClient(service)


def _users_add_and_sign_in(config: Path) -> tuple[object, str]:
    result = CliRunner().invoke(app, ["users", "add", "zoe", "--role", "planner", "-c", config])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    ws = load_workspace(config)
    assert authenticate(ws, token) == User("zoe", "planner")
    assert authenticate(ws, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    client = _api(ws)
    ok = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json() == {"name": "zoe", "role": "planner"}
    assert client.get("/me", headers={"Authorization": "Bearer strata_x"}).status_code == 401
    listed = CliRunner().invoke(app, ["users", "list", "-c", config]).output
    assert "zoe" in listed and "planner" in listed
    return ws, token


def _stored_names(url: str) -> list[str]:
    engine = sa.create_engine(url)
    with engine.connect() as con:
        names = [r[0] for r in con.execute(sa.text("SELECT name FROM users ORDER BY name"))]
    engine.dispose()
    return names


def test_users_live_in_the_warehouse_sqlite_file_by_default(tmp_path):
    ws, _token = _users_add_and_sign_in(_workspace_config(tmp_path, None))
    assert users_url(ws) == f"sqlite:///{tmp_path / 'warehouse' / 'strata.db'}"
    assert _stored_names(users_url(ws)) == ["zoe"]


def test_strata_users_add_and_sign_in_on_postgres(tmp_path, postgres_db):
    ws, token = _users_add_and_sign_in(_workspace_config(tmp_path, postgres_db))
    assert users_url(ws) == postgres_db
    assert _stored_names(postgres_db) == ["zoe"]
    assert not (tmp_path / "warehouse" / "strata.db").exists()
    with pytest.raises(StrataError, match="user 'zoe' exists already; pick another name"):
        add_user(ws, "zoe", "admin", ["planner", "admin"], "test")
    assert list_users(ws)["name"].tolist() == ["zoe"]
    engine = sa.create_engine(postgres_db)
    with engine.connect() as con:
        stored = con.execute(sa.text("SELECT token_hash FROM users")).scalar_one()
    engine.dispose()
    assert token not in stored and len(stored) == 64


def test_a_bad_or_unreachable_database_url_says_which_setting(tmp_path, postgres_db):
    bad = _workspace_config(tmp_path / "bad", "mysql://strata:secret@localhost/strata")
    result = CliRunner().invoke(app, ["users", "list", "-c", bad])
    assert result.exit_code != 0
    assert "database.url" in result.output and "neither SQLite nor PostgreSQL" in result.output
    assert "secret" not in result.output
    down = sa.engine.make_url(postgres_db).set(port=1).render_as_string(hide_password=False)
    result = CliRunner().invoke(
        app, ["users", "list", "-c", _workspace_config(tmp_path / "down", down)]
    )
    assert result.exit_code != 0
    assert "database.url in configs/strata.yaml: cannot connect to postgresql+psycopg://" in (
        result.output
    )
    assert "Start the server, or fix the host, port" in result.output


def test_users_kept_in_the_duckdb_file_by_an_earlier_version_are_carried_over(
    tmp_path, postgres_db
):
    from store.db import open_db
    from store.users import token_hash

    ws = load_workspace(_workspace_config(tmp_path, postgres_db))
    salt, secret, key_id = bytes(range(16)), "s" * 43, "0123456789abcdef"
    with open_db(ws) as con:  # the table as Strata <= 0.1 created it
        con.execute(
            "CREATE TABLE users (name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, "
            "key_id VARCHAR NOT NULL UNIQUE, salt VARCHAR NOT NULL, token_hash VARCHAR NOT NULL, "
            "created_at TIMESTAMP NOT NULL, created_by VARCHAR NOT NULL)"
        )
        con.execute(
            "INSERT INTO users VALUES ('old', 'mlops', ?, ?, ?, TIMESTAMP '2026-01-01', 'ops')",
            [key_id, salt.hex(), token_hash(secret, salt)],
        )
    assert authenticate(ws, f"strata_{key_id}_{secret}") == User("old", "mlops")
    assert _stored_names(postgres_db) == ["old"]
