"""The workspace DuckDB file (``<warehouse>/strata.duckdb``) and a locked connection to it.

DuckDB admits one writing process per file (a second one fails with "Could not set lock on
file"), so every Strata process opens the file inside ``workspace_lock`` — exclusive to write,
shared to read — and retries while a process outside Strata (a DuckDB shell) holds it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from ml.config import Workspace
from ml.errors import StrataError
from store.locks import DEFAULT_TIMEOUT_S, workspace_lock

__all__ = ["DB_FILE", "db_path", "has_table", "open_db"]

DB_FILE = "strata.duckdb"


def db_path(ws_or_path: Workspace | Path | str) -> Path:
    """The DuckDB file: ``<warehouse>/strata.duckdb`` of a workspace, a folder's, or the path."""
    if isinstance(ws_or_path, Workspace):
        return ws_or_path.warehouse / DB_FILE
    path = Path(ws_or_path)
    return path / DB_FILE if path.is_dir() or not path.suffix else path


def _connect(path: Path, read_only: bool, deadline: float) -> duckdb.DuckDBPyConnection:
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise StrataError(
                    f"cannot open {path}: {exc}. Another program (not a Strata job) has the "
                    f"file open; close it and retry"
                ) from None
            time.sleep(0.1)


@contextlib.contextmanager
def open_db(
    ws_or_path: Workspace | Path | str, write: bool = True, timeout: float = DEFAULT_TIMEOUT_S
) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A connection to the workspace DuckDB file, held under the file's lock.

    Yields None when reading (`write=False`) a file that does not exist yet.
    """
    path = db_path(ws_or_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with workspace_lock(path.parent, path.name, timeout=timeout, shared=not write):
        if not write and not path.exists():
            yield None
            return
        con = _connect(path, read_only=not write, deadline=time.monotonic() + timeout)
        try:
            yield con
        finally:
            con.close()


def has_table(con: duckdb.DuckDBPyConnection | None, table: str) -> bool:
    """True when the (open) workspace database holds `table`."""
    if con is None:
        return False
    query = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
    return bool(con.execute(query, [table]).fetchone()[0])
