"""What every sink kind shares: run results, labels, read-back normalisation, errors."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from ml import columns as C
from ml.columns import AS_OF
from ml.config.base import hide_url_password
from ml.config.scoring import DuckDBSink, ParquetSink, SqlSink
from ml.errors import StrataError

__all__ = [
    "HISTORY_SUFFIX",
    "MANIFEST",
    "PART",
    "ROLLED_BACK",
    "RUNS_TABLE",
    "RUN_COLUMNS",
    "SUPERSEDED_AT",
    "SUPERSEDED_BY",
    "SUPERSEDED_HOW",
    "AnySink",
    "RollbackResult",
    "TableHook",
    "WriteResult",
    "normalise",
    "not_current",
    "nothing_to_read",
    "pruned",
    "runs_frame",
    "sink_label",
    "utc_now",
]

AnySink = ParquetSink | DuckDBSink | SqlSink
TableHook = Callable[[str], None]

RUNS_TABLE = "strata_runs"
HISTORY_SUFFIX = "_history"
SUPERSEDED_BY, SUPERSEDED_HOW, SUPERSEDED_AT = "superseded_by", "superseded_how", "superseded_at"
MANIFEST, ROLLED_BACK, PART = "_SUCCESS", "_ROLLED_BACK", "part.parquet"
RUN_COLUMNS = [
    C.RUN_ID,
    AS_OF,
    C.MODEL_VERSION,
    C.STATUS,
    "written_at",
    "replaced_run_id",
    "ended_at",
    "tables",
    "row_counts",
    "history_pruned",
]


@dataclass(frozen=True)
class WriteResult:
    """What a write did: where, which partition, rows per table, and the run it replaced."""

    sink: str
    as_of: date
    model_version: str
    run_id: str
    rows: dict[str, int]
    replaced_run_id: str | None


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback did: the run undone and the run whose outputs are visible again."""

    sink: str
    run_id: str
    as_of: date
    model_version: str
    restored_run_id: str | None
    tables: list[str] = field(default_factory=list)


def sink_label(sink: AnySink) -> str:
    """A short name of the sink for messages (URL passwords hidden)."""
    if isinstance(sink, SqlSink):
        return hide_url_password(sink.url)
    return f"{sink.kind}:{sink.path}"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def normalise(frame: pd.DataFrame, dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    """Read-back frames look the same from every sink: as_of datetime64, recorded dtypes."""
    out = frame.copy()
    for col, dtype in (dtypes or {}).items():
        if col in out and dtype not in ("object", str(out[col].dtype)):
            with contextlib.suppress(TypeError, ValueError):
                out[col] = out[col].astype(dtype)
    if AS_OF in out:
        out[AS_OF] = pd.to_datetime(out[AS_OF]).astype("datetime64[us]")
    for col in (C.MODEL_VERSION, C.RUN_ID):
        if col in out:
            out[col] = out[col].astype("str")
    return out


def runs_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    frame[AS_OF] = pd.to_datetime(frame[AS_OF]).astype("datetime64[us]")
    for col in ("written_at", "ended_at"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[us]")
    frame["history_pruned"] = frame["history_pruned"].astype(bool)
    return frame.sort_values("written_at", kind="stable").reset_index(drop=True)


def nothing_to_read(
    sink: AnySink, table: str, as_of: date | None, mv: str | None, have: list[tuple[str, str]]
) -> None:
    wanted = " ".join(
        p
        for p in (
            f"as_of {as_of.isoformat()}" if as_of else "",
            f"model_version {mv}" if mv else "",
        )
        if p
    )
    shown = ", ".join(f"{a}/v{v}" for a, v in sorted(set(have))[-10:]) or "none"
    raise StrataError(
        f"sink {sink_label(sink)} has no complete {table} partition"
        + (f" for {wanted}" if wanted else "")
        + f"; partitions there (as_of/version): {shown}. Run `strata score` first"
    )


def not_current(sink: AnySink, run_id: str, status: str, replacer: str | None) -> None:
    if status == "rolled_back":
        raise StrataError(f"run {run_id} in {sink_label(sink)} was already rolled back")
    raise StrataError(
        f"run {run_id} in {sink_label(sink)} is no longer current: run {replacer} replaced it; "
        f"roll back {replacer} first"
    )


def pruned(sink: AnySink, run_id: str, previous_id: str | None) -> None:
    raise StrataError(
        f"the outputs run {run_id} replaced (run {previous_id}) are no longer kept in "
        f"{sink_label(sink)}: keep_history was exceeded. Re-score that snapshot instead"
    )
