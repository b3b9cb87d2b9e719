"""The rolling backtest: inventory strategies replayed from several origins, each fitted before it.

``backtest(ws, segmenter=...)`` (`strata simulate --backtest`):

1. **Origins.** ``backtest.origins`` origins spaced ``backtest.spacing_periods`` apart, back from
   the newest complete period, so that each has ``backtest.periods`` periods of demand after it
   (its measured window) and the simulation's warm-up before it.
2. **Point in time, per origin.** The snapshot as of the day before the origin
   (:func:`planning.replay.pit_features`), the segments of that snapshot by the model being
   judged (``segmenter``: the pyfunc scoring the as-of snapshot, :func:`model_segmenter`, or the
   catalogue's rules, :func:`rule_segmenter`), the policies computed in memory
   (:func:`planning.policy_job.compute_policies`) and the optimiser fitted on them
   (:func:`planning.optimise.proposal_from_policies`). Nothing after the origin is read but the
   demand replayed.
3. **Strategies on the same replay** (:func:`planning.replay.replayer`: lost sales, sampled lead
   times, common random numbers): one cycle-service target for all and one fill-rate target for
   all (both at the catalogue's demand-weighted target, as :mod:`planning.simulation` builds
   them), classic ABC (cycle service 98 / 95 / 90 % by the snapshot's abc rule class), the
   catalogue as configured, the optimised service classes, and the per-product optimum
   (the Lagrangian k of :func:`ml.policy.service_optimiser.optimise_per_product` turned into
   reorder points r = mean LTD + k sigma for the normal-demand products).
4. **Figures.** Per origin and averaged: achieved and planned fill rate, average inventory value,
   orders, stockout periods; per segment the catalogue's achieved - planned fill rate; each
   strategy's saving against the best uniform rule at the same achieved fill rate (read off the
   uniform sweeps, with the orders the uniform rule places there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as pads

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
from ml.errors import StrataError
from ml.periods import last_complete_period, shift_period
from ml.segment_policies import SegmentPolicies
from ml.segment_rules import ABC, rule_classes
from planning.optimise import proposal_from_policies
from planning.policy_data import table_path
from planning.replay import (
    PolicySet,
    Replayer,
    SimulationWindow,
    common_products,
    pit_features,
    replayer,
)
from planning.segment_source import (
    RULES_VERSION,
    SegmentSource,
    family_to_products,
    segment_assignments,
)
from planning.simulation import (
    demand_weighted_target,
    planned_fill,
    policy_sets,
)

__all__ = [
    "ABC_LEVELS",
    "CALIBRATION_MIN_PRODUCTS",
    "STRATEGIES",
    "Backtest",
    "OriginResult",
    "backtest",
    "backtest_windows",
    "model_segmenter",
    "origin_strategies",
    "origin_windows",
    "replay_origin",
    "rule_segmenter",
    "write_backtest_chart",
]

#: the strategies side by side, in report order
STRATEGIES = (
    "uniform csl",
    "uniform fill rate",
    "classic abc",
    "catalogue",
    "service classes",
    "per-product optimum",
)
#: classic ABC cycle-service levels; products the rules call new get C's level
ABC_LEVELS = {"A": 0.98, "B": 0.95, "C": 0.90}
CALIBRATION_MIN_PRODUCTS = 30  # segments smaller than this are too noisy to judge calibration
_UNIFORM_KINDS = {"uniform csl": "csl", "uniform fill rate": "fill_rate"}

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
    from features.snapshots import list_snapshots

    if data_as_of is None:
        dates = list_snapshots(ws)
        if not dates:
            raise StrataError(
                f"workspace '{ws.name}' has no feature snapshot; run `strata features build "
                f"--config <workspace yaml>` first"
            )
        data_as_of = dates[-1]
    bt, sim = config.backtest, config.simulation
    bucket = ws.calendar.bucket
    warmup = (
        sim.warmup_periods if sim.warmup_periods is not None else {"week": 13, "month": 3}[bucket]
    )
    return origin_windows(
        bucket,
        data_as_of,
        _history_first(ws),
        origins=bt.origins,
        spacing=bt.spacing_periods,
        periods=bt.periods,
        warmup=warmup,
    )


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
    from serving.predict import predict_snapshot

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


def _abc_policies(
    ws: Workspace,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    catalogue: Catalogue,
    config: PolicyConfig,
    day: date,
) -> SegmentPolicies:
    """Classic ABC: cycle service 98 / 95 / 90 % by the snapshot's abc rule class."""
    abc = rule_classes(features, catalogue.drivers)[ABC].astype("str")
    level = abc.map(ABC_LEVELS).fillna(ABC_LEVELS["C"]).to_numpy()
    by_sku = pd.Series(level, index=features[C.SKU_ID].astype("str").to_numpy())
    levels = sorted(set(ABC_LEVELS.values()), reverse=True)
    sets = policy_sets(ws, features, segments, catalogue, config, day, levels, "csl")
    keep = []
    for lv, s in zip(levels, sets, strict=True):
        mine = lambda f, lv=lv: f[f[C.SKU_ID].astype("str").map(by_sku) == lv]  # noqa: E731
        keep.append((mine(s.policies), mine(s.flagged)))
    return SegmentPolicies(
        policies=pd.concat([p for p, _ in keep], ignore_index=True),
        flagged=pd.concat([f for _, f in keep], ignore_index=True),
    )


