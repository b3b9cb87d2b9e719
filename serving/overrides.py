"""Planner overrides: request, four-eyes approval, expiry — each step audited in the same transaction.

An override pins one product to a segment until a date (inclusive). It is requested by one person
and in force only once approved by another. On approval it replaces any override in force for the
same product. When its date has passed, ``expire_overrides`` ends it and audits that once.
Overrides live in table ``overrides`` of the workspace DuckDB file next to ``audit``.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ml import columns as C
from ml.columns import SKU_ID
from ml.config import Workspace
from ml.errors import StrataError
from store.audit import insert_audit
from store.db import has_table, open_db
from store.locks import DEFAULT_TIMEOUT_S, current_user

__all__ = [
    "OVERRIDES_TABLE",
    "OVERRIDE_COLUMNS",
    "active_overrides",
    "approve_override",
    "expire_overrides",
    "list_overrides",
    "reject_override",
    "request_override",
    "validate_override_target",
]

OVERRIDES_TABLE = "overrides"
ENDED_AT, ENDED_WHY, REASON = "ended_at", "ended_why", "reason"
OVERRIDE_COLUMNS = [
    C.OVERRIDE_ID,
    SKU_ID,
    C.SEGMENT,
    REASON,
    C.UNTIL,
    C.STATUS,
    C.REQUESTED_BY,
    C.REQUESTED_AT,
    C.APPROVED_BY,
    C.APPROVED_AT,
    ENDED_AT,
    ENDED_WHY,
]
_DDL = f"""
CREATE SEQUENCE IF NOT EXISTS {OVERRIDES_TABLE}_seq;
CREATE TABLE IF NOT EXISTS {OVERRIDES_TABLE} (
    {C.OVERRIDE_ID} BIGINT PRIMARY KEY DEFAULT nextval('{OVERRIDES_TABLE}_seq'),
    {SKU_ID} VARCHAR NOT NULL,
    {C.SEGMENT} VARCHAR NOT NULL,
    {REASON} VARCHAR NOT NULL,
    {C.UNTIL} DATE NOT NULL,
    {C.STATUS} VARCHAR NOT NULL,
    {C.REQUESTED_BY} VARCHAR NOT NULL,
    {C.REQUESTED_AT} TIMESTAMP NOT NULL,
    {C.APPROVED_BY} VARCHAR,
    {C.APPROVED_AT} TIMESTAMP,
    {ENDED_AT} TIMESTAMP,
    {ENDED_WHY} VARCHAR
);
"""
_COLS = ", ".join(OVERRIDE_COLUMNS)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _close(value: str, known: Iterable[str], n: int = 3) -> str:
    matches = difflib.get_close_matches(str(value), sorted(map(str, known)), n=n, cutoff=0.6)
    return f"; close matches: {', '.join(matches)}" if matches else ""


def validate_override_target(
    sku_id: str, segment: str, known_skus: Iterable[str], known_segments: Iterable[str]
) -> None:
    """Raise a StrataError when the product or the segment is unknown, naming close matches."""
    skus, segments = set(map(str, known_skus)), list(map(str, known_segments))
    problems = []
    if str(sku_id) not in skus:
        problems.append(f"product '{sku_id}' is not in the newest snapshot{_close(sku_id, skus)}")
    if str(segment) not in segments:
        problems.append(
            f"segment '{segment}' is not in the catalogue (configs/segments.yaml)"
            f"{_close(segment, segments)}; segments: {', '.join(segments)}"
        )
    if problems:
        raise StrataError("override rejected: " + "; ".join(problems))


@contextlib.contextmanager
def _transaction(db: Workspace | Path | str, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """The DuckDB file under its lock, the table ensured, one transaction committed on success."""
    with open_db(db, write=True, timeout=timeout) as con:
        con.execute(_DDL)
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def _rows(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> pd.DataFrame:
    frame = con.execute(
        f"SELECT {_COLS} FROM {OVERRIDES_TABLE} WHERE {where} ORDER BY {C.OVERRIDE_ID}", params
    ).df()
    return frame.astype(
        {c: "str" for c in (SKU_ID, C.SEGMENT, REASON, C.STATUS, C.REQUESTED_BY, C.APPROVED_BY)}
    )


def request_override(
    db: Workspace | Path | str,
    sku_id: str,
    segment: str,
    reason: str,
    until: date,
    requested_by: str | None = None,
    today: date | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> int:
    """Record a request to pin `sku_id` to `segment` until `until` (inclusive); returns its id.

    The caller checks product and segment first (``validate_override_target``).
    """
    today = today or datetime.now(UTC).date()
    who = (requested_by or current_user()).strip()
    if not str(reason or "").strip():
        raise StrataError(
            f"override of '{sku_id}': give a reason (--reason), e.g. 'launch campaign needs "
            f"the fast-mover policy'; approvers and the audit read it"
        )
    if until < today:
        raise StrataError(
            f"override of '{sku_id}': until {until.isoformat()} is before today "
            f"({today.isoformat()}); give the last day the override should be in force"
        )
    with _transaction(db, timeout) as con:
        (override_id,) = con.execute(
            f"INSERT INTO {OVERRIDES_TABLE} ({SKU_ID}, {C.SEGMENT}, {REASON}, {C.UNTIL}, "
            f"{C.STATUS}, {C.REQUESTED_BY}, {C.REQUESTED_AT}) VALUES (?, ?, ?, ?, 'requested', "
            f"?, ?) RETURNING {C.OVERRIDE_ID}",
            [str(sku_id), str(segment), reason.strip(), until, who, _now()],
        ).fetchone()
        insert_audit(
            con,
            [
                {
                    C.EVENT: "override_request",
                    C.SUBJECT: str(sku_id),
                    C.TO_VALUE: str(segment),
                    C.WHO: who,
                    C.WHY: f"override {override_id} until {until.isoformat()}: {reason.strip()}",
                }
            ],
        )
    return int(override_id)


def _approvable(
    con: duckdb.DuckDBPyConnection, override_id: int, who: str, today: date, verb: str = "approve"
) -> pd.Series:
    """The requested override `override_id`, or a StrataError saying why `who` cannot approve it."""
    found = _rows(con, f"{C.OVERRIDE_ID} = ?", [int(override_id)])
    if found.empty:
        pending = _rows(con, f"{C.STATUS} = 'requested'", [])
        shown = ", ".join(
            f"{r[C.OVERRIDE_ID]} ({r[SKU_ID]} -> {r[C.SEGMENT]})"
            for _, r in pending.head(10).iterrows()
        )
        raise StrataError(
            f"there is no override {override_id}; "
            + (f"requests awaiting approval: {shown}" if shown else "no request awaits approval")
        )
    row = found.iloc[0]
    what = f"override {override_id} ({row[SKU_ID]} -> {row[C.SEGMENT]})"
    if row[C.STATUS] != "requested":
        by = f" by {row[C.APPROVED_BY]}" if row[C.STATUS] == "approved" else ""
        raise StrataError(
            f"{what} is already {row[C.STATUS]}{by}; only a requested override can be {verb}d"
        )
    if who.casefold() == str(row[C.REQUESTED_BY]).casefold():
        raise StrataError(
            f"four-eyes rule: {what} was requested by {row[C.REQUESTED_BY]}, so {who} cannot "
            f"{verb} it; ask another planner to {verb} it"
        )
    until = pd.Timestamp(row[C.UNTIL]).date()
    if until < today:
        raise StrataError(
            f"override {override_id} lapsed on {until.isoformat()} before anyone approved "
            f"it; request it again with a later --until"
        )
    return row


def _supersede(
    con: duckdb.DuckDBPyConnection, sku: str, override_id: int, who: str, now: datetime
) -> list[dict[str, Any]]:
    """End the override in force for `sku` (at most one); its audit rows."""
    previous = _rows(con, f"{SKU_ID} = ? AND {C.STATUS} = 'approved'", [sku])
    audit: list[dict[str, Any]] = []
    for _, old in previous.iterrows():
        why = f"superseded by override {override_id}"
        con.execute(
            f"UPDATE {OVERRIDES_TABLE} SET {C.STATUS} = 'superseded', {ENDED_AT} = ?, "
            f"{ENDED_WHY} = ? WHERE {C.OVERRIDE_ID} = ?",
            [now, why, int(old[C.OVERRIDE_ID])],
        )
        audit.append(
            {
                C.EVENT: "override_expire",
                C.SUBJECT: str(old[SKU_ID]),
                C.FROM_VALUE: str(old[C.SEGMENT]),
                C.WHO: who,
                C.WHY: f"override {old[C.OVERRIDE_ID]} {why}",
            }
        )
    return audit


def approve_override(
    db: Workspace | Path | str,
    override_id: int,
    approved_by: str | None = None,
    today: date | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Approve a requested override (four eyes: not by its requester); returns the override.

    An override already in force for the same product is superseded (and audited as expired).
    """
    today = today or datetime.now(UTC).date()
    who = (approved_by or current_user()).strip()
    with _transaction(db, timeout) as con:
        row = _approvable(con, override_id, who, today)
        now = _now()
        audit = _supersede(con, str(row[SKU_ID]), override_id, who, now)
        con.execute(
            f"UPDATE {OVERRIDES_TABLE} SET {C.STATUS} = 'approved', {C.APPROVED_BY} = ?, "
            f"{C.APPROVED_AT} = ? WHERE {C.OVERRIDE_ID} = ?",
            [who, now, int(override_id)],
        )
        audit.append(
            {
                C.EVENT: "override_approve",
                C.SUBJECT: str(row[SKU_ID]),
                C.TO_VALUE: str(row[C.SEGMENT]),
                C.WHO: who,
                C.WHY: f"approved override {override_id} requested by {row[C.REQUESTED_BY]}: "
                f"{row[REASON]}",
            }
        )
        insert_audit(con, audit)
        return _rows(con, f"{C.OVERRIDE_ID} = ?", [int(override_id)]).iloc[0].to_dict()


