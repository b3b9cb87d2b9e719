"""Replay the last periods of real demand through every product's policy, point in time.

``simulate_policies(ws)``:

1. **Window.** The last N complete periods of the newest snapshot's data (52 weeks, or 12 months
   for a monthly workspace), and W warm-up periods before them.
2. **Point in time.** Policies come from the snapshot as of the day before the window (it must
   exist: `strata simulate` builds it when missing) and from the segments known then: the
   scoring sink's assignments as of that day or earlier, else the catalogue's rules on that
   snapshot. They are computed in memory and never written.
3. **Replay** (:func:`ml.simulate.simulate_inventory`): lost sales, lead times drawn per order
   from a gamma with each product's mean and sd, the same random numbers for every policy set.
4. **Baseline.** The same formulas with one service level for every product (the
   demand-weighted average of the segment targets, of one type), plus a sweep of uniform levels
   that traces the uniform trade-off curve: the uniform inventory that reaches the segmented fill
   rate is read off it, which is what "X% less inventory for the same fill rate" means.
5. **Report** (:func:`write_simulation_report`): markdown and a PNG trade-off chart under
   ``<warehouse>/reports/``.

Products enter the comparison only when every policy set has a valid policy for them (products
launched inside the window have none at its start; flagged products have none); both counts are
reported. ``policy_impact`` runs the same replay for two assignment sets (candidate, champion)
and returns the gate metrics ``policy_inventory_value`` and ``policy_fill_rate``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
from ml.config.scoring import ScoringConfig
from ml.errors import StrataError
from ml.periods import last_complete_period, shift_period
from ml.segment_policies import SegmentPolicies
from ml.simulate import ReplenishmentPolicy, SimulationResult, simulate_inventory
from planning.policy_data import (
    demand_matrix,
    workspace_sinks,
)
from planning.policy_job import SegmentSource, compute_policies, segment_assignments

__all__ = [
    "GATE_METRICS",
    "STEPS_PER_PERIOD",
    "PolicySet",
    "SimulationReport",
    "SimulationWindow",
    "outcome_frame",
    "policy_impact",
    "replay",
    "replenishment_policy",
    "segment_outcomes",
    "simulate_policies",
    "simulation_window",
    "write_simulation_report",
]

GATE_METRICS = ("policy_inventory_value", "policy_fill_rate")
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


def simulation_window(
    ws: Workspace,
    periods: int | None = None,
    warmup: int | None = None,
    data_as_of: date | None = None,
) -> SimulationWindow:
    """The last ``periods`` complete periods up to the newest snapshot (or ``data_as_of``)."""
    from features.snapshots import list_snapshots

    bucket = ws.calendar.bucket
    if data_as_of is None:
        dates = list_snapshots(ws)
        if not dates:
            raise StrataError(
                f"workspace '{ws.name}' has no feature snapshot; run `strata features build "
                f"--config <workspace yaml>` first"
            )
        data_as_of = dates[-1]
    n = periods or _DEFAULT_PERIODS[bucket]
    w = _DEFAULT_WARMUP[bucket] if warmup is None else warmup
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
            C.SKU_ID: policies[C.SKU_ID].to_numpy(),
            SEGMENT: policies[SEGMENT].to_numpy(),
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


def _totals(frame: pd.DataFrame, periods: int, periods_per_year: float) -> dict[str, float]:
    demand = float(frame[C.DEMAND_UNITS].sum())
    cycles = float(frame[C.CYCLES].sum())
    inv = float(frame[C.AVG_INVENTORY_VALUE].sum())
    annual_sales = float(frame[C.SALES_VALUE].sum()) * periods_per_year / max(periods, 1)
    short = frame[C.CYCLES] * (1.0 - frame[C.CYCLE_SERVICE_LEVEL].fillna(1.0))
    return {
        C.PRODUCTS: len(frame),
        C.DEMAND_UNITS: demand,
        C.FILL_RATE: float(frame[C.SALES_UNITS].sum()) / demand if demand > 0 else np.nan,
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
        {SEGMENT: name, **_totals(part, periods, periods_per_year)}
        for name, part in outcomes.groupby(SEGMENT, sort=True)
    ]
    rows.append({SEGMENT: "all", **_totals(outcomes, periods, periods_per_year)})
    return pd.DataFrame(rows)


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
) -> tuple[pd.DataFrame, SimulationResult]:
    """Simulate valid policy rows against demand (rows aligned); the per-product outcomes."""
    result = simulate_inventory(
        demand,
        replenishment_policy(policies),
        warmup=warmup,
        steps_per_period=steps_per_period,
        seed=seed,
        lead_time_distribution=lead_time_distribution,
        groups=groups,
        unit_value=policies[C.UNIT_VALUE].to_numpy(dtype=np.float64),
    )
    return outcome_frame(policies, result, periods_per_year), result


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
class Baseline:
    """A uniform rule of one service-level type: at the average target, its sweep, and the
    inventory it needs for the segmented fill rate (None when the sweep does not reach it)."""

    kind: str
    level: float
    at_level: PolicySet
    sweep: list[PolicySet]
    equal_fill_inventory: float | None


@dataclass(frozen=True)
class SimulationReport:
    """What `strata simulate` found: both policies per segment, the sweeps, the verdict."""

    workspace: str
    window: SimulationWindow
    source: SegmentSource
    segmented: PolicySet
    planned_fill_rate: dict[str, float]  # per segment and "all": the policies' expectation
    baselines: dict[str, Baseline]
    best: str  # the baseline kind needing the least inventory for the segmented fill rate
    excluded: dict[str, int]
    headline: str
    steps_per_period: int = 1
    lead_time_distribution: str = "gamma"
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def uniform(self) -> PolicySet:
        """The best uniform rule at the average target."""
        return self.baselines[self.best].at_level

    def comparison(self) -> pd.DataFrame:
        """Per segment and overall: segmented (with its planned fill rate) next to uniform."""
        s = self.segmented.by_segment.set_index(SEGMENT)
        u = self.uniform.by_segment.set_index(SEGMENT)
        keys = [
            C.FILL_RATE,
            C.CYCLE_SERVICE_LEVEL,
            C.AVG_INVENTORY_VALUE,
            C.TURNS,
            C.STOCKOUT_PERIODS,
            C.LONGEST_STOCKOUT,
        ]
        seg = s[[C.PRODUCTS, *keys]].assign(
            planned_fill_rate=pd.Series(self.planned_fill_rate).reindex(s.index)
        )
        return pd.concat({"segmented": seg, "uniform": u[keys]}, axis=1)


def _pit_features(ws: Workspace, day: date) -> pd.DataFrame:
    from features.snapshots import load_features, read_manifest

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


def _demand_for(ws: Workspace, window: SimulationWindow, skus: list[str]):
    both = demand_matrix(
        ws, skus, window.warmup_first, window.warmup + window.periods, window.bucket
    )
    return both[:, window.warmup :], both[:, : window.warmup]


def _demand_weighted_target(policies: pd.DataFrame) -> float:
    d = policies[C.DEMAND_MEAN].to_numpy(dtype=np.float64)
    t = policies[C.TARGET_SERVICE_LEVEL].to_numpy(dtype=np.float64)
    return float(np.sum(d * t) / np.sum(d)) if np.sum(d) > 0 else float(np.mean(t))


def _equal_fill_inventory(sweep: list[PolicySet], fill: float) -> float | None:
    points = sorted((p.overall[C.FILL_RATE], p.overall[C.AVG_INVENTORY_VALUE]) for p in sweep)
    rates = np.array([x for x, _ in points])
    values = np.array([y for _, y in points])
    if not (rates[0] <= fill <= rates[-1]):
        return None
    # the curve should rise; a noisy dip is removed by a running maximum before interpolating
    return float(np.interp(fill, rates, np.maximum.accumulate(values)))


def _headline(report_parts: dict[str, object]) -> str:
    seg = report_parts["segmented"]
    baselines: dict[str, Baseline] = report_parts["baselines"]  # type: ignore[assignment]
    fs, vs = seg[C.FILL_RATE], seg[C.AVG_INVENTORY_VALUE]  # type: ignore[index]
    words = {"csl": "cycle-service-level", "fill_rate": "fill-rate"}
    reached = {k: b for k, b in baselines.items() if b.equal_fill_inventory is not None}
    if not reached:
        return (
            f"Segmented policies reach a fill rate of {fs:.1%} with average inventory {vs:,.0f}; "
            "no uniform sweep reached that fill rate, so no equal-fill-rate comparison is "
            "possible: widen simulation.uniform.sweep in configs/policy.yaml."
        )
    best = min(reached.values(), key=lambda b: b.equal_fill_inventory or np.inf)
    at = float(best.equal_fill_inventory or np.nan)
    change = (vs - at) / at
    rule = f"one {words[best.kind]} target for every product"
    if change < 0:
        text = (
            f"For the same overall fill rate ({fs:.1%}) segmentation needs {-change:.1%} less "
            f"inventory than the best uniform rule, {rule} ({vs:,.0f} against {at:,.0f})."
        )
    else:
        text = (
            f"On this data segmentation does not save inventory: {rule} reaches the same overall "
            f"fill rate ({fs:.1%}) with {at:,.0f}, {change / (1 + change):.1%} less than the "
            f"segmented {vs:,.0f} (the segmented policies need {change:.1%} more)."
        )
    for other in reached.values():
        if other is best:
            continue
        o = float(other.equal_fill_inventory or np.nan)
        diff = (vs - o) / o
        text += (
            f" Against one {words[other.kind]} target for every product ({o:,.0f} for that fill "
            f"rate) segmentation needs {abs(diff):.1%} {'less' if diff < 0 else 'more'}."
        )
    return text


def _policy_sets(
    ws: Workspace,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    catalogue: Catalogue,
    config: PolicyConfig,
    day: date,
    levels: list[float | None],
    kind: str,
) -> list[SegmentPolicies]:
    return [
        compute_policies(
            ws,
            features,
            segments,
            catalogue,
            config.build,
            day,
            uniform=None if level is None else (level, kind),
        )
        for level in levels
    ]


def _common(sets: list[SegmentPolicies]) -> tuple[list[pd.DataFrame], int]:
    """Each set's valid rows restricted to the products every set has, in one order."""
    keep = set(sets[0].policies[C.SKU_ID])
    for s in sets[1:]:
        keep &= set(s.policies[C.SKU_ID])
    order = sorted(keep)
    out = [s.policies.set_index(C.SKU_ID).loc[order].reset_index() for s in sets]
    flagged = len(set().union(*[set(s.flagged[C.SKU_ID]) for s in sets]) - keep)
    return out, flagged


