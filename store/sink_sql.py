"""DuckDB and SQLAlchemy sinks: one transaction per run, history tables, a runs table."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pandas as pd

from ml import columns as C
from ml.columns import AS_OF
from ml.config.scoring import DuckDBSink, SqlSink
from ml.errors import StrataError
from store.sink_common import (
    HISTORY_SUFFIX,
    RUN_COLUMNS,
    RUNS_TABLE,
    SUPERSEDED_AT,
    SUPERSEDED_BY,
    SUPERSEDED_HOW,
    AnySink,
    RollbackResult,
    TableHook,
    WriteResult,
    normalise,
    not_current,
    nothing_to_read,
    pruned,
    runs_frame,
    sink_label,
    utc_now,
)
from store.sql_session import RUNS_DDL, SqlDb, sql_session, sql_type

__all__ = ["list_runs", "read", "read_replaced", "rollback", "stage"]


def _runs_row(db: SqlDb, where: str, params: dict[str, Any]) -> pd.DataFrame:
    return db.fetch(f"SELECT * FROM {db.q(RUNS_TABLE)} WHERE {where}", params)


def _copy_to_history(
    db: SqlDb, table: str, cols: list[str], where: str, params: dict[str, Any], by: str, how: str
) -> None:
    history = f"{table}{HISTORY_SUFFIX}"
    names = ", ".join(f'"{c}"' for c in cols)
    db.execute(
        f"INSERT INTO {db.q(history)} ({names}, {SUPERSEDED_BY}, {SUPERSEDED_HOW}, "
        f"{SUPERSEDED_AT}) SELECT {names}, :_by, :_how, :_at FROM {db.q(table)} WHERE {where}",
        {**params, "_by": by, "_how": how, "_at": utc_now()},
    )


def _ensure_table(db: SqlDb, sink: AnySink, table: str, frame: pd.DataFrame) -> list[str]:
    """The table's columns; a new table is created with its history twin (same types + 3)."""
    cols = db.columns(table)
    if cols is None:
        types = {c: sql_type(frame[c]) for c in frame.columns}
        types[AS_OF] = "DATE"
        history = {
            **types,
            SUPERSEDED_BY: "VARCHAR",
            SUPERSEDED_HOW: "VARCHAR",
            SUPERSEDED_AT: "TIMESTAMP",
        }
        for name, decl in ((table, types), (f"{table}{HISTORY_SUFFIX}", history)):
            body = ", ".join(f'"{c}" {t}' for c, t in decl.items())
            db.execute(f"CREATE TABLE {db.q(name)} ({body})")
        return list(frame.columns)
    missing = [c for c in cols if c not in frame.columns]
    extra = [c for c in frame.columns if c not in cols]
    if missing or extra:
        problems = "; ".join(
            p
            for p in (
                f"lacks {', '.join(missing)}" if missing else "",
                f"adds {', '.join(extra)}" if extra else "",
            )
            if p
        )
        raise StrataError(
            f"sink {sink_label(sink)}: table {table} has columns {', '.join(cols)}; the run's "
            f"frame {problems}. Write the same columns, or migrate the table ({table} and "
            f"{table}{HISTORY_SUFFIX}) first"
        )
    return cols


def _verify(db: SqlDb, sink: AnySink, frames: dict[str, pd.DataFrame], run_id: str) -> None:
    """The staged rows are all there: one count per table, read back inside the transaction."""
    for table, frame in frames.items():
        found = db.fetch(
            f"SELECT count(*) AS n FROM {db.q(table)} WHERE {C.RUN_ID} = :_run", {"_run": run_id}
        )["n"].iloc[0]
        if int(found) != len(frame):
            raise StrataError(
                f"sink {sink_label(sink)}: table {table} holds {int(found)} rows of run "
                f"{run_id} after the write, expected {len(frame)}; nothing was published"
            )


