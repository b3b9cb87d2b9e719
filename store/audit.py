"""The audit trail: one append-only row per first assignment, change, override, promotion, rollback.

Rows live in table ``audit`` of the workspace DuckDB file (``store.db``). The API only
appends and reads — there is no update or delete — and every append runs under the file's
lock in one transaction, so concurrent jobs neither corrupt nor lose rows. ``seq`` gives the
total order of rows in the file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ml import columns as C
from ml.columns import SKU_ID
from ml.config import Workspace
from ml.errors import StrataError
from store.db import has_table, open_db
from store.locks import DEFAULT_TIMEOUT_S, current_user

__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_TABLE",
    "EVENTS",
    "append_audit",
    "audit_rows_of_run",
    "first_assignment_rows",
    "insert_audit",
    "read_audit",
    "segment_change_rows",
]

AUDIT_TABLE = "audit"
EVENTS = (
    "first_assignment",
    "segment_change",
    "override_request",
    "override_approve",
    "override_reject",
    "override_expire",
    "promotion",
    "auto_promotion",
    "forced_promotion",
    "rollback",
    "score_rollback",
)
AUDIT_COLUMNS = [
    C.SEQ,
    C.EVENT_ID,
    C.OCCURRED_AT,
    C.WHO,
    C.EVENT,
    C.SUBJECT,
    C.FROM_VALUE,
    C.TO_VALUE,
    C.WHY,
    C.MODEL_VERSION,
    C.RUN_ID,
]
_REQUIRED = (C.EVENT, C.SUBJECT)
_GIVEN = AUDIT_COLUMNS[1:]  # every column but seq may be given; the database numbers rows
_TEXT = [C.EVENT_ID, C.WHO, C.EVENT, C.SUBJECT, C.FROM_VALUE, C.TO_VALUE, C.WHY]
_TEXT += [C.MODEL_VERSION, C.RUN_ID]

_DDL = f"""
CREATE SEQUENCE IF NOT EXISTS {AUDIT_TABLE}_seq;
CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (
    {C.SEQ} BIGINT PRIMARY KEY DEFAULT nextval('{AUDIT_TABLE}_seq'),
    {C.EVENT_ID} VARCHAR NOT NULL UNIQUE,
    {C.OCCURRED_AT} TIMESTAMP NOT NULL,
    {C.WHO} VARCHAR NOT NULL,
    {C.EVENT} VARCHAR NOT NULL,
    {C.SUBJECT} VARCHAR NOT NULL,
    {C.FROM_VALUE} VARCHAR,
    {C.TO_VALUE} VARCHAR,
    {C.WHY} VARCHAR,
    {C.MODEL_VERSION} VARCHAR,
    {C.RUN_ID} VARCHAR
);
"""


def _as_frame(rows: pd.DataFrame | Iterable[dict[str, Any]]) -> pd.DataFrame:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    return frame.reset_index(drop=True)


def _audit_frame(rows: pd.DataFrame | Iterable[dict[str, Any]], now: datetime) -> pd.DataFrame:
    """Validated rows with defaults filled; every problem is reported at once."""
    frame = _as_frame(rows)
    problems: list[str] = []
    unknown = [c for c in frame.columns if c not in _GIVEN]
    if unknown:
        problems.append(
            f"unknown column(s) {', '.join(map(str, unknown))}; allowed: {', '.join(_GIVEN)}"
        )
    for col in _REQUIRED:
        if col not in frame.columns:
            problems.append(f"column '{col}' is required")
        elif len(frame):
            blank = frame[col].isna() | (frame[col].astype("str").str.strip() == "")
            problems += [f"row {i}: '{col}' is empty" for i in frame.index[blank][:20]]
    if C.EVENT in frame.columns:
        bad = frame[C.EVENT].notna() & ~frame[C.EVENT].isin(EVENTS)
        problems += [
            f"row {i}: event {frame.at[i, C.EVENT]!r} is not one of {', '.join(EVENTS)}"
            for i in frame.index[bad][:20]
        ]
    if problems:
        raise StrataError("audit rows rejected:\n  - " + "\n  - ".join(problems))

    out = pd.DataFrame(index=frame.index)
    for col in _GIVEN:
        out[col] = frame[col] if col in frame.columns else None
    n = len(out)
    out[C.EVENT_ID] = out[C.EVENT_ID].where(
        out[C.EVENT_ID].notna(), pd.Series([uuid.uuid4().hex for _ in range(n)], dtype="str")
    )
    out[C.WHO] = out[C.WHO].where(out[C.WHO].notna(), current_user())
    stamps = pd.to_datetime(out[C.OCCURRED_AT], utc=True)
    out[C.OCCURRED_AT] = (
        stamps.fillna(pd.Timestamp(now)).dt.tz_convert("UTC").dt.tz_localize(None)
    ).astype("datetime64[us]")
    for col in _TEXT:
        values = out[col].astype("object")
        out[col] = values.where(values.isna(), values.astype(str)).astype("str")
    return out


def insert_audit(
    con: duckdb.DuckDBPyConnection,
    rows: pd.DataFrame | Iterable[dict[str, Any]],
    now: datetime | None = None,
) -> pd.DataFrame:
    """Append rows on an open connection, inside the caller's transaction; returns them with seq.

    For modules that change state and audit it atomically (overrides, promotion). `now` (UTC)
    stamps rows without ``occurred_at``.
    """
    frame = _audit_frame(rows, now or datetime.now(UTC))
    con.execute(_DDL)
    if frame.empty:
        return pd.DataFrame(columns=AUDIT_COLUMNS)
    con.register("_strata_audit_rows", frame)
    try:
        appended = con.execute(
            f"INSERT INTO {AUDIT_TABLE} BY NAME SELECT * FROM _strata_audit_rows RETURNING *"
        ).df()
    finally:
        con.unregister("_strata_audit_rows")
    return appended[AUDIT_COLUMNS].astype({c: "str" for c in _TEXT})


def append_audit(
    ws_or_path: Workspace | Path | str,
    rows: pd.DataFrame | Iterable[dict[str, Any]],
    timeout: float = DEFAULT_TIMEOUT_S,
) -> pd.DataFrame:
    """Append audit rows in one transaction; returns them as stored (with seq and defaults).

    Each row needs ``event`` (one of EVENTS) and ``subject``; ``who`` defaults to
    ``STRATA_USER`` or the OS user, ``occurred_at`` to now (UTC), ``event_id`` to a new id.
    """
    frame = _as_frame(rows)
    _audit_frame(frame, datetime.now(UTC))  # reject bad rows before taking the lock
    with open_db(ws_or_path, write=True, timeout=timeout) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            appended = insert_audit(con, frame)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return appended


def read_audit(
    ws_or_path: Workspace | Path | str,
    subject: str | None = None,
    event: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> pd.DataFrame:
    """Audit rows in the order they were appended, optionally for one subject and/or event."""
    if event is not None and event not in EVENTS:
        raise StrataError(f"audit event {event!r} is not one of {', '.join(EVENTS)}")
    with open_db(ws_or_path, write=False, timeout=timeout) as con:
        if not has_table(con, AUDIT_TABLE):
            return _empty_audit()
        where, params = [], []
        if subject is not None:
            where.append(f"{C.SUBJECT} = ?")
            params.append(str(subject))
        if event is not None:
            where.append(f"{C.EVENT} = ?")
            params.append(event)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        frame = con.execute(f"SELECT * FROM {AUDIT_TABLE} {clause} ORDER BY {C.SEQ}", params).df()[
            AUDIT_COLUMNS
        ]
    return frame.astype({c: "str" for c in _TEXT})


def audit_rows_of_run(
    ws_or_path: Workspace | Path | str, run_id: str, timeout: float = DEFAULT_TIMEOUT_S
) -> int:
    """How many audit rows carry `run_id` (0 before the first audit)."""
    with open_db(ws_or_path, write=False, timeout=timeout) as con:
        if not has_table(con, AUDIT_TABLE):
            return 0
        found = con.execute(
            f"SELECT count(*) FROM {AUDIT_TABLE} WHERE {C.RUN_ID} = ?", [run_id]
        ).fetchone()
    return int(found[0]) if found else 0


def _empty_audit() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in AUDIT_COLUMNS})
    frame[C.SEQ] = frame[C.SEQ].astype("int64")
    frame[C.OCCURRED_AT] = frame[C.OCCURRED_AT].astype("datetime64[us]")
    return frame


def segment_change_rows(
    reclassified: pd.DataFrame, model_version: str | int, run_id: str
) -> pd.DataFrame:
    """Audit rows for the products whose segment changed in a scoring run (``changed`` True).

    `reclassified` is the output of ``ml.hysteresis.reclassify`` (or any frame with ``sku_id,
    previous_segment, segment, changed, change_reason``).
    """
    changed = reclassified[reclassified[C.CHANGED].astype(bool)]
    return pd.DataFrame(
        {
            C.EVENT: "segment_change",
            C.SUBJECT: changed[SKU_ID].astype("str"),
            C.FROM_VALUE: changed[C.PREVIOUS_SEGMENT],
            C.TO_VALUE: changed[C.SEGMENT],
            C.WHY: changed.get(C.CHANGE_REASON),
            C.MODEL_VERSION: str(model_version),
            C.RUN_ID: run_id,
        }
    ).reset_index(drop=True)


def _text_or(series: pd.Series, missing: str) -> pd.Series:
    """`series` as text, `missing` where it is null or empty."""
    text = series.astype("str")
    return text.where(series.notna() & (text != ""), missing)


def first_assignment_rows(assignments: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """Audit rows for the products a scoring run places for the first time (no previous segment).

    `assignments` is the run's assignments table (``sku_id, as_of, segment, probability,
    method, model_name, model_version, previous_segment, reasons, change_reason``). Each row
    says which model placed the product where, as of when, how (model, rule or override) and
    why: the probability and the worded reasons, or the override. Built with column operations,
    no Python loop per product.
    """
    first = assignments[assignments[C.PREVIOUS_SEGMENT].isna()]
    as_of = pd.to_datetime(first[C.AS_OF]).dt.strftime("%Y-%m-%d")
    p = first[C.PROBABILITY].astype(float)
    probability = _text_or(p.map("{:.2f}".format).where(p.notna()), "n/a")
    method = first[C.METHOD].astype("str")
    model = first[C.MODEL_NAME].astype("str") + " v" + first[C.MODEL_VERSION].astype("str")
    because = _text_or(first[C.REASONS], "no reasons recorded")
    override = _text_or(first[C.CHANGE_REASON], "override")
    because = because.where(method != "override", override)
    why = (
        "first assignment as of "
        + as_of
        + " by "
        + method
        + " ("
        + model
        + "), probability "
        + probability
        + ": "
        + because
    )
    return pd.DataFrame(
        {
            C.EVENT: "first_assignment",
            C.SUBJECT: first[SKU_ID].astype("str"),
            C.FROM_VALUE: None,
            C.TO_VALUE: first[C.SEGMENT].astype("str"),
            C.WHY: why,
            C.MODEL_VERSION: first[C.MODEL_VERSION].astype("str"),
            C.RUN_ID: run_id,
        }
    ).reset_index(drop=True)
