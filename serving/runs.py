"""Where the scoring runs are: the configured sinks, and the newest assignments in them."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from ml import columns as C
from ml.columns import AS_OF
from ml.config import Workspace
from ml.config.scoring import ScoringConfig, resolve_sink
from store.sinks import list_runs, read_table

__all__ = ["current_assignments", "current_runs", "main_sinks", "previous_assignments"]


def main_sinks(ws: Workspace, config: ScoringConfig, shadow: bool = False) -> list[Any]:
    """The configured sinks (or shadow sinks) with paths read from the warehouse."""
    sinks = config.shadow.sinks if shadow else config.sinks
    return [resolve_sink(s, ws.warehouse) for s in sinks]


def current_runs(sink: Any) -> pd.DataFrame:
    """The sink's current runs that hold assignments (one row per run)."""
    runs = list_runs(sink)
    if runs.empty:
        return runs
    has = runs["tables"].astype("str").str.split(",").map(lambda t: C.ASSIGNMENTS in t)
    return runs[(runs[C.STATUS] == "current") & has]


def previous_assignments(
    sink: Any, as_of: date, model_version: str | None = None
) -> tuple[pd.DataFrame, str | None]:
    """The newest assignments written for a snapshot before `as_of` (and a label saying which).

    With `model_version`, only that version's. Empty (and None) when there is none.
    """
    runs = current_runs(sink)
    if not runs.empty:
        runs = runs[runs[AS_OF] < pd.Timestamp(as_of)]
        if model_version is not None:
            runs = runs[runs[C.MODEL_VERSION].astype("str") == str(model_version)]
    if runs.empty:
        return pd.DataFrame(), None
    last = runs.sort_values([AS_OF, "written_at"], kind="stable").iloc[-1]
    day = pd.Timestamp(last[AS_OF]).date()
    frame = read_table(sink, C.ASSIGNMENTS, as_of=day, model_version=str(last[C.MODEL_VERSION]))
    return frame, f"{day.isoformat()} v{last[C.MODEL_VERSION]} (run {last[C.RUN_ID]})"


def current_assignments(
    sink: Any, as_of: date | None = None, model_version: str | None = None
) -> pd.DataFrame | None:
    """The newest assignments in `sink` (of `as_of` and/or `model_version`), or None."""
    runs = current_runs(sink)
    if runs.empty:
        return None
    if as_of is not None:
        runs = runs[runs[AS_OF] == pd.Timestamp(as_of)]
    if model_version is not None:
        runs = runs[runs[C.MODEL_VERSION].astype("str") == str(model_version)]
    if runs.empty:
        return None
    last = runs.sort_values([AS_OF, "written_at"], kind="stable").iloc[-1]
    return read_table(
        sink,
        C.ASSIGNMENTS,
        as_of=pd.Timestamp(last[AS_OF]).date(),
        model_version=str(last[C.MODEL_VERSION]),
    )
