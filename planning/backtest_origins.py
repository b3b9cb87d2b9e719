"""The backtest's origins and their windows, and the segments as of each: the model's or the rules'."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as pads

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
from ml.errors import StrataError
from ml.periods import last_complete_period, shift_period
from planning.policy_data import table_path
from planning.replay import (
    SimulationWindow,
    default_warmup,
    newest_snapshot_day,
)
from planning.segment_source import (
    RULES_VERSION,
    SegmentSource,
    family_to_products,
    segment_assignments,
)
from serving.predict import predict_snapshot

__all__ = [
    "Segmenter",
    "backtest_windows",
    "calibration_window",
    "model_segmenter",
    "origin_windows",
    "rule_segmenter",
]

#: (as-of snapshot, its day) -> (sku_id, segment, ... per product; where the segments came from)
Segmenter = Callable[[pd.DataFrame, date], tuple[pd.DataFrame, SegmentSource]]


def _periods_between(first: date, later: date, bucket: str) -> int:
    """Whole periods from the period starting ``first`` to the one starting ``later``."""
    if bucket == "week":
        return (later - first).days // 7
    return (later.year - first.year) * 12 + later.month - first.month


def origin_windows(
    bucket: str,
    data_as_of: date,
    history_first: date,
    *,
    origins: int,
    spacing: int,
    periods: int,
    warmup: int,
) -> list[SimulationWindow]:
    """The origins' windows, oldest first: the newest ends at the last complete period.

    Each origin needs ``warmup`` periods of history before it and ``periods`` after it; one
    that lacks them raises a StrataError naming it, the periods needed and had, and the fix.
    """
    last = last_complete_period(data_as_of, bucket)
    windows = []
    for i in range(origins):
        first = shift_period(last, -(periods - 1) - i * spacing, bucket)
        had = _periods_between(history_first, first, bucket)
        if had < warmup:
            raise StrataError(
                f"backtest origin {first.isoformat()} (origin {i + 1} of {origins}, policies as "
                f"of {(first - timedelta(days=1)).isoformat()}) needs {warmup} "
                f"{bucket}s of demand history before it for the warm-up and {periods} after it, "
                f"but the demand starts {history_first.isoformat()}: {max(had, 0)} {bucket}s "
                f"available before it. Fix: fewer origins (backtest.origins: {origins}), a "
                f"smaller backtest.spacing_periods ({spacing}) or backtest.periods ({periods}), "
                f"or fewer simulation.warmup_periods ({warmup}) in configs/policy.yaml"
            )
        windows.append(SimulationWindow(bucket, first, periods, warmup, data_as_of))
    return windows[::-1]


def _history_first(ws: Workspace) -> date:
    """The first period with a sale in the demand table."""
    path = table_path(ws, "demand")
    table = pads.dataset(path).to_table(
        columns=[C.PERIOD_START], filter=pads.field(C.KIND) == "sale"
    )
    if table.num_rows == 0:
        raise StrataError(
            f"workspace '{ws.name}' has no sales in {path}; build it with `strata features build`"
        )
    return pd.Timestamp(pc.min(table.column(0)).as_py()).date()


def backtest_windows(
    ws: Workspace, config: PolicyConfig, data_as_of: date | None = None
) -> list[SimulationWindow]:
    """The workspace's origin windows from configs/policy.yaml (data: the newest snapshot)."""
    if data_as_of is None:
        data_as_of = newest_snapshot_day(ws)
    bt, sim = config.backtest, config.simulation
    bucket = ws.calendar.bucket
    warmup = sim.warmup_periods if sim.warmup_periods is not None else default_warmup(bucket)
    return origin_windows(
        bucket,
        data_as_of,
        _history_first(ws),
        origins=bt.origins,
        spacing=bt.spacing_periods,
        periods=bt.periods,
        warmup=warmup,
    )


def calibration_window(
    ws: Workspace, config: PolicyConfig, windows: list[SimulationWindow]
) -> SimulationWindow | None:
    """The window one spacing before the first origin, whose replay calibrates the first origin's
    plan (None when ``backtest.calibrate`` is off or the history is too short for its warm-up)."""
    if not config.backtest.calibrate or not windows:
        return None
    first = windows[0]
    start = shift_period(first.first, -config.backtest.spacing_periods, first.bucket)
    if _periods_between(_history_first(ws), start, first.bucket) < first.warmup:
        return None
    return SimulationWindow(first.bucket, start, first.periods, first.warmup, first.data_as_of)


def rule_segmenter(ws: Workspace, catalogue: Catalogue) -> Segmenter:
    """Segments by the catalogue's rules on each as-of snapshot (no model judged)."""

    def segments(features: pd.DataFrame, day: date) -> tuple[pd.DataFrame, SegmentSource]:
        got, _ = segment_assignments(ws, features, catalogue, [], day)
        detail = f"the catalogue's rules on the snapshot as of {day.isoformat()}"
        return got, SegmentSource("rule", day, RULES_VERSION, detail)

    return segments


def model_segmenter(
    ws: Workspace, catalogue: Catalogue, model: Any, version: str, name: str = "model"
) -> Segmenter:
    """Segments by scoring each as-of snapshot with a loaded pyfunc (raw proposals: no
    hysteresis, no overrides — the model itself is judged); products it does not score take
    the catalogue's rules."""

    def segments(features: pd.DataFrame, day: date) -> tuple[pd.DataFrame, SegmentSource]:
        where = f"the snapshot as of {day.isoformat()} of workspace '{ws.name}'"
        pred = predict_snapshot(model, features, where, f"{name} v{version}")
        got = pd.DataFrame(
            {
                C.SKU_ID: pred[C.SKU_ID].astype("str").to_numpy(),
                SEGMENT: pred[C.SEGMENT].astype("str").to_numpy(),
                C.ASSIGNMENT_METHOD: "model",
                C.SEGMENT_MODEL_VERSION: str(version),
                C.REASONS: "",
            }
        )
        got = family_to_products(got, features)
        missing = ~features[C.SKU_ID].astype("str").isin(got[C.SKU_ID])
        detail = f"{name} v{version} scoring the snapshot as of {day.isoformat()}"
        if missing.any():
            ruled, _ = segment_assignments(ws, features.loc[missing], catalogue, [], day)
            got = pd.concat([got, ruled], ignore_index=True)
            detail += f"; {int(missing.sum())} product(s) it did not score take the rules"
        return got, SegmentSource("model", day, str(version), detail)

    return segments