@contextlib.contextmanager
def stage(
    sink: DuckDBSink | SqlSink,
    frames: dict[str, pd.DataFrame],
    as_of: date,
    model_version: str,
    run_id: str,
    on_table_written: TableHook | None,
    timeout: float,
) -> Iterator[WriteResult]:
    """Write and verify the run in one open transaction; leaving the block commits it.

    An exception inside the block rolls the transaction back: nothing of the run is seen.
    """
    part = {"_as_of": as_of, "_mv": model_version}
    in_part = f"{AS_OF} = :_as_of AND {C.MODEL_VERSION} = :_mv"
    with sql_session(sink, write=True, timeout=timeout) as db:
        assert db is not None
        db.execute(RUNS_DDL.format(runs=db.q(RUNS_TABLE)))
        elsewhere = _runs_row(
            db, f"{C.RUN_ID} = :_run AND NOT ({in_part})", {**part, "_run": run_id}
        )
        if len(elsewhere):
            r = elsewhere.iloc[0]
            raise StrataError(
                f"run {run_id} already wrote as_of {pd.Timestamp(r[AS_OF]).date().isoformat()} "
                f"model_version {r[C.MODEL_VERSION]} to {sink_label(sink)}; a run writes one "
                f"partition — give this one its own run_id"
            )
        current = _runs_row(db, f"{in_part} AND {C.STATUS} = 'current'", part)
        cur = current.iloc[0] if len(current) else None
        retry = cur is not None and cur[C.RUN_ID] == run_id
        clear = list(frames)
        if cur is not None:
            clear += [t for t in str(cur["tables"]).split(",") if t and t not in frames]
        for table in clear:
            cols = db.columns(table)
            if cols is None:
                continue
            if cur is not None and not retry:
                _copy_to_history(db, table, cols, in_part, part, run_id, "replaced")
            db.execute(f"DELETE FROM {db.q(table)} WHERE {in_part}", part)
        for table, frame in frames.items():
            cols = _ensure_table(db, sink, table, frame)
            db.insert(table, frame[cols])
            if on_table_written is not None:
                on_table_written(table)
        now = utc_now()
        dtypes = {t: {c: str(f[c].dtype) for c in f.columns} for t, f in frames.items()}
        rows = {t: len(f) for t, f in frames.items()}
        record = {
            "_run": run_id,
            "_tables": ",".join(frames),
            "_rows": json.dumps(rows),
            "_dtypes": json.dumps(dtypes),
            "now": now,
        }
        if retry:
            db.execute(
                f"UPDATE {db.q(RUNS_TABLE)} SET tables = :_tables, row_counts = :_rows, "
                f"dtypes = :_dtypes, written_at = :now WHERE {C.RUN_ID} = :_run",
                record,
            )
            replaced = cur["replaced_run_id"] if pd.notna(cur["replaced_run_id"]) else None
        else:
            replaced = cur[C.RUN_ID] if cur is not None else None
            if cur is not None:
                db.execute(
                    f"UPDATE {db.q(RUNS_TABLE)} SET {C.STATUS} = 'superseded', ended_at = :now "
                    f"WHERE {C.RUN_ID} = :_old",
                    {"now": now, "_old": replaced},
                )
            db.execute(
                f"INSERT INTO {db.q(RUNS_TABLE)} ({C.RUN_ID}, {AS_OF}, {C.MODEL_VERSION}, "
                f"{C.STATUS}, written_at, replaced_run_id, ended_at, tables, row_counts, dtypes, "
                f"history_pruned) VALUES (:_run, :_as_of, :_mv, 'current', :now, :_replaced, "
                f"NULL, :_tables, :_rows, :_dtypes, FALSE)",
                {**record, **part, "_replaced": replaced},
            )
        _prune_sql(db, part, in_part, sink.keep_history)
        _verify(db, sink, frames, run_id)
        yield WriteResult(sink_label(sink), as_of, model_version, run_id, rows, replaced)


def _history_tables(db: SqlDb, runs: pd.DataFrame) -> set[str]:
    names = {t for blob in runs["tables"] for t in str(blob).split(",") if t}
    return {t for t in names if db.columns(f"{t}{HISTORY_SUFFIX}") is not None}


