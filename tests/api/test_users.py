"""`strata users add|list`: the token is printed once, only a salted scrypt hash is stored, and
neither the hash nor the token ever shows in output or logs."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from typer.testing import CliRunner

from store.users import authenticate, users_url
from strata.cli import app


def test_users_add_prints_the_token_once_and_stores_a_salted_hash(served, api, caplog):
    client, _auth = api
    config = str(served.root / "configs" / "strata.yaml")
    runner = CliRunner()
    r = runner.invoke(app, ["users", "add", "zoe", "--role", "planner", "-c", config])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("strata_") and r.output.count(token) == 1
    engine = sa.create_engine(users_url(served.ws))  # the warehouse's SQLite file
    with engine.connect() as con:
        salt, stored = con.execute(
            sa.text("SELECT salt, token_hash FROM users WHERE name = 'zoe'")
        ).one()
        hashes = [h for (h,) in con.execute(sa.text("SELECT token_hash FROM users")).fetchall()]
    engine.dispose()
    assert token not in stored and len(bytes.fromhex(salt)) == 16
    assert authenticate(served.ws, token).role == "planner"
    assert authenticate(served.ws, token[:-1] + ("A" if token[-1] != "A" else "B")) is None

    listed = runner.invoke(app, ["users", "list", "-c", config]).output
    assert "zoe" in listed and "planner" in listed
    caplog.set_level(logging.DEBUG)
    assert (
        client.get("/api/products", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    assert (
        client.get("/api/products", headers={"Authorization": "Bearer strata_x"}).status_code == 401
    )
    for text in (listed, r.output, caplog.text):
        assert not any(h in text for h in hashes) and salt not in text
    assert token not in caplog.text and token not in listed


def test_bad_user_input_is_one_clear_error(served):
    config = str(served.root / "configs" / "strata.yaml")
    runner = CliRunner()
    r = runner.invoke(app, ["users", "add", "pat", "--role", "planner", "-c", config])
    assert r.exit_code == 2 and "user 'pat' exists already; pick another name" in r.output
    r = runner.invoke(app, ["users", "add", "kim", "--role", "boss", "-c", config])
    assert r.exit_code == 2
    assert "role 'boss' is not a role; roles (configs/roles.yaml): planner, approver" in r.output
