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
5. **Report** (:func:`planning.simulation_report.write_simulation_report`): markdown and a PNG trade-off chart under
   ``<warehouse>/reports/``.

Products enter the comparison only when every policy set has a valid policy for them (products
launched inside the window have none at its start; flagged products have none); both counts are
reported. The promotion gate's policy impact is not this replay (it would apply the newest
segments to an old snapshot) but a small rolling backtest of each model on its own as-of segments
(:mod:`planning.policy_impact`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
from ml.config.scoring import ScoringConfig
from ml.segment_policies import SegmentPolicies
from planning.policy_job import compute_policy_sets
from planning.replay import (
    PolicySet,
    Replayer,
    SimulationWindow,
    common_products,
    launched_in_window,
    pit_features,
    replayer,
    simulation_window,
)
from planning.segment_source import SegmentSource, segment_assignments
from serving.runs import main_sinks

__all__ = [
    "Baseline",
    "SimulationReport",
    "demand_weighted_target",
    "equal_fill_inventory",
    "planned_fill",
    "policy_sets",
    "simulate_policies",
]


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


def demand_weighted_target(policies: pd.DataFrame) -> float:
    """The policies' service-level targets averaged with mean demand as the weight."""
    d = policies[C.DEMAND_MEAN].to_numpy(dtype=np.float64)
    t = policies[C.TARGET_SERVICE_LEVEL].to_numpy(dtype=np.float64)
    return float(np.sum(d * t) / np.sum(d)) if np.sum(d) > 0 else float(np.mean(t))


def equal_fill_inventory(sweep: list[PolicySet], fill: float) -> float | None:
    """The uniform inventory at ``fill`` read off a sweep's curve (None outside the sweep)."""
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


def policy_sets(
    ws: Workspace,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    catalogue: Catalogue,
    config: PolicyConfig,
    day: date,
    levels: list[float | None],
    kind: str,
) -> list[SegmentPolicies]:
    """The policies at each level of one type (None: the catalogue's own service levels)."""
    uniforms = [None if level is None else (level, kind) for level in levels]
    return compute_policy_sets(ws, features, segments, catalogue, config.build, day, uniforms)


def planned_fill(policies: pd.DataFrame) -> dict[str, float]:
    """The policies' expected fill rate per segment and overall, weighted by mean demand."""
    d = policies[C.DEMAND_MEAN]
    weighted = policies[C.EXPECTED_FILL_RATE] * d
    by = pd.DataFrame({SEGMENT: policies[SEGMENT], "w": weighted, "d": d}).groupby(SEGMENT).sum()
    out = {str(k): float(r["w"] / r["d"]) if r["d"] > 0 else np.nan for k, r in by.iterrows()}
    out["all"] = float(weighted.sum() / d.sum()) if d.sum() > 0 else np.nan
    return out


def _baselines(
    run: Replayer,
    frames: list[pd.DataFrame],
    kinds: list[str],
    levels: list[float],
    fill: float,
) -> dict[str, Baseline]:
    """Each uniform type's sweep replayed; frames[1:] hold the sweeps, kind by kind."""
    baselines = {}
    at = 1
    for kind in kinds:
        sweep = [run(frames[at + i], f"uniform {kind} {x:.3f}", x) for i, x in enumerate(levels)]
        at += len(levels)
        equal = equal_fill_inventory(sweep, fill)
        baselines[kind] = Baseline(kind, levels[0], sweep[0], sweep, equal)
    return baselines


def _best(baselines: dict[str, Baseline]) -> str:
    """The uniform type needing the least inventory at the segmented fill rate."""
    return min(
        baselines,
        key=lambda k: (
            baselines[k].equal_fill_inventory is None,
            baselines[k].equal_fill_inventory or 0,
        ),
    )


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
    features = pit_features(ws, day)
    segments, source = segment_assignments(ws, features, catalogue, main_sinks(ws, scoring), day)
    say("segmented policies")
    (segmented,) = policy_sets(ws, features, segments, catalogue, config, day, [None], "")
    level = sim.uniform.service_level or demand_weighted_target(segmented.policies)
    levels = [level, *sorted(set(sim.uniform.sweep) - {level})]
    uniform: dict[str, list[SegmentPolicies]] = {}
    for kind in sim.uniform.service_level_types:
        say(f"uniform {kind} policies at {level:.4f} and {len(levels) - 1} sweep levels")
        uniform[kind] = policy_sets(ws, features, segments, catalogue, config, day, levels, kind)
    frames, flagged = common_products([segmented, *(s for v in uniform.values() for s in v)])
    say(f"replaying {window.describe()} for {len(frames[0]):,} products")
    launched = launched_in_window(ws, window, set(features[C.SKU_ID].astype(str)))
    run = replayer(ws, window, config, frames[0])
    seg_set = run(frames[0], "segmented", None)
    baselines = _baselines(run, frames, list(uniform), levels, float(seg_set.overall[C.FILL_RATE]))
    best = _best(baselines)
    return SimulationReport(
        workspace=ws.name,
        window=window,
        source=source,
        segmented=seg_set,
        planned_fill_rate=planned_fill(frames[0]),
        baselines=baselines,
        best=best,
        excluded={
            "flagged (no valid policy in every set)": flagged,
            "launched inside the window (no policy at its start)": launched,
        },
        headline=_headline({"segmented": seg_set.overall, "baselines": baselines}),
        steps_per_period=run.steps,
        lead_time_distribution=sim.lead_time_distribution,
    )
