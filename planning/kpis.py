"""`strata kpis`: each segment's KPIs against its targets, alerts, re-segmentation proposals.

Measured from the **inventory** table (on-hand history) when the company provides counts for the
latest period, else from a **simulation** of the newest policies over the same recent periods —
and labelled so. From on-hand counts (sales are recorded, lost sales are not):

- fill rate (proxy): demand in periods that *began* with stock on hand / all demand;
- a stockout period: one that *ended* with nothing on hand;
- inventory value: on hand at period end x unit value.

From the simulation the fill rate and stockouts are exact (lost sales are simulated). Targets and
tolerances: :mod:`ml.kpis` and the ``kpis:`` section of configs/policy.yaml. Alerts are written to
table ``kpi_alerts`` of the workspace DuckDB file (one set per evaluation date and source,
replaced on a re-run) and returned for printing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from features.snapshots import list_snapshots
from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.policy import KpiConfig, PolicyConfig
from ml.config.scoring import ScoringConfig
from ml.contracts import check_output
from ml.errors import StrataError
from ml.kpis import drifted_share, judge_kpis, kpi_history, plan_targets
from ml.periods import last_complete_period, shift_period
from ml.simulate import simulate_inventory
from planning.policy_data import (
    demand_matrix,
    on_hand_matrix,
)
from planning.policy_job import build_policies
from planning.replay import STEPS_PER_PERIOD, replenishment_policy
from serving.runs import main_sinks
from store.db import has_table, open_db
from store.sinks import read_table

__all__ = ["KpiReport", "read_alerts", "segment_kpis", "write_alerts"]

_SOURCE_WORDS = {
    "inventory": "measured from the inventory table (on-hand history)",
    "simulation": "SIMULATED: the company provides no on-hand history for these periods, so the "
    "newest policies were replayed on the recent demand",
}
_ALERT_COLUMNS = [
    C.ALERT_ID,
    "raised_at",
    "workspace",
    C.AS_OF,
    C.KPI_SOURCE,
    SEGMENT,
    C.KPI,
    C.VALUE,
    C.TARGET,
    C.TOLERANCE,
    "periods_breached",
    C.PROPOSAL,
    C.CAUSE,
]


@dataclass(frozen=True)
class KpiReport:
    """Segment KPIs at the newest complete period, their targets and the alerts raised."""

    as_of: date  # last day of the newest period measured
    source: str  # inventory | simulation
    source_detail: str
    policies_detail: str
    table: pd.DataFrame  # segment, kpi, value, target, tolerance, breached, periods_breached, ...
    alerts: pd.DataFrame
    history: pd.DataFrame


def _newest_policies(ws: Workspace, scoring: ScoringConfig, catalogue: Catalogue, config):
    sinks = main_sinks(ws, scoring)
    try:
        policies = read_table(sinks[0], C.POLICIES)
        day = pd.Timestamp(policies[C.AS_OF].iloc[0]).date() if len(policies) else None
        return policies, f"policies run as of {day} ({len(policies):,} products)"
    except (StrataError, IndexError):
        build = build_policies(ws, catalogue=catalogue, scoring=scoring, config=config, write=False)
        return build.policies, (
            f"no policy run in the sink: policies computed in memory as of {build.as_of} "
            f"({build.source.detail}); run `strata policy build` to store them"
        )


def _inventory_measures(ws: Workspace, skus: list[str], first: date, span: int, bucket: str):
    """(served, on hand at end, stocked-out flags, demand) from counts, or None without counts."""
    before = shift_period(first, -1, bucket)
    counts = on_hand_matrix(ws, skus, before, span + 1, bucket)
    if counts is None or not np.isfinite(counts[:, -1]).any():
        return None
    demand = demand_matrix(ws, skus, first, span, bucket)
    end = counts[:, 1:]
    start = counts[:, :-1]
    counted = np.isfinite(end).any(axis=1)
    began_in_stock = np.where(np.isfinite(start), start > 0, True)
    served = demand * began_in_stock
    stocked_out = np.isfinite(end) & (end <= 0)
    return served[counted], end[counted], stocked_out[counted], demand[counted], counted


def segment_kpis(
    ws: Workspace,
    *,
    catalogue: Catalogue,
    scoring: ScoringConfig,
    config: PolicyConfig,
    write: bool = True,
    progress: Callable[[str], None] | None = None,
) -> KpiReport:
    """Every segment's KPIs over the trailing window, judged against targets (module docstring)."""
    say = progress or (lambda _m: None)
    kc = config.kpis
    dates = list_snapshots(ws)
    if not dates:
        raise StrataError(f"workspace '{ws.name}' has no snapshot; run `strata features build`")
    bucket = ws.calendar.bucket
    last = last_complete_period(dates[-1], bucket)
    span = kc.window_periods + kc.persist_periods - 1
    first = shift_period(last, -(span - 1), bucket)
    say("reading the policies")
    policies, policies_detail = _newest_policies(ws, scoring, catalogue, config)
    if policies.empty:
        raise StrataError("there are no valid policies to measure; run `strata policy build`")
    skus = policies[C.SKU_ID].astype("str").tolist()
    ppy = float(policies[C.PERIODS_PER_YEAR].iloc[0])
    value = policies[C.UNIT_VALUE].fillna(0.0).to_numpy(dtype=np.float64)
    say("reading on-hand history")
    measured = _inventory_measures(ws, skus, first, span, bucket)
    if measured is not None:
        served, on_hand, stocked_out, demand, counted = measured
        source = "inventory"
        segs = policies[SEGMENT].to_numpy()[counted]
        value = value[counted]
        detail = (
            _SOURCE_WORDS[source] + f"; {int(counted.sum()):,} of {len(skus):,} products counted"
        )
    else:
        sim = config.simulation
        warm = sim.warmup_periods if sim.warmup_periods is not None else 13
        say("no on-hand history: simulating the newest policies")
        both = demand_matrix(ws, skus, shift_period(first, -warm, bucket), warm + span, bucket)
        demand = both[:, warm:]
        result = simulate_inventory(
            demand,
            replenishment_policy(policies),
            warmup=both[:, :warm],
            steps_per_period=sim.steps_per_period or STEPS_PER_PERIOD[bucket],
            seed=sim.seed,
            lead_time_distribution=sim.lead_time_distribution,
            record=True,
        )
        served, on_hand = result.period_sales, result.period_on_hand
        stocked_out = result.period_short
        source, segs = "simulation", policies[SEGMENT].to_numpy()
        detail = _SOURCE_WORDS[source]
    history = kpi_history(
        segs,
        demand,
        served,
        on_hand,
        stocked_out,
        value,
        window=kc.window_periods,
        periods_per_year=ppy,
        ends=list(range(span - kc.persist_periods, span)),
    )
    rows = slice(None) if measured is None else counted
    drifted = _drifted(policies, rows, segs, demand, kc)
    table = judge_kpis(
        history, plan_targets(policies), kc.tolerance, kc.persist_periods, drifted, kc.fit_share
    )
    as_of = shift_period(last, 1, bucket) - timedelta(days=1)
    alerts = _alerts(ws, table, as_of, source)
    if write and len(alerts):
        write_alerts(ws, alerts)
    return KpiReport(as_of, source, detail, policies_detail, table, alerts, history)