def _per_product_policies(result: SegmentPolicies, limit: pd.DataFrame) -> SegmentPolicies:
    """The catalogue's policies with each normal-demand product's reorder point at the
    per-product optimum: r = mean LTD + k sigma (same lot sizes, same review)."""
    pol = result.policies
    k = pol[C.SKU_ID].astype("str").map(limit.set_index(C.SKU_ID)["k"]).to_numpy(np.float64)
    rate = pol[C.SKU_ID].astype("str").map(limit.set_index(C.SKU_ID)[C.EXPECTED_FILL_RATE])
    normal = (pol[C.LTD_METHOD] == "normal").to_numpy() & np.isfinite(k)
    mean = pol[C.LEAD_TIME_DEMAND_MEAN].to_numpy(np.float64)
    sd = pol[C.LEAD_TIME_DEMAND_SD].to_numpy(np.float64)
    r = np.maximum(mean + np.nan_to_num(k) * sd, 0.0)
    out = pol.assign(
        **{
            C.REORDER_POINT: np.where(normal, r, pol[C.REORDER_POINT]),
            C.SAFETY_STOCK: np.where(normal, r - mean, pol[C.SAFETY_STOCK]),
            C.EXPECTED_FILL_RATE: np.where(
                normal, rate.to_numpy(np.float64), pol[C.EXPECTED_FILL_RATE]
            ),
        }
    )
    return SegmentPolicies(policies=out, flagged=result.flagged)


@dataclass(frozen=True)
class OriginStrategies:
    """The policy sets of one origin, all fitted on the as-of snapshot."""

    sets: dict[str, SegmentPolicies]  # by strategy name (STRATEGIES)
    sweeps: dict[str, list[tuple[float, SegmentPolicies]]]  # uniform kind -> (level, set)
    level: float  # the catalogue's demand-weighted target, the uniform rules' level
    optimiser_target: float


def origin_strategies(
    ws: Workspace,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    catalogue: Catalogue,
    config: PolicyConfig,
    day: date,
    source: SegmentSource,
) -> OriginStrategies:
    """Every strategy's policies and the uniform sweeps from one as-of snapshot (in memory)."""
    (configured,) = policy_sets(ws, features, segments, catalogue, config, day, [None], "")
    level = config.simulation.uniform.service_level or demand_weighted_target(configured.policies)
    sweeps: dict[str, list[tuple[float, SegmentPolicies]]] = {}
    at_level: dict[str, SegmentPolicies] = {}
    levels = [level, *sorted(set(config.simulation.uniform.sweep) - {level})]
    for name, kind in _UNIFORM_KINDS.items():
        sets = policy_sets(ws, features, segments, catalogue, config, day, levels, kind)
        at_level[name] = sets[0]
        sweeps[kind] = list(zip(levels, sets, strict=True))
    proposal = proposal_from_policies(
        configured, catalogue=catalogue, config=config, as_of=day, source=source
    )
    (classes,) = policy_sets(ws, features, segments, proposal.catalogue, config, day, [None], "")
    sets = {
        **at_level,
        "classic abc": _abc_policies(ws, features, segments, catalogue, config, day),
        "catalogue": configured,
        "service classes": classes,
        "per-product optimum": _per_product_policies(configured, proposal.per_product),
    }
    return OriginStrategies(sets, sweeps, level, proposal.target)


@dataclass(frozen=True)
class OriginResult:
    """One origin's figures: per strategy, the catalogue's per-segment calibration, sweeps."""

    window: SimulationWindow
    source: SegmentSource
    products: int
    strategies: pd.DataFrame  # one row per strategy
    calibration: pd.DataFrame  # segment, products, planned, achieved (the catalogue's policies)
    sweeps: pd.DataFrame  # kind, level, fill_rate, avg_inventory_value, orders
    policies: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)  # replayed rows

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "origin": self.window.first.isoformat(),
            "policies_as_of": self.window.policy_as_of.isoformat(),
            "periods": self.window.periods,
            "segments_from": self.source.detail,
            "products": self.products,
            "strategies": _records(self.strategies),
            "calibration": _records(self.calibration),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        out.append({k: _json(v) for k, v in row.items()})
    return out


