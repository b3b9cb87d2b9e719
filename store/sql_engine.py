"""SQLAlchemy engines for the URLs in the configs, with errors that name the setting and the fix.

SQLite writers queue on ``BEGIN IMMEDIATE`` (with `timeout` seconds of patience); PostgreSQL
goes through psycopg 3 (``postgresql+psycopg://``; a bare ``postgresql://`` is read the same).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ml.config.base import hide_url_password as hide_password
from ml.errors import StrataError

__all__ = ["database_error", "hide_password", "sql_engine"]

_EXAMPLES = "sqlite:///warehouse/strata.db or postgresql+psycopg://user@host:5432/strata"


def sql_engine(url: str, setting: str, timeout: float) -> sa.Engine:
    """An engine for `url`, read from `setting` (e.g. 'database.url in configs/strata.yaml')."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StrataError(
            f"{setting}: {url!r} is not a database URL ({exc}); write e.g. {_EXAMPLES}"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        backend = parsed.get_backend_name()
        if backend == "postgresql":  # a silent host fails in seconds, not minutes
            return sa.create_engine(
                parsed, connect_args={"connect_timeout": max(1, int(min(timeout, 15)))}
            )
        if backend != "sqlite":
            return sa.create_engine(parsed)
    except (sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StrataError(
            f"{setting}: {hide_password(url)} names a database or driver Strata cannot load "
            f"({exc}); write e.g. {_EXAMPLES}"
        ) from None
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": timeout})

    # pysqlite starts transactions lazily and only at the first write; BEGIN IMMEDIATE takes
    # the write lock up front so two writers queue instead of failing (SQLAlchemy's recipe).
    @sa.event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def database_error(exc: sa.exc.DBAPIError, url: str, setting: str) -> StrataError:
    """A StrataError for a failed statement or connection, naming the setting and the fix."""
    reason = " ".join(str(exc.orig).split()) or type(exc.orig).__name__
    if isinstance(exc, sa.exc.OperationalError) and _cannot_connect(reason):
        return StrataError(
            f"{setting}: cannot connect to {hide_password(url)} ({reason}). Start the "
            f"server, or fix the host, port, user, password or database name in the URL"
        )
    return StrataError(f"database {hide_password(url)} ({setting}): {reason}")


def _cannot_connect(reason: str) -> bool:
    hints = (
        "connection refused",
        "could not connect",
        "connection failed",
        "could not translate host",
        "timeout expired",
        "does not exist",
        "authentication failed",
        "no password supplied",
        "name or service not known",
    )
    low = reason.lower()
    return any(h in low for h in hints) and "relation" not in low and "schema" not in low
