"""A table under ``<warehouse>/monitoring/`` keyed by refresh: appended per refresh, atomically.

A write replaces the rows of its refresh (a re-run of the stage) and keeps the others'
unchanged, publishing the new file by an atomic rename: a reader sees the old table or the new
one, never a half-written one. The monitoring table and the actions log are two of them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ml.config import Workspace

__all__ = ["append_refresh_rows", "read_refresh_table", "refresh_table_path"]

REFRESH_ID = "refresh_id"


def refresh_table_path(ws: Workspace, file_name: str) -> Path:
    """Where the workspace's table `file_name` lives."""
    return ws.warehouse / "monitoring" / file_name


def read_refresh_table(
    path: Path, columns: Sequence[str], dates: Sequence[str] = ()
) -> pd.DataFrame:
    """Every row, oldest refresh first (empty with `columns` before the first write); `dates`
    are read back as datetime.date; a column added since the file was written reads empty."""
    if not path.is_file():
        return pd.DataFrame(columns=list(columns))
    frame = pd.read_parquet(path)
    for col in columns:
        if col not in frame.columns:
            frame[col] = None
    for col in dates:
        frame[col] = pd.to_datetime(frame[col]).dt.date
    return frame.sort_values([REFRESH_ID], kind="stable").reset_index(drop=True)


def append_refresh_rows(
    path: Path, rows: pd.DataFrame, columns: Sequence[str], dates: Sequence[str] = ()
) -> Path:
    """Add one refresh's rows (replacing earlier rows of the same refresh); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    old = read_refresh_table(path, columns, dates)
    kept = old[~old[REFRESH_ID].isin(set(rows[REFRESH_ID]))]
    frame = rows if kept.empty else pd.concat([kept, rows], ignore_index=True)
    frame = frame[list(columns)].copy()
    for col in dates:
        frame[col] = pd.to_datetime(frame[col])
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path
