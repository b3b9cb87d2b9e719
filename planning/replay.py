"""The point-in-time replay: the window, the snapshot before it, and demand through the policies.

Lost sales, lead times drawn per order (:func:`ml.simulate.simulate_inventory`), the same random
numbers for every policy set; outcomes per product, per segment and overall.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow.dataset as pads

from features.snapshots import list_snapshots, load_features, read_manifest
from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Workspace
from ml.config.policy import PolicyConfig
from ml.contracts import check_output
from ml.errors import StrataError
from ml.periods import last_complete_period, shift_period
from ml.segment_policies import SegmentPolicies
from ml.simulate import ReplenishmentPolicy, SimulationResult, simulate_inventory
from planning.policy_data import (
    demand_matrix,
    table_path,
)

__all__ = [
    "STEPS_PER_PERIOD",
    "PolicySet",
    "Replayer",
    "SimulationWindow",
    "common_products",
    "default_warmup",
    "launched_in_window",
    "newest_snapshot_day",
    "outcome_frame",
    "pit_features",
    "replay",
    "replayer",
    "replenishment_policy",
    "segment_outcomes",
    "simulation_window",
    "totals",
    "window_demand",
]


_DEFAULT_PERIODS = {"week": 52, "month": 12}


_DEFAULT_WARMUP = {"week": 13, "month": 3}


STEPS_PER_PERIOD = {"week": 7, "month": 30}  # days, near enough for a month


@dataclass(frozen=True)
class SimulationWindow:
    """The replayed periods and the snapshot the policies come from."""

    bucket: str
    first: date  # start of the first measured period
    periods: int
    warmup: int
    data_as_of: date  # the newest snapshot: where the data ends

    @property
    def policy_as_of(self) -> date:
        """The day before the window: the snapshot (and segments) the policies use."""
        return self.first - timedelta(days=1)

    @property
    def last(self) -> date:
        """Start of the last measured period."""
        return shift_period(self.first, self.periods - 1, self.bucket)

    @property
    def warmup_first(self) -> date:
        """Start of the first warm-up period."""
        return shift_period(self.first, -self.warmup, self.bucket)

    def describe(self) -> str:
        """The window in words."""
        unit = self.bucket + ("s" if self.periods != 1 else "")
        return (
            f"{self.periods} {unit} from {self.first.isoformat()} to "
            f"{(shift_period(self.last, 1, self.bucket) - timedelta(days=1)).isoformat()}, "
            f"policies as of {self.policy_as_of.isoformat()}, {self.warmup} warm-up "
            f"{self.bucket}s before"
        )


def newest_snapshot_day(ws: Workspace) -> date:
    """The day of the workspace's newest feature snapshot: the data a replay ends with."""
    dates = list_snapshots(ws)
    if not dates:
        raise StrataError(
            f"workspace '{ws.name}' has no feature snapshot; run `strata features build "
            f"--config <workspace yaml>` first"
        )
    return dates[-1]


def default_warmup(bucket: str) -> int:
    """Warm-up periods replayed before the measured ones: 13 weeks or 3 months."""
    return _DEFAULT_WARMUP[bucket]


def simulation_window(
    ws: Workspace,
    periods: int | None = None,
    warmup: int | None = None,
    data_as_of: date | None = None,
) -> SimulationWindow:
    """The last ``periods`` complete periods up to the newest snapshot (or ``data_as_of``)."""
    bucket = ws.calendar.bucket
    if data_as_of is None:
        data_as_of = newest_snapshot_day(ws)
    n = periods or _DEFAULT_PERIODS[bucket]
    w = default_warmup(bucket) if warmup is None else warmup
    if n < 1:
        raise StrataError(f"--weeks {n} must be at least 1 period")
    last = last_complete_period(data_as_of, bucket)
    first = shift_period(last, -(n - 1), bucket)
    return SimulationWindow(bucket, first, n, w, data_as_of)


def replenishment_policy(policies: pd.DataFrame) -> ReplenishmentPolicy:
    """The simulation's view of valid policy rows: (s, nQ), (R, s, nQ) or (R, S)."""
    pack = policies[C.PACK_SIZE].to_numpy(dtype=np.float64)
    return ReplenishmentPolicy.of(
        policies[C.REORDER_POINT].to_numpy(dtype=np.float64),
        policies[C.ORDER_QTY].to_numpy(dtype=np.float64),
        policies[C.REVIEW_PERIOD].to_numpy(dtype=np.float64),
        (policies[C.POLICY] == "(R, S)").to_numpy(),
        policies[C.LEAD_TIME].to_numpy(dtype=np.float64),
        policies[C.LEAD_TIME_SD].to_numpy(dtype=np.float64),
        moq=policies[C.MOQ].to_numpy(dtype=np.float64),
        pack_size=np.where(np.isfinite(pack) & (pack > 0), pack, 1.0),
    )


