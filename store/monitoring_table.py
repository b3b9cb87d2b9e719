"""The monitoring table: ``<warehouse>/monitoring/monitoring.parquet``, appended per refresh.

A write replaces the rows of its refresh (a re-run of the stage) and appends the others'
unchanged, publishing the new file by an atomic rename: a reader sees the old table or the new
one, never a half-written one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ml import columns as C
from ml.config import Workspace
from ml.monitoring import MONITORING_COLUMNS, PREVIOUS_AS_OF, REFRESH_ID

__all__ = ["MONITORING_FILE", "append_monitoring", "monitoring_path", "read_monitoring"]

MONITORING_FILE = "monitoring.parquet"


def monitoring_path(ws: Workspace) -> Path:
    """Where the workspace's monitoring table lives."""
    return ws.warehouse / "monitoring" / MONITORING_FILE


def read_monitoring(ws: Workspace) -> pd.DataFrame:
    """Every monitoring row, oldest refresh first (an empty table before the first refresh)."""
    path = monitoring_path(ws)
    if not path.is_file():
        return pd.DataFrame(columns=MONITORING_COLUMNS)
    frame = pd.read_parquet(path)
    for col in (C.AS_OF, PREVIOUS_AS_OF):
        frame[col] = pd.to_datetime(frame[col]).dt.date
    return frame.sort_values([REFRESH_ID], kind="stable").reset_index(drop=True)


def append_monitoring(ws: Workspace, rows: pd.DataFrame) -> Path:
    """Add one refresh's rows (replacing any earlier rows of the same refresh); returns the path."""
    path = monitoring_path(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = read_monitoring(ws)
    ids = set(rows[REFRESH_ID])
    kept = old[~old[REFRESH_ID].isin(ids)]
    frame = rows if kept.empty else pd.concat([kept, rows], ignore_index=True)
    frame = frame[MONITORING_COLUMNS].copy()
    for col in (C.AS_OF, PREVIOUS_AS_OF):
        frame[col] = pd.to_datetime(frame[col])
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path
