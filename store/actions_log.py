"""The actions log: ``<warehouse>/monitoring/actions.parquet``, what each refresh's actions stage
did (retrain, gates, staging, shadow, champion, probation, rollback), appended per refresh."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ml import columns as C
from ml.config import Workspace
from store.refresh_table import append_refresh_rows, read_refresh_table, refresh_table_path

__all__ = ["ACTIONS_COLUMNS", "ACTIONS_FILE", "append_actions", "read_actions"]

ACTIONS_FILE = "actions.parquet"
ACTIONS_COLUMNS = [
    "refresh_id",
    "step",  # 1, 2, ... within the refresh
    "occurred_at",
    C.AS_OF,
    # none | retrain | staging | shadow | champion | probation | rollback | undo | rescore | policies
    "action",
    "outcome",  # done | failed | waiting | passed | none
    C.MODEL_VERSION,
    "rule",  # the fired rule(s) that started it, comma-separated
    C.WHY,
]


def _path(ws: Workspace) -> Path:
    return refresh_table_path(ws, ACTIONS_FILE)


def read_actions(ws: Workspace) -> pd.DataFrame:
    """Every action row, oldest refresh first (empty before the first actions stage)."""
    frame = read_refresh_table(_path(ws), ACTIONS_COLUMNS, (C.AS_OF,))
    return frame.sort_values(["refresh_id", "step"], kind="stable").reset_index(drop=True)


def append_actions(ws: Workspace, rows: pd.DataFrame) -> Path:
    """Add one refresh's rows (replacing earlier rows of the same refresh); returns the path."""
    return append_refresh_rows(_path(ws), rows, ACTIONS_COLUMNS, (C.AS_OF,))
