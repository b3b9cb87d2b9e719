"""The monitoring table: ``<warehouse>/monitoring/monitoring.parquet``, appended per refresh
(store.refresh_table: a re-run replaces its refresh's rows, published by an atomic rename)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ml import columns as C
from ml.config import Workspace
from ml.monitoring import MONITORING_COLUMNS, PREVIOUS_AS_OF
from store.refresh_table import append_refresh_rows, read_refresh_table, refresh_table_path

__all__ = ["MONITORING_FILE", "append_monitoring", "monitoring_path", "read_monitoring"]

MONITORING_FILE = "monitoring.parquet"
_DATES = (C.AS_OF, PREVIOUS_AS_OF)


def monitoring_path(ws: Workspace) -> Path:
    """Where the workspace's monitoring table lives."""
    return refresh_table_path(ws, MONITORING_FILE)


def read_monitoring(ws: Workspace) -> pd.DataFrame:
    """Every monitoring row, oldest refresh first (an empty table before the first refresh)."""
    return read_refresh_table(monitoring_path(ws), MONITORING_COLUMNS, _DATES)


def append_monitoring(ws: Workspace, rows: pd.DataFrame) -> Path:
    """Add one refresh's rows (replacing any earlier rows of the same refresh); returns the path."""
    return append_refresh_rows(monitoring_path(ws), rows, MONITORING_COLUMNS, _DATES)
