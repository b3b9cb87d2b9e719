"""The SQL sinks' connection layer: one transaction on a DuckDB file or any SQLAlchemy URL.

``sql_session`` yields a ``SqlDb`` (execute with named parameters, read a frame, insert a frame,
list tables) inside one transaction; DuckDB goes through the workspace lock
(``store.db.open_db``), SQLite queues writers with ``BEGIN IMMEDIATE``, PostgreSQL writers take
an advisory lock. Column types come from the frame's dtypes (``sql_type``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ml import columns as C
from ml.columns import AS_OF
from ml.config.scoring import DuckDBSink, SqlSink
from ml.errors import StrataError
from store.db import open_db
from store.sink_common import sink_label

__all__ = ["RUNS_DDL", "SqlDb", "sql_session", "sql_type"]


def sql_type(series: pd.Series) -> str:
    """A portable SQL type (SQLite, PostgreSQL, DuckDB) for a pandas column."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        return "BIGINT"
    if pd.api.types.is_float_dtype(dtype):
        return "DOUBLE PRECISION"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "TIMESTAMP"
    kind = pd.api.types.infer_dtype(series, skipna=True)
    return {
        "date": "DATE",
        "datetime": "TIMESTAMP",
        "datetime64": "TIMESTAMP",
        "boolean": "BOOLEAN",
        "integer": "BIGINT",
        "floating": "DOUBLE PRECISION",
        "mixed-integer-float": "DOUBLE PRECISION",
    }.get(kind, "VARCHAR")


class SqlDb:
    """The few statements the run algorithm needs, on DuckDB (native) or a SQLAlchemy connection."""

    def __init__(self, con: Any, kind: str, schema: str | None = None) -> None:
        self.con, self.kind, self.schema = con, kind, schema

    def q(self, name: str) -> str:
        quoted = f'"{name}"'
        return f'"{self.schema}".{quoted}' if self.schema else quoted

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        if self.kind == "duckdb":
            self.con.execute(re.sub(r"(?<!:):(\w+)", r"$\1", sql), params or {})
        else:
            self.con.execute(_text(sql, params), params or {})

    def fetch(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        if self.kind == "duckdb":
            return self.con.execute(re.sub(r"(?<!:):(\w+)", r"$\1", sql), params or {}).df()
        result = self.con.execute(_text(sql, params), params or {})
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def columns(self, table: str) -> list[str] | None:
        """The table's columns, or None when it does not exist."""
        if self.kind == "duckdb":
            rows = self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                [table],
            ).fetchall()
            return [r[0] for r in rows] or None

        if not sa.inspect(self.con).has_table(table, schema=self.schema):
            return None
        return list(self.con.execute(sa.text(f"SELECT * FROM {self.q(table)} WHERE 1 = 0")).keys())

    def create(self, table: str, frame: pd.DataFrame) -> None:
        cols = ", ".join(f'"{c}" {sql_type(frame[c])}' for c in frame.columns)
        self.execute(f"CREATE TABLE {self.q(table)} ({cols})")

    def insert(self, table: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if self.kind == "duckdb":
            self.con.register("_strata_rows", frame)
            try:
                self.con.execute(f"INSERT INTO {self.q(table)} BY NAME SELECT * FROM _strata_rows")
            finally:
                self.con.unregister("_strata_rows")
        else:
            frame.to_sql(
                table,
                self.con,
                schema=self.schema,
                if_exists="append",
                index=False,
                chunksize=max(1, 30_000 // max(1, len(frame.columns))),
                method="multi",
            )


def _text(sql: str, params: dict[str, Any] | None) -> Any:

    stmt = sa.text(sql)
    binds = [
        sa.bindparam(k, type_=sa.Date)
        if isinstance(v, date) and not isinstance(v, datetime)
        else sa.bindparam(k, type_=sa.DateTime)
        for k, v in (params or {}).items()
        if isinstance(v, date)
    ]
    return stmt.bindparams(*binds) if binds else stmt


RUNS_DDL = f"""CREATE TABLE IF NOT EXISTS {{runs}} (
    {C.RUN_ID} VARCHAR NOT NULL,
    {AS_OF} DATE NOT NULL,
    {C.MODEL_VERSION} VARCHAR NOT NULL,
    {C.STATUS} VARCHAR NOT NULL,
    written_at TIMESTAMP NOT NULL,
    replaced_run_id VARCHAR,
    ended_at TIMESTAMP,
    tables VARCHAR NOT NULL,
    row_counts VARCHAR NOT NULL,
    dtypes VARCHAR NOT NULL,
    history_pruned BOOLEAN NOT NULL
)"""


@contextlib.contextmanager
def sql_session(sink: DuckDBSink | SqlSink, write: bool, timeout: float) -> Iterator[SqlDb | None]:
    """One transaction on the sink's database (yields None when reading a missing DuckDB file)."""
    if isinstance(sink, DuckDBSink):
        with open_db(Path(sink.path), write=write, timeout=timeout) as con:
            if con is None:
                yield None
                return
            con.execute("BEGIN TRANSACTION")
            try:
                yield SqlDb(con, "duckdb")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        return

    engine = _engine(sink.url, timeout)
    try:
        with engine.begin() as conn:
            if write and engine.dialect.name == "postgresql":
                # writers of one database take turns: concurrent delete+insert of one
                # partition under READ COMMITTED could otherwise leave both runs' rows
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('strata-sink'))"))
            yield SqlDb(conn, "sql", sink.db_schema)
    except sa.exc.OperationalError as exc:
        raise StrataError(f"sink {sink_label(sink)}: {exc.orig}") from None
    finally:
        engine.dispose()


def _engine(url: str, timeout: float) -> Any:

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StrataError(
            f"sink url {url!r} is not a SQLAlchemy URL ({exc}); write e.g. "
            f"sqlite:///warehouse/outputs.db or postgresql+psycopg://user@host/db"
        ) from None
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed)
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