def _prune_sql(db: SqlDb, part: dict[str, Any], in_part: str, keep: int) -> None:
    old = _runs_row(
        db,
        f"{in_part} AND {C.STATUS} IN ('superseded', 'rolled_back') AND NOT history_pruned",
        part,
    ).sort_values("ended_at", ascending=False)
    drop = old.iloc[keep:]
    if drop.empty:
        return
    everything = _runs_row(db, "1 = 1", {})
    for table in _history_tables(db, everything):
        for run in drop[C.RUN_ID]:
            db.execute(
                f"DELETE FROM {db.q(table + HISTORY_SUFFIX)} WHERE {C.RUN_ID} = :_r", {"_r": run}
            )
    for run in drop[C.RUN_ID]:
        db.execute(
            f"UPDATE {db.q(RUNS_TABLE)} SET history_pruned = TRUE WHERE {C.RUN_ID} = :_r",
            {"_r": run},
        )


def list_runs(sink: DuckDBSink | SqlSink, timeout: float) -> pd.DataFrame:
    with sql_session(sink, write=False, timeout=timeout) as db:
        if db is None or db.columns(RUNS_TABLE) is None:
            return runs_frame([])
        frame = db.fetch(f"SELECT * FROM {db.q(RUNS_TABLE)} ORDER BY written_at")
    return runs_frame(frame.drop(columns=["dtypes"]).to_dict("records"))


def read(
    sink: DuckDBSink | SqlSink, table: str, as_of: date | None, mv: str | None, timeout: float
) -> pd.DataFrame:
    with sql_session(sink, write=False, timeout=timeout) as db:
        runs = (
            db.fetch(f"SELECT * FROM {db.q(RUNS_TABLE)} WHERE {C.STATUS} = 'current'")
            if db is not None and db.columns(RUNS_TABLE) is not None
            else pd.DataFrame(columns=[*RUN_COLUMNS, "dtypes"])
        )
        runs[AS_OF] = pd.to_datetime(runs[AS_OF]).dt.date
        has_table = runs["tables"].astype(str).str.split(",").map(lambda ts: table in ts)
        pick = runs[
            has_table
            & ((runs[AS_OF] == as_of) if as_of is not None else True)
            & ((runs[C.MODEL_VERSION].astype(str) == mv) if mv is not None else True)
        ]
        if pick.empty:
            nothing_to_read(
                sink,
                table,
                as_of,
                mv,
                [
                    (d.isoformat(), v)
                    for d, v in zip(runs[AS_OF], runs[C.MODEL_VERSION], strict=True)
                ],
            )
        run = pick.assign(_w=pd.to_datetime(pick["written_at"])).sort_values([AS_OF, "_w"]).iloc[-1]
        frame = db.fetch(
            f"SELECT * FROM {db.q(table)} WHERE {C.RUN_ID} = :_run", {"_run": run[C.RUN_ID]}
        )
    return normalise(frame, json.loads(run["dtypes"]).get(table))


def _sql_run(db: SqlDb | None, sink: AnySink, run_id: str) -> pd.Series:
    runs = (
        db.fetch(f"SELECT * FROM {db.q(RUNS_TABLE)}")
        if db is not None and db.columns(RUNS_TABLE) is not None
        else pd.DataFrame(columns=[*RUN_COLUMNS, "dtypes"])
    )
    match = runs[runs[C.RUN_ID] == run_id]
    if match.empty:
        known = runs.sort_values("written_at")[C.RUN_ID].tolist()
        raise StrataError(
            f"no run {run_id} in {sink_label(sink)}; runs there: {', '.join(known[-10:]) or 'none'}"
        )
    return match.iloc[0]


