"""The run ledger: one row per stage of every `strata refresh`, and the lock one refresh holds.

Rows live in table ``refresh_runs`` of the project's database — the one that holds the users
(``database.url`` in configs/strata.yaml, else the SQLite file ``<warehouse>/strata.db``). A row
is written ``running`` when its stage starts and closed ``succeeded`` or ``failed`` (with the
error) when it ends; a process killed meanwhile leaves it ``running``, and the next refresh,
holding the lock, marks it ``abandoned``. The lock is an ``fcntl.flock`` on
``<warehouse>/.locks/refresh.lock`` holding the pid and refresh id of its holder as JSON: the
kernel releases it when the process dies, however it dies. A refresh id is allocated under the
lock (``new_refresh_id``): ``refresh-YYYYmmddTHHMMSSffffff-<6 hex>``, later than the lock file's
previous holder even when the clock stepped back, so ids sort in the order refreshes ran.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ml.config import Workspace
from ml.errors import StrataError
from store.locks import DEFAULT_TIMEOUT_S, lock_path
from store.sql_engine import database_error, sql_engine
from store.users import users_url

__all__ = [
    "LEDGER_COLUMNS",
    "LEDGER_TABLE",
    "STATUSES",
    "RefreshLock",
    "abandon_stale",
    "finish_stage",
    "new_refresh_id",
    "read_ledger",
    "refresh_lock",
    "start_stage",
]

LEDGER_TABLE = "refresh_runs"
STATUSES = ("running", "succeeded", "failed", "abandoned")
_SETTING = "database.url in configs/strata.yaml"
_LEDGER = sa.Table(
    LEDGER_TABLE,
    sa.MetaData(),
    sa.Column("refresh_id", sa.String(64), primary_key=True),
    sa.Column("stage", sa.String(32), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),  # the stage's place in its refresh
    sa.Column("workspace", sa.String(128), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows_in", sa.BigInteger),
    sa.Column("rows_out", sa.BigInteger),
    sa.Column("model_version", sa.String(64)),
    sa.Column("snapshot_as_of", sa.Date),
    sa.Column("triggered_by", sa.String(128), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("error", sa.Text),
)
LEDGER_COLUMNS = [c.name for c in _LEDGER.columns]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@contextlib.contextmanager
def _ledger(ws: Workspace, timeout: float) -> Iterator[sa.Connection]:
    """One transaction on the project's database, the ledger table created when missing."""
    url = users_url(ws)
    engine = sql_engine(url, _SETTING, timeout)
    try:
        with engine.begin() as con:
            if not sa.inspect(con).has_table(LEDGER_TABLE):
                _LEDGER.create(con)
            yield con
    except sa.exc.DBAPIError as exc:
        raise database_error(exc, url, _SETTING) from None
    finally:
        engine.dispose()