def reject_override(
    db: Workspace | Path | str,
    override_id: int,
    reason: str,
    rejected_by: str | None = None,
    today: date | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[str, Any]:
    """Reject a requested override (four eyes, like approval) with a reason; returns it."""
    who = (rejected_by or current_user()).strip()
    if not str(reason or "").strip():
        raise StrataError(
            f"rejecting override {override_id}: give a reason; the requester reads it"
        )
    with _transaction(db, timeout) as con:
        row = _approvable(con, override_id, who, today or datetime.now(UTC).date(), "reject")
        con.execute(
            f"UPDATE {OVERRIDES_TABLE} SET {C.STATUS} = 'rejected', {ENDED_AT} = ?, "
            f"{ENDED_WHY} = ? WHERE {C.OVERRIDE_ID} = ?",
            [_now(), f"rejected by {who}: {reason.strip()}", int(override_id)],
        )
        insert_audit(
            con,
            [
                {
                    C.EVENT: "override_reject",
                    C.SUBJECT: str(row[SKU_ID]),
                    C.TO_VALUE: str(row[C.SEGMENT]),
                    C.WHO: who,
                    C.WHY: f"rejected override {override_id} requested by "
                    f"{row[C.REQUESTED_BY]}: {reason.strip()}",
                }
            ],
        )
        return _rows(con, f"{C.OVERRIDE_ID} = ?", [int(override_id)]).iloc[0].to_dict()


def list_overrides(
    db: Workspace | Path | str, status: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> pd.DataFrame:
    """Every override (or those with `status`: requested|approved|rejected|expired|superseded)."""
    with open_db(db, write=False, timeout=timeout) as con:
        if not has_table(con, OVERRIDES_TABLE):
            return pd.DataFrame(columns=OVERRIDE_COLUMNS)
        if status is None:
            return _rows(con, "TRUE", [])
        return _rows(con, f"{C.STATUS} = ?", [status])


def active_overrides(
    db: Workspace | Path | str, as_of: date, timeout: float = DEFAULT_TIMEOUT_S
) -> pd.DataFrame:
    """Approved overrides in force on `as_of` (``until`` on or after it), one per product."""
    frame = list_overrides(db, "approved", timeout)
    if frame.empty:
        return frame
    in_force = frame[pd.to_datetime(frame[C.UNTIL]) >= pd.Timestamp(as_of)]
    return in_force.reset_index(drop=True)


def expire_overrides(
    db: Workspace | Path | str, as_of: date, timeout: float = DEFAULT_TIMEOUT_S
) -> pd.DataFrame:
    """End overrides and requests whose ``until`` is before `as_of`; audit each once; return them."""
    with _transaction(db, timeout) as con:
        lapsed = _rows(con, f"{C.STATUS} IN ('requested', 'approved') AND {C.UNTIL} < ?", [as_of])
        if lapsed.empty:
            return lapsed
        now, who = _now(), current_user()
        why = pd.Series(
            [
                f"override {i} lapsed: in force until {pd.Timestamp(u).date().isoformat()}, "
                f"scored as of {as_of.isoformat()}"
                + ("" if s == "approved" else " (never approved)")
                for i, u, s in zip(
                    lapsed[C.OVERRIDE_ID], lapsed[C.UNTIL], lapsed[C.STATUS], strict=True
                )
            ],
            dtype="str",
        )
        con.register("_strata_lapsed", pd.DataFrame({"id": lapsed[C.OVERRIDE_ID], "why": why}))
        con.execute(
            f"UPDATE {OVERRIDES_TABLE} o SET {C.STATUS} = 'expired', {ENDED_AT} = ?, "
            f"{ENDED_WHY} = l.why FROM _strata_lapsed l WHERE o.{C.OVERRIDE_ID} = l.id",
            [now],
        )
        con.unregister("_strata_lapsed")
        insert_audit(
            con,
            pd.DataFrame(
                {
                    C.EVENT: "override_expire",
                    C.SUBJECT: lapsed[SKU_ID],
                    C.FROM_VALUE: lapsed[C.SEGMENT],
                    C.WHO: who,
                    C.WHY: why,
                }
            ),
        )
        ids = [int(i) for i in lapsed[C.OVERRIDE_ID]]
        return _rows(con, f"{C.OVERRIDE_ID} IN ({', '.join('?' * len(ids))})", ids)