def rollback(sink: DuckDBSink | SqlSink, run_id: str, timeout: float) -> RollbackResult:
    with sql_session(sink, write=True, timeout=timeout) as db:
        assert db is not None
        run = _sql_run(db, sink, run_id)
        if run[C.STATUS] != "current":
            replacer = db.fetch(
                f"SELECT {C.RUN_ID} FROM {db.q(RUNS_TABLE)} WHERE replaced_run_id = :_r "
                f"ORDER BY written_at DESC",
                {"_r": run_id},
            )[C.RUN_ID].tolist()
            not_current(sink, run_id, run[C.STATUS], replacer[0] if replacer else None)
        as_of = pd.Timestamp(run[AS_OF]).date()
        part = {"_as_of": as_of, "_mv": str(run[C.MODEL_VERSION])}
        in_part = f"{AS_OF} = :_as_of AND {C.MODEL_VERSION} = :_mv"
        previous_id = run["replaced_run_id"] if pd.notna(run["replaced_run_id"]) else None
        previous = _sql_run(db, sink, previous_id) if previous_id else None
        if previous is not None and bool(previous["history_pruned"]):
            pruned(sink, run_id, previous_id)
        tables = [t for t in str(run["tables"]).split(",") if t]
        if previous is not None:
            tables += [t for t in str(previous["tables"]).split(",") if t and t not in tables]
        now = utc_now()
        for table in tables:
            cols = db.columns(table)
            if cols is None:
                continue
            _copy_to_history(db, table, cols, in_part, part, run_id, "rolled_back")
            db.execute(f"DELETE FROM {db.q(table)} WHERE {in_part}", part)
            history = f"{table}{HISTORY_SUFFIX}"
            if previous is not None and db.columns(history) is not None:
                names = ", ".join(f'"{c}"' for c in cols)
                restored = (
                    f"{SUPERSEDED_BY} = :_by AND {SUPERSEDED_HOW} = 'replaced' "
                    f"AND {C.RUN_ID} = :_prev"
                )
                params = {"_by": run_id, "_prev": previous_id}
                db.execute(
                    f"INSERT INTO {db.q(table)} ({names}) SELECT {names} FROM {db.q(history)} "
                    f"WHERE {restored}",
                    params,
                )
                db.execute(f"DELETE FROM {db.q(history)} WHERE {restored}", params)
        db.execute(
            f"UPDATE {db.q(RUNS_TABLE)} SET {C.STATUS} = 'rolled_back', ended_at = :now "
            f"WHERE {C.RUN_ID} = :_r",
            {"now": now, "_r": run_id},
        )
        if previous_id:
            db.execute(
                f"UPDATE {db.q(RUNS_TABLE)} SET {C.STATUS} = 'current', ended_at = NULL "
                f"WHERE {C.RUN_ID} = :_r",
                {"_r": previous_id},
            )
    return RollbackResult(
        sink_label(sink), run_id, as_of, str(run[C.MODEL_VERSION]), previous_id, tables
    )


def read_replaced(
    sink: DuckDBSink | SqlSink, table: str, run_id: str, timeout: float
) -> pd.DataFrame:
    with sql_session(sink, write=False, timeout=timeout) as db:
        run = _sql_run(db, sink, run_id)
        previous_id = run["replaced_run_id"] if pd.notna(run["replaced_run_id"]) else None
        if previous_id is None or db.columns(f"{table}{HISTORY_SUFFIX}") is None:
            return pd.DataFrame()
        previous = _sql_run(db, sink, previous_id)
        if bool(previous["history_pruned"]):
            pruned(sink, run_id, previous_id)
        status = str(previous[C.STATUS])
        if status == "current":  # run_id was rolled back: what it replaced is live again
            frame = db.fetch(
                f"SELECT * FROM {db.q(table)} WHERE {C.RUN_ID} = :_p", {"_p": previous_id}
            )
        else:
            frame = db.fetch(
                f"SELECT * FROM {db.q(table + HISTORY_SUFFIX)} WHERE {SUPERSEDED_BY} = :_by "
                f"AND {SUPERSEDED_HOW} = 'replaced' AND {C.RUN_ID} = :_p",
                {"_by": run_id, "_p": previous_id},
            ).drop(columns=[SUPERSEDED_BY, SUPERSEDED_HOW, SUPERSEDED_AT])
        dtypes = json.loads(previous["dtypes"]).get(table)
    return normalise(frame, dtypes)