def _planned_fill(policies: pd.DataFrame) -> dict[str, float]:
    """The policies' expected fill rate per segment and overall, weighted by mean demand."""
    d = policies[C.DEMAND_MEAN]
    weighted = policies[C.EXPECTED_FILL_RATE] * d
    by = pd.DataFrame({SEGMENT: policies[SEGMENT], "w": weighted, "d": d}).groupby(SEGMENT).sum()
    out = {str(k): float(r["w"] / r["d"]) if r["d"] > 0 else np.nan for k, r in by.iterrows()}
    out["all"] = float(weighted.sum() / d.sum()) if d.sum() > 0 else np.nan
    return out


def simulate_policies(
    ws: Workspace,
    *,
    periods: int | None = None,
    catalogue: Catalogue,
    scoring: ScoringConfig,
    config: PolicyConfig,
    progress: Callable[[str], None] | None = None,
) -> SimulationReport:
    """Segmented against uniform policies on the last ``periods`` of real demand (see above)."""
    say = progress or (lambda _m: None)
    sim = config.simulation
    window = simulation_window(ws, periods or sim.periods, sim.warmup_periods)
    day = window.policy_as_of
    say(f"point-in-time snapshot as of {day.isoformat()}")
    features = _pit_features(ws, day)
    segments, source = segment_assignments(
        ws, features, catalogue, workspace_sinks(ws, scoring), day
    )
    say("segmented policies")
    (segmented,) = _policy_sets(ws, features, segments, catalogue, config, day, [None], "")
    level = sim.uniform.service_level or _demand_weighted_target(segmented.policies)
    levels = [level, *sorted(set(sim.uniform.sweep) - {level})]
    uniform: dict[str, list[SegmentPolicies]] = {}
    for kind in sim.uniform.service_level_types:
        say(f"uniform {kind} policies at {level:.4f} and {len(levels) - 1} sweep levels")
        uniform[kind] = _policy_sets(ws, features, segments, catalogue, config, day, levels, kind)
    flat = [segmented, *(s for sets in uniform.values() for s in sets)]
    frames, flagged = _common(flat)
    skus = frames[0][C.SKU_ID].tolist()
    say(f"replaying {window.describe()} for {len(skus):,} products")
    demand, warm = _demand_for(ws, window, skus)
    launched = _launched_in_window(ws, window, set(features[C.SKU_ID].astype(str)))
    ppy = float(frames[0][C.PERIODS_PER_YEAR].iloc[0]) if len(skus) else 52.0
    steps = sim.steps_per_period or STEPS_PER_PERIOD[window.bucket]

    def replayed(frame: pd.DataFrame, label: str, lvl: float | None) -> PolicySet:
        outcomes, _ = replay(
            frame,
            demand,
            warm,
            seed=sim.seed,
            lead_time_distribution=sim.lead_time_distribution,
            periods_per_year=ppy,
            steps_per_period=steps,
        )
        by_segment = segment_outcomes(outcomes, window.periods, ppy)
        return PolicySet(label, lvl, outcomes, by_segment, frame)

    seg_set = replayed(frames[0], "segmented", None)
    fill = float(seg_set.overall[C.FILL_RATE])
    baselines = {}
    at = 1
    for kind in uniform:
        sweep = [
            replayed(frames[at + i], f"uniform {kind} {x:.3f}", x) for i, x in enumerate(levels)
        ]
        at += len(levels)
        baselines[kind] = Baseline(kind, level, sweep[0], sweep, _equal_fill_inventory(sweep, fill))
    best = min(
        baselines,
        key=lambda k: (
            baselines[k].equal_fill_inventory is None,
            baselines[k].equal_fill_inventory or 0,
        ),
    )
    return SimulationReport(
        workspace=ws.name,
        window=window,
        source=source,
        segmented=seg_set,
        planned_fill_rate=_planned_fill(frames[0]),
        baselines=baselines,
        best=best,
        excluded={
            "flagged (no valid policy in every set)": flagged,
            "launched inside the window (no policy at its start)": launched,
        },
        headline=_headline({"segmented": seg_set.overall, "baselines": baselines}),
        steps_per_period=steps,
        lead_time_distribution=sim.lead_time_distribution,
    )


