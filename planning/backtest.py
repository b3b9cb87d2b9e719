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
   times, common random numbers; every set stacked into one simulation,
   :meth:`planning.replay.Replayer.stacked`, each set's figures exactly those of replaying it
   alone): one cycle-service target for all and one fill-rate target for
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
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
    # every set in one replay: the same products, demand and random numbers, one loop over steps
    every_played = play.stacked(
        frames,
        [*names, *(kind for kind, _ in sweep_keys)],
        [*(None for _ in names), *(lv for _, lv in sweep_keys)],
    )
    played = dict(zip(names, every_played, strict=False))
    rows = [
        {"strategy": name, **_figures(played[name], frame)}
        for name, frame in zip(names, frames, strict=False)
    ]
    sweep_rows = [
        {"kind": kind, "level": lv, **_figures(p, frame)}
        for (kind, lv), p, frame in zip(
            sweep_keys, every_played[len(names) :], frames[len(names) :], strict=True
        )
    ]
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
