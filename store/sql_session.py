"""The SQL sinks' connection layer: one transaction on a DuckDB file or any SQLAlchemy URL.

``sql_session`` yields a ``SqlDb`` (execute with named parameters, read a frame, insert a frame,
list tables) inside one transaction; DuckDB goes through the workspace lock
(``store.db.open_db``), SQLite queues writers with ``BEGIN IMMEDIATE``, PostgreSQL writers take
an advisory lock and create the sink's schema when it is missing. Column types come from the frame's dtypes (``sql_type``).
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
from store.db import open_db
from store.sql_engine import database_error, sql_engine

__all__ = ["RUNS_DDL", "SINK_SETTING", "SqlDb", "sql_session", "sql_type"]

SINK_SETTING = "sinks in configs/scoring.yaml"


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
            return
        try:
            frame.to_sql(
                table,
                self.con,
                schema=self.schema,
                if_exists="append",
                index=False,
                chunksize=max(1, 30_000 // max(1, len(frame.columns))),
                method="multi",
            )
        except pd.errors.DatabaseError as exc:
            # pandas wraps the driver's error; the session reports the database's own one
            if isinstance(exc.__cause__, sa.exc.DBAPIError):
                raise exc.__cause__ from None
            raise


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

    engine = sql_engine(sink.url, SINK_SETTING, timeout)
    try:
        with engine.begin() as conn:
            if write and engine.dialect.name == "postgresql":
                # writers of one database take turns: concurrent delete+insert of one
                # partition under READ COMMITTED could otherwise leave both runs' rows
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('strata-sink'))"))
            if write and sink.db_schema and engine.dialect.name != "sqlite":
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{sink.db_schema}"'))
            yield SqlDb(conn, "sql", sink.db_schema)
    except sa.exc.DBAPIError as exc:
        raise database_error(exc, sink.url, SINK_SETTING) from None
    finally:
        engine.dispose()
