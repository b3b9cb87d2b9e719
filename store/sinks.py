"""Sinks: write a scoring run's tables atomically and idempotently, read them back, roll a run back.

A *run* writes one *partition* — (as_of, model_version) — of one or more tables (assignments,
explanations, later policies). Re-running the same partition replaces it as a unit; what it
replaced stays retrievable (``read_replaced``) and restorable (``rollback_run``) until
``keep_history`` newer replacements have pushed it out. Every row carries ``as_of``,
``model_version`` and ``run_id`` (added when the frame lacks them, checked when it has them).

Parquet (``ParquetSink``)::

    <path>/as_of=YYYY-MM-DD/model_version=V            symlink -> _runs/<run folder>
    <path>/_runs/<run folder>/<table>/part.parquet      one per table of the run
    <path>/_runs/<run folder>/_SUCCESS                  manifest (json), written last

  A run is written into ``_runs/.tmp-*``, its manifest last, renamed into ``_runs/``, and then
  published by atomically replacing the partition symlink (``rename(2)``) — so a reader, or a
  crash at any point, sees either the old partition or the new one, complete. Superseded run
  folders are the history. Read partitions with ``read_table`` (or any reader that follows the
  ``as_of=*/model_version=*`` links).

DuckDB file (``DuckDBSink``) and any SQLAlchemy URL (``SqlSink``): one transaction per run —
copy the partition's current rows to ``<table>_history``, DELETE them, INSERT the new ones,
record the run in ``strata_runs`` — then COMMIT. Tables (and a PostgreSQL schema) are created
on first write.

Several sinks (``write_runs``): the run is staged and verified in every one — transactions left
open, parquet folders left unpublished — and only then published, database commits first and
parquet link swaps last; a failure anywhere publishes it nowhere.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date

import pandas as pd

from ml import columns as C
from ml.columns import AS_OF
from ml.config.scoring import ParquetSink
from ml.errors import StrataError
from store import sink_parquet, sink_sql
from store.locks import DEFAULT_TIMEOUT_S
from store.sink_common import (
    HISTORY_SUFFIX,
    RUNS_TABLE,
    AnySink,
    RollbackResult,
    TableHook,
    WriteResult,
    sink_label,
)

__all__ = [
    "RUNS_TABLE",
    "RollbackResult",
    "WriteResult",
    "list_runs",
    "read_replaced",
    "read_table",
    "rollback_run",
    "sink_label",
    "write_run",
    "write_runs",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^[A-Za-z0-9._-]+$")
# the sink's own bookkeeping, and the tables that share the workspace DuckDB file
_RESERVED = {RUNS_TABLE, "audit", "overrides"}


def _check_names(tables: Mapping[str, pd.DataFrame], model_version: str, run_id: str) -> None:
    bad = [t for t in tables if not _NAME.match(t) or t.endswith(HISTORY_SUFFIX) or t in _RESERVED]
    if bad:
        raise StrataError(
            f"sink table name(s) {', '.join(map(repr, bad))} not allowed; use lower-case "
            f"snake_case such as assignments, explanations, policies"
        )
    if not tables:
        raise StrataError("write_run needs at least one table, e.g. {'assignments': frame}")
    if not _VERSION.match(model_version):
        raise StrataError(
            f"model_version {model_version!r} cannot name a partition; use letters, digits, "
            f". _ - (e.g. 3)"
        )
    if not str(run_id).strip():
        raise StrataError("write_run needs a run_id (the MLflow run or scoring job id)")


def _with_provenance(
    frame: pd.DataFrame, table: str, as_of: date, model_version: str, run_id: str
) -> pd.DataFrame:
    """The frame with as_of (date), model_version and run_id set; clashing values are an error."""
    out = frame.reset_index(drop=True)
    if out.columns.duplicated().any():
        dupes = sorted(set(out.columns[out.columns.duplicated()]))
        raise StrataError(f"table {table}: duplicated column(s) {', '.join(map(str, dupes))}")
    if AS_OF in out and len(out):
        given = pd.to_datetime(out[AS_OF]).dt.date
        if (given != as_of).any():
            other = sorted({d.isoformat() for d in given.dropna()} - {as_of.isoformat()})
            raise StrataError(
                f"table {table}: rows have as_of {', '.join(other[:5])}, but the run writes "
                f"as_of {as_of.isoformat()}; write one as_of per run"
            )
    for col, value in ((C.MODEL_VERSION, model_version), (C.RUN_ID, run_id)):
        if col in out and len(out) and (out[col].astype(str) != value).any():
            other = sorted(set(out[col].astype(str)) - {value})
            raise StrataError(
                f"table {table}: rows have {col} {', '.join(other[:5])}, but the run writes "
                f"{col} {value}; leave the column out or make it match"
            )
    return out.assign(
        **{
            AS_OF: pd.Series([as_of] * len(out), dtype="object"),
            C.MODEL_VERSION: pd.Series([model_version] * len(out), dtype="str"),
            C.RUN_ID: pd.Series([run_id] * len(out), dtype="str"),
        }
    )


def write_run(
    sink: AnySink,
    tables: Mapping[str, pd.DataFrame],
    *,
    as_of: date,
    model_version: str | int,
    run_id: str,
    on_table_written: TableHook | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> WriteResult:
    """Replace partition (as_of, model_version) of every table in `tables` with one run's rows.

    All tables of the run become visible together or not at all (one transaction; for parquet
    one symlink swap); a re-run replaces them and keeps the replaced rows as history.
    `on_table_written(table)` is called after each table is staged, before anything is
    published (progress; the crash tests stop the process there). Paths in `sink` should be
    absolute (see ``ml.config.scoring.resolve_sink``).
    """
    return write_runs(
        [sink],
        tables,
        as_of=as_of,
        model_version=model_version,
        run_id=run_id,
        on_table_written=on_table_written,
        timeout=timeout,
    )[0]


def _publish_order(sink: AnySink) -> int:
    """Sinks are staged in this order and published in the reverse one: SQL servers first.

    A commit on a database server is the step most likely to fail at the last moment; a
    parquet link swap (a local rename) the least, so it goes last.
    """
    return {"parquet": 0, "duckdb": 1}.get(sink.kind, 2)


def write_runs(
    sinks: Sequence[AnySink],
    tables: Mapping[str, pd.DataFrame],
    *,
    as_of: date,
    model_version: str | int,
    run_id: str,
    on_table_written: TableHook | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[WriteResult]:
    """Write one run to every sink, all or none: stage and verify everywhere, then publish.

    Each sink stages the run (an open transaction, or a parquet temp folder) and checks it;
    only when every sink has staged it does any publish (commits, then link swaps). A failure
    while staging publishes nothing anywhere. Should a commit fail after another sink has
    published (two database servers), the published ones are rolled back (``rollback_run``),
    so every sink again shows what it showed before. Results come in the order of `sinks`.
    """
    model_version, run_id = str(model_version), str(run_id)
    _check_names(tables, model_version, run_id)
    frames = {
        name: _with_provenance(frame, name, as_of, model_version, run_id)
        for name, frame in tables.items()
    }
    order = sorted(range(len(sinks)), key=lambda i: _publish_order(sinks[i]))
    published: list[AnySink] = []
    results: dict[int, WriteResult] = {}
    try:
        with contextlib.ExitStack() as stack:
            for i in order:
                stage = sink_parquet.stage if isinstance(sinks[i], ParquetSink) else sink_sql.stage
                staged = stage(
                    sinks[i], frames, as_of, model_version, run_id, on_table_written, timeout
                )
                results[i] = stack.enter_context(_tracked(staged, sinks[i], published))
    except StrataError as exc:
        _unpublish(published, run_id, timeout)
        if len(sinks) == 1:
            raise
        raise StrataError(
            f"{str(exc).rstrip('.')}. Run {run_id} was published to none of the sinks "
            f"({', '.join(sink_label(s) for s in sinks)}): they show what they showed before"
        ) from exc
    except BaseException:
        _unpublish(published, run_id, timeout)
        raise
    return [results[i] for i in range(len(sinks))]


@contextlib.contextmanager
def _tracked(
    staged: contextlib.AbstractContextManager[WriteResult],
    sink: AnySink,
    published: list[AnySink],
) -> Iterator[WriteResult]:
    """The staged write, noting the sink in `published` once its publish succeeded."""
    with staged as result:
        yield result
    published.append(sink)


def _unpublish(published: list[AnySink], run_id: str, timeout: float) -> None:
    """Roll back the run where it was already published (a later sink failed to commit)."""
    for sink in published:
        rollback_run(sink, run_id, timeout)


def read_table(
    sink: AnySink,
    table: str,
    as_of: date | None = None,
    model_version: str | int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> pd.DataFrame:
    """One complete partition of `table`: the newest as_of (then the newest written) by default."""
    mv = None if model_version is None else str(model_version)
    if isinstance(sink, ParquetSink):
        return sink_parquet.read(sink, table, as_of, mv)
    return sink_sql.read(sink, table, as_of, mv, timeout)


def list_runs(sink: AnySink, timeout: float = DEFAULT_TIMEOUT_S) -> pd.DataFrame:
    """Every run the sink knows, oldest first: status current | superseded | rolled_back."""
    if isinstance(sink, ParquetSink):
        return sink_parquet.list_runs(sink)
    return sink_sql.list_runs(sink, timeout)


def read_replaced(
    sink: AnySink, table: str, run_id: str, timeout: float = DEFAULT_TIMEOUT_S
) -> pd.DataFrame:
    """The rows of `table` that run `run_id` replaced (empty when it replaced nothing)."""
    if isinstance(sink, ParquetSink):
        return sink_parquet.read_replaced(sink, table, run_id)
    return sink_sql.read_replaced(sink, table, run_id, timeout)


def rollback_run(sink: AnySink, run_id: str, timeout: float = DEFAULT_TIMEOUT_S) -> RollbackResult:
    """Undo run `run_id`: its partition shows again what the run replaced (or nothing).

    Only the current run of a partition can be rolled back; roll back newer runs first.
    The caller audits it (event ``score_rollback``).
    """
    if isinstance(sink, ParquetSink):
        return sink_parquet.rollback(sink, run_id, timeout)
    return sink_sql.rollback(sink, run_id, timeout)