def start_stage(
    ws: Workspace,
    refresh_id: str,
    stage: str,
    seq: int,
    triggered_by: str,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> None:
    """Record that `stage` of refresh `refresh_id` has started (status running)."""
    row = {
        "refresh_id": refresh_id,
        "stage": stage,
        "seq": seq,
        "workspace": ws.name,
        "started_at": _now(),
        "status": "running",
        "triggered_by": triggered_by,
        "pid": os.getpid(),
        "host": os.uname().nodename,
    }
    with _ledger(ws, timeout) as con:
        con.execute(_LEDGER.insert().values(**row))


def finish_stage(
    ws: Workspace,
    refresh_id: str,
    stage: str,
    status: str,
    *,
    rows_in: int | None = None,
    rows_out: int | None = None,
    model_version: str | None = None,
    snapshot_as_of: date | None = None,
    error: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> None:
    """Close a running stage row: succeeded (with counts and versions) or failed (with the error)."""
    if status not in ("succeeded", "failed"):
        raise StrataError(f"stage status {status!r} is not a final status; use succeeded or failed")
    values = {
        "ended_at": _now(),
        "status": status,
        "rows_in": rows_in,
        "rows_out": rows_out,
        "model_version": model_version,
        "snapshot_as_of": snapshot_as_of,
        "error": error,
    }
    where = (_LEDGER.c.refresh_id == refresh_id) & (_LEDGER.c.stage == stage)
    with _ledger(ws, timeout) as con:
        con.execute(_LEDGER.update().where(where).values(**values))


def abandon_stale(ws: Workspace, timeout: float = DEFAULT_TIMEOUT_S) -> int:
    """Mark the workspace's `running` rows abandoned; call only while holding its refresh lock.

    Holding the lock proves no refresh of the workspace is alive, so a running row is the
    trace of a process that was killed or crashed mid-stage (a database several workspaces
    share keeps the others' rows untouched). Returns the rows marked.
    """
    with _ledger(ws, timeout) as con:
        stale = con.execute(
            sa.select(_LEDGER.c.refresh_id, _LEDGER.c.stage, _LEDGER.c.pid).where(
                (_LEDGER.c.status == "running") & (_LEDGER.c.workspace == ws.name)
            )
        ).fetchall()
        for refresh_id, stage, pid in stale:
            con.execute(
                _LEDGER.update()
                .where((_LEDGER.c.refresh_id == refresh_id) & (_LEDGER.c.stage == stage))
                .values(
                    status="abandoned",
                    ended_at=_now(),
                    error=f"process {pid} ended while the stage was running (killed or "
                    "crashed); the stage's outputs were not published, the next refresh redid it",
                )
            )
    return len(stale)


def read_ledger(
    ws: Workspace, limit: int | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> pd.DataFrame:
    """The workspace's ledger rows, newest refresh first, its stages in order; `limit` refreshes."""
    with _ledger(ws, timeout) as con:
        newest = (
            sa.select(_LEDGER.c.refresh_id, sa.func.min(_LEDGER.c.started_at).label("began"))
            .where(_LEDGER.c.workspace == ws.name)
            .group_by(_LEDGER.c.refresh_id)
            .order_by(sa.desc("began"), sa.desc(_LEDGER.c.refresh_id))
        )
        if limit is not None:
            newest = newest.limit(limit)
        runs = newest.subquery()
        query = (
            sa.select(*_LEDGER.columns)
            .join(runs, runs.c.refresh_id == _LEDGER.c.refresh_id)
            .order_by(sa.desc(runs.c.began), sa.desc(runs.c.refresh_id), _LEDGER.c.seq)
        )
        frame = pd.DataFrame(con.execute(query).fetchall(), columns=LEDGER_COLUMNS)
    for col in ("started_at", "ended_at"):
        frame[col] = pd.to_datetime(frame[col])
    return frame


@dataclass(frozen=True)
class RefreshLock:
    """Who holds a workspace's refresh lock (read from the lock file)."""

    path: Path
    holder: dict[str, Any]

    @property
    def refresh_id(self) -> str:
        """The id of the refresh holding the lock."""
        return str(self.holder["refresh_id"])


_STAMP = "%Y%m%dT%H%M%S%f"


def new_refresh_id(previous: str | None = None) -> str:
    """A refresh id that sorts after `previous` and by start time: ``refresh-<stamp>-<6 hex>``."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with contextlib.suppress(AttributeError, IndexError, ValueError):  # no or an older-format id
        now = max(now, datetime.strptime(str(previous).split("-")[1], _STAMP) + timedelta(0, 0, 1))
    return f"refresh-{now:{_STAMP}}-{uuid.uuid4().hex[:6]}"


def _holder_text(info: dict[str, Any]) -> str:
    if not info:
        return "a refresh whose details are not yet written"
    return (
        f"refresh {info.get('refresh_id')} (pid {info.get('pid')}, started "
        f"{info.get('since')} by {info.get('triggered_by')})"
    )


@contextlib.contextmanager
def refresh_lock(
    warehouse: Path,
    refresh_id: str | None,
    triggered_by: str,
    wait: bool = False,
    poll: float = 0.2,
) -> Iterator[RefreshLock]:
    """Hold the workspace's refresh lock; refuse at once, naming the holder, unless `wait`.

    `refresh_id` None: a new id is allocated once the lock is held (``RefreshLock.refresh_id``).
    """
    path = lock_path(warehouse, "refresh")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    running: dict[str, Any] = {}
                    with contextlib.suppress(OSError, ValueError):
                        running = json.loads(path.read_text(encoding="utf-8") or "{}")
                    raise StrataError(
                        f"another refresh of this workspace is running: "
                        f"{_holder_text(running)}; lock {path}. Wait for it "
                        f"(`strata runs history` shows its stages), or pass --wait to start "
                        f"when it ends"
                    ) from None
                time.sleep(poll)
        if refresh_id is None:
            previous: dict[str, Any] = {}
            with contextlib.suppress(OSError, ValueError):
                previous = json.loads(path.read_text(encoding="utf-8") or "{}")
            refresh_id = new_refresh_id(previous.get("refresh_id"))
        info = {
            "refresh_id": refresh_id,
            "pid": os.getpid(),
            "triggered_by": triggered_by,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield RefreshLock(path, info)
    finally:
        os.close(fd)  # closing the descriptor releases the flock