def _drifted(
    policies: pd.DataFrame,
    rows: slice | np.ndarray,
    segs: np.ndarray,
    demand: np.ndarray,
    kc: KpiConfig,
) -> dict[str, float]:
    """Per segment, the share of the measured products whose demand moved (ml.kpis)."""
    return drifted_share(
        segs,
        _column(policies, C.DEMAND_MEAN)[rows],
        _column(policies, C.DEMAND_SD)[rows],
        _column(policies, "adi")[rows],
        demand[:, -kc.window_periods :],
        mean_change=kc.drift_mean_change,
        adi_cutoff=kc.adi_cutoff,
    )


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as floats, NaN when the frame lacks it."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)


def _alerts(ws: Workspace, table: pd.DataFrame, as_of: date, source: str) -> pd.DataFrame:
    hit = table[table[C.BREACHED]]
    now = datetime.now(UTC).replace(tzinfo=None)
    return pd.DataFrame(
        {
            C.ALERT_ID: [uuid.uuid4().hex for _ in range(len(hit))],
            "raised_at": pd.Series([now] * len(hit), dtype="datetime64[us]"),
            "workspace": ws.name,
            C.AS_OF: pd.Series([pd.Timestamp(as_of)] * len(hit), dtype="datetime64[us]"),
            C.KPI_SOURCE: source,
            SEGMENT: hit[SEGMENT].to_numpy(),
            C.KPI: hit[C.KPI].to_numpy(),
            C.VALUE: hit[C.VALUE].to_numpy(dtype=np.float64),
            C.TARGET: hit[C.TARGET].to_numpy(dtype=np.float64),
            C.TOLERANCE: hit[C.TOLERANCE].to_numpy(dtype=np.float64),
            "periods_breached": hit["periods_breached"].to_numpy(dtype=np.int64),
            C.PROPOSAL: hit[C.PROPOSAL].astype("str").to_numpy(),
            C.CAUSE: hit[C.CAUSE].astype("str").to_numpy(),
        },
        columns=_ALERT_COLUMNS,
    )