def _text(column: pd.Series) -> object:
    """A text column's values for a new frame: a "str" column's own array (no Python string per
    row: a stacked replay has millions), else its numpy values."""
    return column.array if isinstance(column.dtype, pd.StringDtype) else column.to_numpy()


def outcome_frame(
    policies: pd.DataFrame, result: SimulationResult, periods_per_year: float
) -> pd.DataFrame:
    """Per product: the achieved fill rate, cycle service, inventory value, turns, stockouts."""
    value = policies[C.UNIT_VALUE].to_numpy(dtype=np.float64)
    inv_value = result.avg_on_hand * value
    sales_value = result.sales * value
    annual = sales_value * periods_per_year / max(result.periods, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        turns = np.where(inv_value > 0, annual / inv_value, np.nan)
    return pd.DataFrame(
        {
            C.SKU_ID: _text(policies[C.SKU_ID]),
            SEGMENT: _text(policies[SEGMENT]),
            C.DEMAND_UNITS: result.demand,
            C.SALES_UNITS: result.sales,
            C.LOST_UNITS: result.lost,
            C.FILL_RATE: result.fill_rate,
            C.CYCLES: result.cycles,
            C.CYCLE_SERVICE_LEVEL: result.cycle_service_level,
            C.AVG_INVENTORY_UNITS: result.avg_on_hand,
            C.AVG_INVENTORY_VALUE: inv_value,
            C.SALES_VALUE: sales_value,
            C.TURNS: turns,
            C.STOCKOUT_PERIODS: result.stockout_periods,
            C.LONGEST_STOCKOUT: result.longest_stockout,
            C.ORDERS: result.orders,
        }
    )


def totals(frame: pd.DataFrame, periods: int, periods_per_year: float) -> dict[str, float]:
    demand = float(frame[C.DEMAND_UNITS].sum())
    cycles = float(frame[C.CYCLES].sum())
    inv = float(frame[C.AVG_INVENTORY_VALUE].sum())
    annual_sales = float(frame[C.SALES_VALUE].sum()) * periods_per_year / max(periods, 1)
    short = frame[C.CYCLES] * (1.0 - frame[C.CYCLE_SERVICE_LEVEL].fillna(1.0))
    return {
        C.PRODUCTS: len(frame),
        C.DEMAND_UNITS: demand,
        # summed per step, sales can exceed demand by a rounding error: a share stays <= 1
        C.FILL_RATE: min(float(frame[C.SALES_UNITS].sum()) / demand, 1.0) if demand > 0 else np.nan,
        C.CYCLE_SERVICE_LEVEL: 1.0 - float(short.sum()) / cycles if cycles > 0 else np.nan,
        C.AVG_INVENTORY_VALUE: inv,
        C.TURNS: annual_sales / inv if inv > 0 else np.nan,
        C.STOCKOUT_PERIODS: float(frame[C.STOCKOUT_PERIODS].mean()) if len(frame) else np.nan,
        C.LONGEST_STOCKOUT: float(frame[C.LONGEST_STOCKOUT].max()) if len(frame) else np.nan,
    }


def segment_outcomes(outcomes: pd.DataFrame, periods: int, periods_per_year: float) -> pd.DataFrame:
    """Per segment and overall ("all"): fill rate and cycle service achieved, average inventory
    value, turns, stockout periods per product (mean) and the longest stockout (max)."""
    rows = [
        {SEGMENT: name, **totals(part, periods, periods_per_year)}
        for name, part in outcomes.groupby(SEGMENT, sort=True)
    ]
    rows.append({SEGMENT: "all", **totals(outcomes, periods, periods_per_year)})
    return check_output(C.SIMULATION_SEGMENTS, pd.DataFrame(rows), "simulation")


def replay(
    policies: pd.DataFrame,
    demand: np.ndarray,
    warmup: np.ndarray | None,
    *,
    seed: int,
    lead_time_distribution: str,
    periods_per_year: float,
    steps_per_period: int = 1,
    groups: np.ndarray | None = None,
    demand_rows: np.ndarray | None = None,
) -> tuple[pd.DataFrame, SimulationResult]:
    """Simulate valid policy rows against demand (rows aligned, or each row's demand row in
    ``demand_rows``); the per-product outcomes."""
    result = simulate_inventory(
        demand,
        replenishment_policy(policies),
        warmup=warmup,
        steps_per_period=steps_per_period,
        seed=seed,
        lead_time_distribution=lead_time_distribution,
        groups=groups,
        unit_value=policies[C.UNIT_VALUE].to_numpy(dtype=np.float64),
        demand_rows=demand_rows,
    )
    return outcome_frame(policies, result, periods_per_year), result


def pit_features(ws: Workspace, day: date) -> pd.DataFrame:
    try:
        read_manifest(ws, day)
    except StrataError:
        raise StrataError(
            f"no snapshot as of {day.isoformat()} for the point-in-time replay: the policies must "
            f"come from what was known the day before the window. Build it with `strata features "
            f"build --config <workspace yaml> --as-of {day.isoformat()}` (`strata simulate` does "
            f"this itself)"
        ) from None
    return load_features(day, workspace=ws)


def window_demand(ws: Workspace, window: SimulationWindow, skus: list[str]):
    both = demand_matrix(
        ws, skus, window.warmup_first, window.warmup + window.periods, window.bucket
    )
    return both[:, window.warmup :], both[:, : window.warmup]


def common_products(sets: list[SegmentPolicies]) -> tuple[list[pd.DataFrame], int]:
    """Each set's valid rows restricted to the products every set has, in one order."""
    keys = [pd.Index(s.policies[C.SKU_ID]) for s in sets]
    keep = keys[0]
    for k in keys[1:]:
        if not k.equals(keep):  # most sets hold the same products in the same order
            keep = keep.intersection(k)
    order = keep.unique().sort_values()
    out = []
    for s, k in zip(sets, keys, strict=True):
        cols = [C.SKU_ID, *(c for c in s.policies.columns if c != C.SKU_ID)]
        # a set already in that order (the usual case) needs no take of every column
        rows = s.policies if k.equals(order) else s.policies.iloc[k.get_indexer(order)]
        out.append(rows[cols].reset_index(drop=True))
    flagged = len(set().union(*[set(s.flagged[C.SKU_ID]) for s in sets]) - set(order))
    return out, flagged


def launched_in_window(ws: Workspace, window: SimulationWindow, known: set[str]) -> int:
    """Products selling in the window that the point-in-time snapshot does not know."""
    cond = (
        (pads.field(C.KIND) == "sale")
        & (pads.field(C.PERIOD_START) >= pd.Timestamp(window.first))
        & (pads.field(C.PERIOD_START) < pd.Timestamp(shift_period(window.last, 1, window.bucket)))
    )
    skus = pads.dataset(table_path(ws, "demand")).to_table(columns=[C.SKU_ID], filter=cond)
    return len(set(skus.column(0).to_pylist()) - known)


@dataclass(frozen=True)
class PolicySet:
    """One set of policies replayed: its label, uniform level (None = segmented), outcomes."""

    label: str
    level: float | None
    outcomes: pd.DataFrame
    by_segment: pd.DataFrame
    policies: pd.DataFrame  # the rows replayed (inputs and numbers)

    @property
    def overall(self) -> pd.Series:
        """The "all" row of by_segment."""
        return self.by_segment.set_index(SEGMENT).loc["all"]


@dataclass(frozen=True)
class Replayer:
    """Replays policy frames on one window's demand with one seed: same numbers for every set."""

    demand: np.ndarray
    warm: np.ndarray
    periods: int
    periods_per_year: float
    steps: int
    seed: int
    distribution: str

    def __call__(self, frame: pd.DataFrame, label: str, level: float | None) -> PolicySet:
        outcomes, _ = replay(
            frame,
            self.demand,
            self.warm,
            seed=self.seed,
            lead_time_distribution=self.distribution,
            periods_per_year=self.periods_per_year,
            steps_per_period=self.steps,
        )
        by_segment = segment_outcomes(outcomes, self.periods, self.periods_per_year)
        return PolicySet(label, level, outcomes, by_segment, frame)

    def stacked(
        self, frames: list[pd.DataFrame], labels: list[str], levels: list[float | None]
    ) -> list[PolicySet]:
        """Several sets, each aligned with the demand, replayed in one simulation: the sets
        are extra rows on the same demand and random numbers, so each set's outcomes are
        exactly those of replaying it alone (``self(frame, ...)``). A product whose policy is
        the same in several sets is replayed once for them all (same policy, demand and random
        numbers: the same outcome)."""
        if not frames:
            return []
        n = self.demand.shape[0]
        bad = [label for frame, label in zip(frames, labels, strict=True) if len(frame) != n]
        if bad:
            raise StrataError(
                f"policy sets {', '.join(bad)} do not have one row per demand row ({n}): "
                "restrict them to the common products first (common_products)"
            )
        every = pd.concat([f[_REPLAYED_COLUMNS] for f in frames], ignore_index=True)
        policy = replenishment_policy(every)
        rows = np.tile(np.arange(n, dtype=np.intp), len(frames))
        first, code = _distinct_rows(policy, rows)
        result = simulate_inventory(
            self.demand,
            _policy_rows(policy, first),
            warmup=self.warm,
            steps_per_period=self.steps,
            seed=self.seed,
            lead_time_distribution=self.distribution,
            demand_rows=rows[first],
        )
        outcomes = outcome_frame(every, _result_rows(result, code), self.periods_per_year)
        out = []
        for i, (frame, label, level) in enumerate(zip(frames, labels, levels, strict=True)):
            mine = outcomes.iloc[i * n : (i + 1) * n].reset_index(drop=True)
            by_segment = segment_outcomes(mine, self.periods, self.periods_per_year)
            out.append(PolicySet(label, level, mine, by_segment, frame))
        return out


def _distinct_rows(
    policy: ReplenishmentPolicy, demand_rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each distinct (demand row, policy), ascending, and each row's distinct
    code (its distinct row's position there); NaNs equal, -0.0 equal to 0.0.

    Rows are told apart by one 64-bit hash of their bits, then checked against their group's
    first row; on a collision (never seen) the exact grouping of pandas is used instead."""
    keys = _key_bits(policy, demand_rows)
    code, _ = pd.factorize(_row_hashes(keys))  # numbered by first appearance
    seen = np.maximum.accumulate(code)
    first = np.flatnonzero(code > np.concatenate(([-1], seen[:-1])))  # each code's first row
    if all(np.array_equal(k[first][code], k) for k in keys):
        return first, code
    return _distinct_rows_exactly(keys)


def _key_bits(policy: ReplenishmentPolicy, demand_rows: np.ndarray) -> list[np.ndarray]:
    """The (demand row, policy) key of each row as 64-bit patterns: one NaN, one zero."""
    keys = [np.asarray(demand_rows).astype(np.uint64)]
    for f in _POLICY_FIELDS:
        value = getattr(policy, f)
        if value is None:
            continue
        v = np.asarray(value, dtype=np.float64) + 0.0  # -0.0 + 0.0 is 0.0
        keys.append(np.where(np.isnan(v), np.nan, v).view(np.uint64))
    return keys


def _row_hashes(keys: list[np.ndarray]) -> np.ndarray:
    """One 64-bit hash per row of the key columns (splitmix64's finaliser, chained)."""
    h = np.zeros(keys[0].size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in keys:
            h = (h ^ k) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(31)
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(27)
    return h


def _distinct_rows_exactly(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_distinct_rows` by pandas' exact grouping (codes by first appearance)."""
    frame = pd.DataFrame({i: k for i, k in enumerate(keys)})
    code = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    _, first = np.unique(code, return_index=True)
    return first, code


#: the columns a replay reads (replenishment_policy, outcome_frame): all the stacked copy holds
_REPLAYED_COLUMNS = [
    C.SKU_ID,
    SEGMENT,
    C.UNIT_VALUE,
    C.REORDER_POINT,
    C.ORDER_QTY,
    C.REVIEW_PERIOD,
    C.POLICY,
    C.LEAD_TIME,
    C.LEAD_TIME_SD,
    C.MOQ,
    C.PACK_SIZE,
]


_POLICY_FIELDS = (
    "reorder_point",
    "order_qty",
    "review_period",
    "order_up_to",
    "lead_time",
    "lead_time_sd",
    "moq",
    "pack_size",
)


def _policy_rows(policy: ReplenishmentPolicy, rows: np.ndarray) -> ReplenishmentPolicy:
    """The policy of the given rows only."""
    return ReplenishmentPolicy(
        *(None if getattr(policy, f) is None else getattr(policy, f)[rows] for f in _POLICY_FIELDS)
    )


def _result_rows(result: SimulationResult, rows: np.ndarray) -> SimulationResult:
    """The per-product totals of the given rows (group series and records are dropped)."""
    per_row = (
        "demand",
        "sales",
        "lost",
        "avg_on_hand",
        "stockout_periods",
        "longest_stockout",
        "cycles",
        "cycles_with_stockout",
        "orders",
    )
    return SimulationResult(result.periods, *(getattr(result, f)[rows] for f in per_row))


def replayer(
    ws: Workspace, window: SimulationWindow, config: PolicyConfig, first: pd.DataFrame
) -> Replayer:
    sim = config.simulation
    demand, warm = window_demand(ws, window, first[C.SKU_ID].tolist())
    return Replayer(
        demand=demand,
        warm=warm,
        periods=window.periods,
        periods_per_year=float(first[C.PERIODS_PER_YEAR].iloc[0]) if len(first) else 52.0,
        steps=sim.steps_per_period or STEPS_PER_PERIOD[window.bucket],
        seed=sim.seed,
        distribution=sim.lead_time_distribution,
    )
