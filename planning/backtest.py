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

``backtest(..., strategies=...)`` builds only some strategies (the uniform sweeps only with a
uniform one). ``backtest_models(ws, segmenters={name: segmenter, ...})`` backtests several
models side by side: each segments the same as-of snapshots its own way, and all replay the
products every one covers through one replayer per origin (same demand, same random numbers) —
the policy-impact promotion gate (:mod:`planning.policy_impact`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
from ml.segment_policies import SegmentPolicies
from planning.backtest_origins import (
    Segmenter,
    backtest_windows,
    model_segmenter,
    origin_windows,
    rule_segmenter,
)
from planning.backtest_strategies import ABC_LEVELS, STRATEGIES, OriginStrategies, origin_strategies
from planning.replay import (
    PolicySet,
    Replayer,
    SimulationWindow,
    common_products,
    pit_features,
    replayer,
)
from planning.segment_source import (
    SegmentSource,
)
from planning.simulation import (
    planned_fill,
)

__all__ = [
    "ABC_LEVELS",
    "CALIBRATION_MIN_PRODUCTS",
    "STRATEGIES",
    "Backtest",
    "OriginResult",
    "backtest",
    "backtest_models",
    "backtest_windows",
    "model_segmenter",
    "origin_strategies",
    "origin_windows",
    "replay_origin",
    "rule_segmenter",
]

CALIBRATION_MIN_PRODUCTS = 30  # segments smaller than this are too noisy to judge calibration


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
    curves = list(sweeps.groupby("kind", sort=True)) if len(sweeps) else []
    for row in strategies.to_dict("records"):
        best = None
        for kind, curve in curves:
            at = _uniform_at(curve, row[C.FILL_RATE])
            if at is not None and (best is None or at[0] < best[1]):
                best = (str(kind), *at)
        if best is None:
            rows.append(
                {
                    "best_uniform": None,
                    "uniform_inventory": np.nan,
                    "uniform_orders": np.nan,
                    "saving": np.nan,
                    "no_more_orders": np.nan,
                }
            )
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
    others: list[SegmentPolicies] | None = None,
) -> OriginResult:
    """Every strategy and sweep level replayed on the same products and random numbers.

    ``run`` is a Replayer, or a function that builds one from the first frame (so the demand is
    read for exactly the products every set has a policy for). ``others`` (other models' sets
    at this origin) narrow the products to those they have too, so that several models replay
    the same products in the same order: the same random numbers for each.
    """
    names = list(made.sets)
    sweep_keys = [(k, lv) for k, pts in made.sweeps.items() for lv, _ in pts]
    every = made.every
    frames, _ = common_products([*every, *(others or [])])
    frames = frames[: len(every)]
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
        """A strategy's saving against the best uniform rule, averaged over origins (None: not
        measured — the strategy or the uniform sweeps were not backtested)."""
        average = self.average.set_index("strategy")
        if strategy not in average.index:
            return None
        v = average.loc[strategy, "saving"]
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


def _shared_replayer(
    ws: Workspace, window: SimulationWindow, config: PolicyConfig
) -> Callable[[pd.DataFrame], Replayer]:
    """Builds the window's Replayer from the first frame it is given, then hands out that one
    (every model's first frame holds the same products, in one order)."""
    built: list[Replayer] = []

    def run(first: pd.DataFrame) -> Replayer:
        if not built:
            built.append(replayer(ws, window, config, first))
        return built[0]

    return run


def backtest_models(
    ws: Workspace,
    *,
    segmenters: dict[str, Segmenter],
    catalogue: Catalogue,
    config: PolicyConfig,
    windows: list[SimulationWindow] | None = None,
    progress: Callable[[str], None] | None = None,
    strategies: tuple[str, ...] = STRATEGIES,
) -> dict[str, Backtest]:
    """The rolling backtest of several models side by side, one Backtest per name.

    At each origin every model segments the same as-of snapshot its own way; all replay the
    products every model's policies cover, in one order, through one replayer: the same demand
    and the same random numbers, so differences between them are their segmentations'.
    """
    say = progress or (lambda _m: None)
    results: dict[str, list[OriginResult]] = {name: [] for name in segmenters}
    for window in windows or backtest_windows(ws, config):
        day, at = window.policy_as_of, f"origin {window.first.isoformat()}"
        say(f"{at}: snapshot and segments as of {day.isoformat()}")
        features = pit_features(ws, day)
        made: dict[str, tuple[SegmentSource, OriginStrategies]] = {}
        for name, segmenter in segmenters.items():
            segments, source = segmenter(features, day)
            say(f"{at}: policies of every strategy" + (f" ({name})" if len(segmenters) > 1 else ""))
            made[name] = (
                source,
                origin_strategies(
                    ws, features, segments, catalogue, config, day, source, strategies
                ),
            )
        say(f"{at}: replaying {window.describe()}")
        run = _shared_replayer(ws, window, config)
        for name, (source, strat) in made.items():
            others = [s for n, (_, o) in made.items() if n != name for s in o.every]
            results[name].append(replay_origin(window, source, strat, run, others))
    return {name: Backtest(ws.name, origins) for name, origins in results.items()}


def backtest(
    ws: Workspace,
    *,
    segmenter: Segmenter,
    catalogue: Catalogue,
    config: PolicyConfig,
    windows: list[SimulationWindow] | None = None,
    progress: Callable[[str], None] | None = None,
    strategies: tuple[str, ...] = STRATEGIES,
) -> Backtest:
    """The rolling backtest of every strategy (module doc), or of ``strategies`` only (the
    catalogue always; the uniform sweeps, hence the savings, only with a uniform strategy).
    Each origin's as-of snapshot must exist (`strata simulate --backtest` builds the missing
    ones)."""
    return backtest_models(
        ws,
        segmenters={"model": segmenter},
        catalogue=catalogue,
        config=config,
        windows=windows,
        progress=progress,
        strategies=strategies,
    )["model"]