def _json(v: Any) -> Any:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return None if not np.isfinite(v) else float(v)
    return v


def _figures(played: PolicySet, frame: pd.DataFrame) -> dict[str, float]:
    overall = played.overall
    return {
        C.FILL_RATE: float(overall[C.FILL_RATE]),
        "planned_fill_rate": planned_fill(frame)["all"],
        C.AVG_INVENTORY_VALUE: float(overall[C.AVG_INVENTORY_VALUE]),
        C.ORDERS: float(played.outcomes[C.ORDERS].sum()),
        C.STOCKOUT_PERIODS: float(overall[C.STOCKOUT_PERIODS]),
    }


def _uniform_at(curve: pd.DataFrame, fill: float) -> tuple[float, float] | None:
    """(inventory, orders) of a uniform sweep at ``fill`` (None outside the sweep)."""
    c = curve.sort_values(C.FILL_RATE)
    rates = c[C.FILL_RATE].to_numpy()
    if not (rates[0] <= fill <= rates[-1]):
        return None
    inv = np.maximum.accumulate(c[C.AVG_INVENTORY_VALUE].to_numpy())
    return float(np.interp(fill, rates, inv)), float(np.interp(fill, rates, c[C.ORDERS]))


def _savings(strategies: pd.DataFrame, sweeps: pd.DataFrame) -> pd.DataFrame:
    """Each strategy's saving against the best uniform rule at its own achieved fill rate."""
    rows = []
    for row in strategies.to_dict("records"):
        best = None
        for kind, curve in sweeps.groupby("kind", sort=True):
            at = _uniform_at(curve, row[C.FILL_RATE])
            if at is not None and (best is None or at[0] < best[1]):
                best = (str(kind), *at)
        if best is None:
            rows.append({"best_uniform": None, "uniform_inventory": np.nan, "saving": np.nan})
            continue
        kind, inv, orders = best
        rows.append(
            {
                "best_uniform": kind,
                "uniform_inventory": inv,
                "uniform_orders": orders,
                "saving": 1.0 - row[C.AVG_INVENTORY_VALUE] / inv if inv > 0 else np.nan,
                "no_more_orders": bool(row[C.ORDERS] <= orders * (1 + 1e-9)),
            }
        )
    return pd.concat([strategies, pd.DataFrame(rows, index=strategies.index)], axis=1)


def replay_origin(
    window: SimulationWindow,
    source: SegmentSource,
    made: OriginStrategies,
    run: Callable[[pd.DataFrame], Replayer] | Replayer,
) -> OriginResult:
    """Every strategy and sweep level replayed on the same products and random numbers.

    ``run`` is a Replayer, or a function that builds one from the first frame (so the demand is
    read for exactly the products every set has a policy for).
    """
    names = list(made.sets)
    sweep_keys = [(k, lv) for k, pts in made.sweeps.items() for lv, _ in pts]
    every = [*made.sets.values(), *(s for pts in made.sweeps.values() for _, s in pts)]
    frames, _ = common_products(every)
    play = run if isinstance(run, Replayer) else run(frames[0])
    rows, played = [], {}
    for name, frame in zip(names, frames, strict=False):
        played[name] = play(frame, name, None)
        rows.append({"strategy": name, **_figures(played[name], frame)})
    sweep_rows = []
    for (kind, lv), frame in zip(sweep_keys, frames[len(names) :], strict=True):
        sweep_rows.append({"kind": kind, "level": lv, **_figures(play(frame, kind, lv), frame)})
    sweeps = pd.DataFrame(sweep_rows)
    planned = planned_fill(played["catalogue"].policies)
    by = played["catalogue"].by_segment
    by = by[by[SEGMENT] != "all"]
    calibration = pd.DataFrame(
        {
            SEGMENT: by[SEGMENT].to_numpy(),
            C.PRODUCTS: by[C.PRODUCTS].to_numpy(),
            "planned_fill_rate": by[SEGMENT].map(planned).to_numpy(np.float64),
            C.FILL_RATE: by[C.FILL_RATE].to_numpy(np.float64),
        }
    )
    calibration["gap"] = calibration[C.FILL_RATE] - calibration["planned_fill_rate"]
    strategies = _savings(pd.DataFrame(rows), sweeps)
    policies = {name: p.policies for name, p in played.items()}
    return OriginResult(window, source, len(frames[0]), strategies, calibration, sweeps, policies)