_DDL = f"""
CREATE TABLE IF NOT EXISTS {C.KPI_ALERTS} (
    {C.ALERT_ID} VARCHAR PRIMARY KEY,
    raised_at TIMESTAMP NOT NULL,
    workspace VARCHAR NOT NULL,
    {C.AS_OF} TIMESTAMP NOT NULL,
    {C.KPI_SOURCE} VARCHAR NOT NULL,
    {SEGMENT} VARCHAR NOT NULL,
    {C.KPI} VARCHAR NOT NULL,
    {C.VALUE} DOUBLE,
    {C.TARGET} DOUBLE,
    {C.TOLERANCE} DOUBLE,
    periods_breached BIGINT,
    {C.PROPOSAL} VARCHAR,
    {C.CAUSE} VARCHAR
)
"""
# workspaces written before alerts carried their cause gain the column, empty
_MIGRATE = f"ALTER TABLE {C.KPI_ALERTS} ADD COLUMN IF NOT EXISTS {C.CAUSE} VARCHAR"


def write_alerts(ws: Workspace, alerts: pd.DataFrame) -> int:
    """Replace the alerts of the same evaluation dates and sources in ``kpi_alerts`` (one
    transaction); returns the rows written."""
    alerts = check_output(C.KPI_ALERTS, alerts, "KPI job")
    with open_db(ws) as con:
        assert con is not None
        con.execute(_DDL)
        con.execute(_MIGRATE)
        con.execute("BEGIN TRANSACTION")
        try:
            for (day, source), _ in alerts.groupby([C.AS_OF, C.KPI_SOURCE]):
                con.execute(
                    f"DELETE FROM {C.KPI_ALERTS} WHERE {C.AS_OF} = ? AND {C.KPI_SOURCE} = ?",
                    [pd.Timestamp(day).to_pydatetime(), source],
                )
            con.register("new_alerts", alerts[_ALERT_COLUMNS])
            con.execute(f"INSERT INTO {C.KPI_ALERTS} SELECT * FROM new_alerts")
            con.unregister("new_alerts")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return len(alerts)


def read_alerts(ws: Workspace) -> pd.DataFrame:
    """Every alert written so far, newest first (empty when none)."""
    with open_db(ws, write=False) as con:
        if not has_table(con, C.KPI_ALERTS):
            return pd.DataFrame(columns=_ALERT_COLUMNS)
        return con.execute(
            f"SELECT * FROM {C.KPI_ALERTS} ORDER BY raised_at DESC, {SEGMENT}, {C.KPI}"
        ).df()
