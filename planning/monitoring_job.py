"""The monitoring stage of `strata refresh`: measure the refresh against the previous one, store it.

Reads the refresh's snapshot and assignments, the previous refresh's snapshot and segment mix
(from the monitoring table), takes the KPI judgements the kpis stage just made, computes the
rows (ml.monitoring), appends them to the monitoring table and redraws the trend chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from features.snapshots import list_snapshots, load_features
from ml import columns as C
from ml.attributes import attribute_names
from ml.config import Workspace
from ml.config.operations import MonitoringConfig
from ml.config.scoring import ScoringConfig
from ml.monitoring import ALL, REFRESH_ID, SHARE, monitoring_rows
from planning.monitoring_chart import draw_monitoring_chart
from serving.runs import main_sinks
from store.monitoring_table import append_monitoring, read_monitoring
from store.sinks import read_table

__all__ = ["MonitoringResult", "monitor_refresh"]


@dataclass(frozen=True)
class MonitoringResult:
    """The rows one refresh added to the monitoring table, and where table and chart are."""

    rows: pd.DataFrame
    table: Path
    chart: Path


def _previous(ws: Workspace, refresh_id: str) -> tuple[date | None, pd.Series | None]:
    """The previous refresh's snapshot date and share per segment (None, None on the first)."""
    table = read_monitoring(ws)
    earlier = table[table[REFRESH_ID] < refresh_id]
    if earlier.empty:
        return None, None
    last = earlier[earlier[REFRESH_ID] == earlier[REFRESH_ID].max()]
    segs = last[last[C.SEGMENT] != ALL]
    return last[C.AS_OF].iloc[0], segs.set_index(C.SEGMENT)[SHARE].astype(float)


def monitor_refresh(
    ws: Workspace,
    refresh_id: str,
    as_of: date,
    *,
    scoring: ScoringConfig,
    config: MonitoringConfig,
    kpis: pd.DataFrame | None,
) -> MonitoringResult:
    """Measure refresh `refresh_id` (snapshot `as_of`), append its rows, redraw the chart."""
    current = load_features(as_of, workspace=ws)
    previous_as_of, previous_mix = _previous(ws, refresh_id)
    previous = None
    if previous_as_of is not None and previous_as_of in list_snapshots(ws):
        previous = load_features(previous_as_of, workspace=ws)
    assignments = read_table(main_sinks(ws, scoring)[0], C.ASSIGNMENTS, as_of=as_of)
    skip = set(config.exclude_attributes)
    attributes = [a for a in attribute_names() if a in current.columns and a not in skip]
    rows = monitoring_rows(
        refresh_id,
        as_of,
        current=current,
        previous=previous,
        previous_as_of=previous_as_of,
        previous_mix=previous_mix,
        assignments=assignments,
        kpis=kpis,
        attributes=attributes,
        config=config,
    )
    table = append_monitoring(ws, rows)
    chart = draw_monitoring_chart(
        read_monitoring(ws),
        ws.warehouse / config.chart,
        f"Monitoring of {ws.name}",
        config.thresholds,
    )
    return MonitoringResult(rows, table, chart)