@dataclass(frozen=True)
class Backtest:
    """What the rolling backtest found, per origin and averaged over origins."""

    workspace: str
    origins: list[OriginResult]
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def average(self) -> pd.DataFrame:
        """Per strategy, each figure averaged over the origins."""
        frame = pd.concat([o.strategies for o in self.origins], ignore_index=True)
        cols = [
            C.FILL_RATE,
            "planned_fill_rate",
            C.AVG_INVENTORY_VALUE,
            C.ORDERS,
            C.STOCKOUT_PERIODS,
            "saving",
            "no_more_orders",
        ]
        out = frame.assign(no_more_orders=frame["no_more_orders"].astype(float))[
            ["strategy", *cols]
        ]
        return out.groupby("strategy", sort=False).mean().reset_index()

    @property
    def calibration(self) -> pd.DataFrame:
        """Per segment: products and achieved - planned fill rate, averaged over origins."""
        frame = pd.concat([o.calibration for o in self.origins], ignore_index=True)
        out = frame.groupby(SEGMENT, sort=True).agg(
            products=(C.PRODUCTS, "mean"),
            planned_fill_rate=("planned_fill_rate", "mean"),
            fill_rate=(C.FILL_RATE, "mean"),
            gap=("gap", "mean"),
            origins=("gap", "size"),
        )
        return out.reset_index()

    @property
    def calibration_gap_max(self) -> float | None:
        """The largest |achieved - planned| over segments with >= 30 products (averaged)."""
        cal = self.calibration
        judged = cal[cal["products"] >= CALIBRATION_MIN_PRODUCTS]
        return float(judged["gap"].abs().max()) if len(judged) else None

    def saving(self, strategy: str) -> float | None:
        """A strategy's saving against the best uniform rule, averaged over origins."""
        v = self.average.set_index("strategy").loc[strategy, "saving"]
        return float(v) if np.isfinite(v) else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the headline keys first, then the averages and every origin."""
        return {
            "calibration_gap_max": self.calibration_gap_max,
            "saving_vs_best_uniform": self.saving("service classes"),
            "per_item_limit_saving": self.saving("per-product optimum"),
            "workspace": self.workspace,
            "average": _records(self.average),
            "calibration": _records(self.calibration),
            "origins": [o.as_dict() for o in self.origins],
            "paths": {k: str(v) for k, v in self.paths.items()},
        }


def backtest(
    ws: Workspace,
    *,
    segmenter: Segmenter,
    catalogue: Catalogue,
    config: PolicyConfig,
    windows: list[SimulationWindow] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Backtest:
    """The rolling backtest of every strategy (module doc). Each origin's as-of snapshot must
    exist (`strata simulate --backtest` builds the missing ones)."""
    say = progress or (lambda _m: None)
    results = []
    for window in windows or backtest_windows(ws, config):
        day = window.policy_as_of
        say(f"origin {window.first.isoformat()}: snapshot and segments as of {day.isoformat()}")
        features = pit_features(ws, day)
        segments, source = segmenter(features, day)
        say(f"origin {window.first.isoformat()}: policies of every strategy")
        made = origin_strategies(ws, features, segments, catalogue, config, day, source)
        say(f"origin {window.first.isoformat()}: replaying {window.describe()}")
        results.append(
            replay_origin(window, source, made, lambda f, w=window: replayer(ws, w, config, f))
        )
    return Backtest(ws.name, results)


def write_backtest_chart(ws: Workspace, result: Backtest) -> Path:
    """The efficient frontier (inventory value against achieved fill rate, averaged over
    origins): the uniform sweeps as curves, every strategy as a point."""
    from matplotlib.figure import Figure

    folder = ws.warehouse / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "backtest_frontier.png"
    sweeps = pd.concat([o.sweeps for o in result.origins], ignore_index=True)
    # only the configured sweep levels every origin replayed: the per-origin average target
    # differs between origins and would put single-origin points on an averaged curve
    every = sweeps.groupby(["kind", "level"])["level"].transform("size") == len(result.origins)
    curves = sweeps[every].groupby(["kind", "level"], sort=True)[
        [C.FILL_RATE, C.AVG_INVENTORY_VALUE]
    ]
    fig = Figure(figsize=(9, 6))
    ax = fig.add_subplot(1, 1, 1)
    for kind, curve in curves.mean().reset_index().groupby("kind", sort=True):
        c = curve.sort_values(C.FILL_RATE)
        ax.plot(c[C.FILL_RATE], c[C.AVG_INVENTORY_VALUE], marker=".", label=f"uniform {kind}")
    avg = result.average
    for row in avg.to_dict("records"):
        ax.scatter(row[C.FILL_RATE], row[C.AVG_INVENTORY_VALUE], s=60, zorder=3)
        ax.annotate(
            row["strategy"],
            (row[C.FILL_RATE], row[C.AVG_INVENTORY_VALUE]),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
        )
    ax.set_xlabel("achieved fill rate (averaged over origins)")
    ax.set_ylabel("average inventory value")
    ax.set_title(f"{result.workspace}: backtest over {len(result.origins)} origins")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)
    return path
