"""A real PostgreSQL server for the tests: the one CI started, or a throw-away one of our own.

`.ci/run` starts a server with ``scripts/pg_throwaway.sh`` and exports its URL as
``STRATA_TEST_POSTGRES_URL``; without that variable the session starts its own the same way, so
`make test` alone runs the PostgreSQL tests too. Each test gets a fresh database on it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

__all__ = ["ENV_URL", "fresh_database", "postgres_server"]

ENV_URL = "STRATA_TEST_POSTGRES_URL"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg_throwaway.sh"


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server: $STRATA_TEST_POSTGRES_URL, else one started here."""
    given = os.environ.get(ENV_URL)
    if given:
        yield given
        return
    folder = tempfile.mkdtemp(prefix="strata-pg-")
    started = subprocess.run(
        ["bash", str(SCRIPT), "start", folder], capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], check=False)
        raise RuntimeError(
            f"could not start a throw-away PostgreSQL for the tests ({SCRIPT.name} start): "
            f"{started.stderr.strip()}. Install it with `make setup` (apt-get install postgresql) "
            f"or set {ENV_URL} to a server the tests may create databases on"
        )
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], check=False)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server, dropped afterwards."""
    name = f"strata_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as con:
            con.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield (
            sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        )
        with admin.connect() as con:
            con.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