def _launched_in_window(ws: Workspace, window: SimulationWindow, known: set[str]) -> int:
    """Products selling in the window that the point-in-time snapshot does not know."""
    import pyarrow.dataset as pads

    from planning.policy_data import table_path

    cond = (
        (pads.field(C.KIND) == "sale")
        & (pads.field(C.PERIOD_START) >= pd.Timestamp(window.first))
        & (pads.field(C.PERIOD_START) < pd.Timestamp(shift_period(window.last, 1, window.bucket)))
    )
    skus = pads.dataset(table_path(ws, "demand")).to_table(columns=[C.SKU_ID], filter=cond)
    return len(set(skus.column(0).to_pylist()) - known)


def policy_impact(
    ws: Workspace,
    candidate_assignments: pd.DataFrame,
    champion_assignments: pd.DataFrame | None,
    *,
    periods: int | None = None,
    catalogue: Catalogue,
    config: PolicyConfig,
) -> dict[str, dict[str, float] | None]:
    """The policy-impact gate metrics of two segmentations, by the same replay.

    Assignments are frames with ``sku_id`` and ``segment`` (the scoring job's ``assignments``).
    Both are applied to the point-in-time snapshot before the window and replayed on the same
    products with the same random numbers. Returns ``{"candidate": {"policy_inventory_value":
    ..., "policy_fill_rate": ...}, "champion": {...} or None, "products": {...}}`` — pass
    ``["candidate"]`` as the candidate's metrics and ``["champion"]`` as the champion's to
    :func:`ml.gates.evaluate_gates`.
    """
    sim = config.simulation
    window = simulation_window(ws, periods or sim.periods, sim.warmup_periods)
    day = window.policy_as_of
    features = _pit_features(ws, day)
    named = {"candidate": candidate_assignments, "champion": champion_assignments}
    sets = {}
    for name, frame in named.items():
        if frame is None:
            continue
        missing = [c for c in (C.SKU_ID, SEGMENT) if c not in frame.columns]
        if missing:
            raise StrataError(
                f"{name} assignments lack column(s) {', '.join(missing)}; pass the scoring "
                "job's assignments table (sku_id, segment, ...)"
            )
        segs = frame[[C.SKU_ID, SEGMENT]].astype({C.SKU_ID: "str", SEGMENT: "str"})
        sets[name] = compute_policies(ws, features, segs, catalogue, config.build, day)
    frames, _ = _common(list(sets.values()))
    skus = frames[0][C.SKU_ID].tolist()
    demand, warm = _demand_for(ws, window, skus)
    ppy = float(frames[0][C.PERIODS_PER_YEAR].iloc[0]) if skus else 52.0
    out: dict[str, dict[str, float] | None] = {"champion": None}
    for name, frame in zip(sets, frames, strict=True):
        outcomes, _ = replay(
            frame,
            demand,
            warm,
            seed=sim.seed,
            lead_time_distribution=sim.lead_time_distribution,
            periods_per_year=ppy,
            steps_per_period=sim.steps_per_period or STEPS_PER_PERIOD[window.bucket],
        )
        total = _totals(outcomes, window.periods, ppy)
        out[name] = {
            "policy_inventory_value": total[C.AVG_INVENTORY_VALUE],
            "policy_fill_rate": total[C.FILL_RATE],
        }
    out["products"] = {"compared": float(len(skus))}
    return out


# --- the report -------------------------------------------------------------------------------


def _chart(report: SimulationReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    styles = {"csl": ("o-", "tab:gray"), "fill_rate": ("^--", "tab:green")}
    for kind, base in report.baselines.items():
        curve = sorted(
            (p.overall[C.FILL_RATE], p.overall[C.AVG_INVENTORY_VALUE], p.level) for p in base.sweep
        )
        marker, colour = styles.get(kind, ("o-", "tab:gray"))
        left.plot(
            [c[0] for c in curve],
            [c[1] for c in curve],
            marker,
            color=colour,
            label=f"uniform {kind} (level)",
        )
        for x, y, lvl in curve:
            left.annotate(
                f"{lvl:.3f}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=6
            )
    seg = report.segmented.overall
    left.plot(
        seg[C.FILL_RATE],
        seg[C.AVG_INVENTORY_VALUE],
        "*",
        ms=16,
        color="tab:blue",
        label="segmented",
    )
    left.legend(fontsize=8)
    left.set_title("All products: average inventory value against fill rate")
    left.set_xlabel("achieved fill rate (units)")
    left.set_ylabel("average inventory value")
    s = report.segmented.by_segment.set_index(SEGMENT).drop(index="all")
    u = report.uniform.by_segment.set_index(SEGMENT).drop(index="all")
    colours = plt.get_cmap("tab10")
    for i, name in enumerate(s.index):
        c = colours(i % 10)
        xs = [s.loc[name, C.FILL_RATE], u.loc[name, C.FILL_RATE]]
        ys = [s.loc[name, C.AVG_INVENTORY_VALUE], u.loc[name, C.AVG_INVENTORY_VALUE]]
        right.plot(xs, ys, "-", color=c, lw=0.8)
        right.plot(xs[0], ys[0], "o", color=c, label=name)
        right.plot(xs[1], ys[1], "o", mfc="none", color=c)
    right.set_title(
        f"Per segment: filled = segmented, hollow = uniform {report.best} at "
        f"{report.uniform.level:.3f}",
        fontsize=9,
    )
    right.set_xlabel("achieved fill rate (units)")
    right.set_ylabel("average inventory value")
    right.set_yscale("symlog")
    right.legend(fontsize=7)
    fig.suptitle(f"{report.workspace}: {report.window.describe()}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(frame: pd.DataFrame) -> str:
    def cell(v: object) -> str:
        if isinstance(v, int | np.integer):
            return f"{v:,}"
        if isinstance(v, float | np.floating):
            if np.isnan(v):
                return "n/a"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3f}"
        return str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _pick(flat: pd.DataFrame, measures: tuple[str, ...]) -> pd.DataFrame:
    cols = [c for c in flat.columns if c.split(" ", 1)[-1] in measures]
    return flat[[SEGMENT, *cols]]


def write_simulation_report(ws: Workspace, report: SimulationReport) -> dict[str, Path]:
    """Write ``<warehouse>/reports/simulation_<as_of>.md`` and ``.png``; returns their paths."""
    folder = ws.warehouse / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"simulation_{report.window.policy_as_of.isoformat()}"
    png, md = folder / f"{stem}.png", folder / f"{stem}.md"
    _chart(report, png)
    comp = report.comparison()
    flat = comp.copy()
    flat.columns = [f"{a} {b}" for a, b in comp.columns]
    flat = flat.reset_index()
    main = _pick(
        flat, (C.PRODUCTS, "planned_fill_rate", C.FILL_RATE, C.AVG_INVENTORY_VALUE, C.TURNS)
    )
    service = _pick(flat, (C.CYCLE_SERVICE_LEVEL, C.STOCKOUT_PERIODS, C.LONGEST_STOCKOUT))
    sweep = pd.DataFrame(
        [
            {
                "uniform type": kind,
                "level": p.level,
                C.FILL_RATE: p.overall[C.FILL_RATE],
                C.AVG_INVENTORY_VALUE: p.overall[C.AVG_INVENTORY_VALUE],
                C.TURNS: p.overall[C.TURNS],
            }
            for kind, base in report.baselines.items()
            for p in sorted(base.sweep, key=lambda p: p.level or 0)
        ]
    )
    equal = "\n".join(
        f"- one {kind} target for every product: "
        + (
            "not reached by the sweep"
            if b.equal_fill_inventory is None
            else f"{b.equal_fill_inventory:,.0f}"
        )
        for kind, b in report.baselines.items()
    )
    excluded = "\n".join(f"  - {k}: {v:,}" for k, v in report.excluded.items())
    unit = report.window.bucket
    text = f"""# Policy simulation: {report.workspace}

**{report.headline}**

- Window: {report.window.describe()}.
- Segments: {report.source.detail.rstrip(".")}.
- Uniform baselines: every product at one service level ({report.uniform.level:.4f}, the
  demand-weighted average of the segment targets unless configs/policy.yaml sets one) of one
  type ({", ".join(report.baselines)}), its segment's review, order quantity and lead-time-demand
  method otherwise unchanged; each type also swept over levels to trace its trade-off curve.
  Per-segment figures below compare with the best rule ({report.best}).
- Model: lost sales; each {unit} split into {report.steps_per_period} equal steps with its demand
  spread evenly; per step receipts, demand, then review (continuous review every step, periodic
  every R); each order's lead time drawn from a {report.lead_time_distribution} with the
  product's mean and sd (capped at mean + 8 sd); the same random numbers for every policy set.
  Policies stay as computed on {report.window.policy_as_of.isoformat()} for the whole window (no
  re-planning). Inventory is valued at unit cost, or unit price less the default margin where the
  cost is unknown; turns = annualised sales at that value / average inventory value.
- Products compared: {report.segmented.overall[C.PRODUCTS]:,.0f}. Left out:
{excluded}

![trade-off]({png.name})

## Fill rate, inventory and turns per segment

planned_fill_rate is what the segmented policies expect (formulas, weighted by mean demand);
fill_rate what the replay achieved.

{_table(main)}

## Service: cycle service level, stockout {unit}s (mean per product), longest stockout (max)

{_table(service)}

## Uniform sweeps (the trade-off curves)

{_table(sweep)}

Uniform inventory at the segmented fill rate ({report.segmented.overall[C.FILL_RATE]:.1%}), read
off each curve:
{equal}
"""
    md.write_text(text, encoding="utf-8")
    return {"markdown": md, "chart": png}
