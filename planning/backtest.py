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
   catalogue as configured, the optimised service classes, the levels tuned on the previous
   window's replay per segment, per service class and per product
   (:mod:`planning.backtest_tuning`, :func:`with_tuned_segments`), and the per-product optimum
   (the Lagrangian k of :func:`ml.policy.service_optimiser.optimise_per_product` turned into
   reorder points r = mean LTD + k sigma for the normal-demand products).
4. **Figures.** Per origin and averaged: achieved and planned fill rate, average inventory value,
   orders, stockout periods; per segment the catalogue's achieved - planned fill rate; each
   strategy's saving against the best uniform rule at the same achieved fill rate (read off the
   uniform sweeps, with the orders the uniform rule places there).
5. **Calibration, learned without look-ahead** (``backtest.calibrate``,
   :mod:`ml.policy.service_calibration`): one extra window before the first origin replays the
   catalogue's policies alone; each origin's plan per segment is then the formulas' expected fill
   rate corrected by the segment's shortage ratio pooled over the latest
   ``backtest.calibration_windows`` windows that ended before it (blended with the windows'
   pooled ratio by credibility, ``backtest.calibration_credibility``), and
   ``calibration_gap_max`` judges achieved against that plan (``raw_calibration_gap_max``
   against the formulas alone).

``backtest(..., strategies=...)`` builds only some strategies (the uniform sweeps only with a
uniform one). ``backtest_models(ws, segmenters={name: segmenter, ...})`` backtests several
models side by side: each segments the same as-of snapshots its own way, and all replay the
products every one covers through one replayer per origin (same demand, same random numbers) —
the policy-impact promotion gate (:mod:`planning.policy_impact`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
from ml.periods import shift_period
from ml.policy.service_calibration import calibrated_fill_rate, configured_shortage_ratios
from ml.segment_policies import SegmentPolicies
from planning.backtest_origins import (
    Segmenter,
    backtest_windows,
    calibration_window,
    model_segmenter,
    origin_windows,
    rule_segmenter,
)
from planning.backtest_strategies import (
    ABC_LEVELS,
    STRATEGIES,
    TUNED,
    TUNED_CLASSES,
    TUNED_PRODUCTS,
    OriginStrategies,
    origin_strategies,
    sweep_levels,
)
from planning.backtest_tuning import (
    Bounds,
    Edges,
    class_edges,
    class_key,
    grouped_curves,
    product_key,
    segment_curves,
    segment_key,
    tuned_levels,
    tuned_policies,
)
from planning.optimise import segment_bounds
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
    policy_sets,
)

__all__ = [
    "ABC_LEVELS",
    "CALIBRATION_MIN_PRODUCTS",
    "STRATEGIES",
    "TUNED",
    "TUNED_CLASSES",
    "TUNED_PRODUCTS",
    "Backtest",
    "Learned",
    "OriginResult",
    "backtest",
    "backtest_models",
    "backtest_windows",
    "calibration_window",
    "learning_window",
    "model_segmenter",
    "origin_strategies",
    "origin_windows",
    "replay_origin",
    "rule_segmenter",
    "with_tuned_segments",
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
    curves: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)  # csl sweep per segment
    class_curves: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)  # ... per class
    edges: Edges = field(default_factory=dict, repr=False)  # the classes' cycle-value bands
    product_curves: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)  # per product

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


def _calibration_table(catalogue: PolicySet) -> pd.DataFrame:
    """Per segment of the catalogue's replay: products, planned and achieved fill rate, gap."""
    planned = planned_fill(catalogue.policies)
    by = catalogue.by_segment
    by = by[by[SEGMENT] != "all"]
    table = pd.DataFrame(
        {
            SEGMENT: by[SEGMENT].to_numpy(),
            C.PRODUCTS: by[C.PRODUCTS].to_numpy(),
            "planned_fill_rate": by[SEGMENT].map(planned).to_numpy(np.float64),
            C.FILL_RATE: by[C.FILL_RATE].to_numpy(np.float64),
        }
    )
    table["gap"] = table[C.FILL_RATE] - table["planned_fill_rate"]
    return table


def _calibrated(table: pd.DataFrame, ratios: dict[str, float]) -> pd.DataFrame:
    """The table with each segment's shortage ratio, calibrated plan and the gap against it."""
    out = table.rename(columns={"gap": "raw_gap"})
    out["shortage_ratio"] = out[SEGMENT].map(ratios).astype(np.float64)
    out["calibrated_planned_fill_rate"] = calibrated_fill_rate(
        out["planned_fill_rate"], out["shortage_ratio"]
    )
    out["gap"] = out[C.FILL_RATE] - out["calibrated_planned_fill_rate"]
    return out


@dataclass(frozen=True)
class Learned:
    """What one replayed window teaches the next origin: the catalogue's calibration table, the
    per-segment curves of the cycle-service sweep and the fill rate the catalogue achieved."""

    window: SimulationWindow
    calibration: pd.DataFrame
    curves: pd.DataFrame
    fill_rate: float
    class_curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    edges: Edges = field(default_factory=dict)
    product_curves: pd.DataFrame = field(default_factory=pd.DataFrame)


def _finer_curves(swept: list[PolicySet], bands: int) -> tuple[pd.DataFrame, Edges, pd.DataFrame]:
    """The csl sweep's curves per service class (bands cut on the sweep's first set), the
    classes' edges, and the curves per product."""
    if not swept:
        return pd.DataFrame(), {}, pd.DataFrame()
    edges = class_edges(swept[0].policies, bands)
    by_level = [(float(p.level), p.outcomes, p.policies) for p in swept]  # type: ignore[arg-type]
    return grouped_curves(by_level, class_key(edges)), edges, grouped_curves(by_level, product_key)


def learning_window(
    ws: Workspace,
    window: SimulationWindow,
    *,
    segmenter: Segmenter,
    catalogue: Catalogue,
    config: PolicyConfig,
    sweep: bool = True,
) -> Learned:
    """The catalogue's policies and (``sweep``) the uniform cycle-service sweep of one window,
    replayed."""
    day = window.policy_as_of
    features = pit_features(ws, day)
    segments, _ = segmenter(features, day)
    (configured,) = policy_sets(ws, features, segments, catalogue, config, day, [None], "")
    levels = sweep_levels(configured, config) if sweep else []
    sweep_sets = policy_sets(ws, features, segments, catalogue, config, day, levels, "csl")
    frames, _ = common_products([configured, *sweep_sets])
    play = replayer(ws, window, config, frames[0])
    played, *swept = play.stacked(frames, ["catalogue", *("csl" for _ in levels)], [None, *levels])
    by_level = [(lv, p.by_segment) for lv, p in zip(levels, swept, strict=True)]
    return Learned(
        window,
        _calibration_table(played),
        segment_curves(by_level),
        float(played.overall[C.FILL_RATE]),
        *_finer_curves(swept, config.optimise.bands),
    )


def replay_origin(
    window: SimulationWindow,
    source: SegmentSource,
    made: OriginStrategies,
    run: Callable[[pd.DataFrame], Replayer] | Replayer,
    others: list[SegmentPolicies] | None = None,
    bands: int = 1,
) -> OriginResult:
    """Every strategy and sweep level replayed on the same products and random numbers.

    ``run`` is a Replayer, or a function that builds one from the first frame (so the demand is
    read for exactly the products every set has a policy for). ``others`` (other models' sets
    at this origin) narrow the products to those they have too, so that several models replay
    the same products in the same order: the same random numbers for each. ``bands``: the
    cycle-value bands per segment of the service classes the next origin tunes on.
    """
    names = list(made.sets)
    sweep_keys = [(k, lv) for k, pts in made.sweeps.items() for lv, _ in pts]
    every = made.every
    frames, _ = common_products([*every, *(others or [])])
    frames = frames[: len(every)]
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
    sweep_rows, csl_by_level, csl_sets = [], [], []
    for (kind, lv), swept, frame in zip(
        sweep_keys, every_played[len(names) :], frames[len(names) :], strict=True
    ):
        sweep_rows.append({"kind": kind, "level": lv, **_figures(swept, frame)})
        if kind == "csl":
            csl_by_level.append((lv, swept.by_segment))
            csl_sets.append(swept)
    sweeps = pd.DataFrame(sweep_rows)
    calibration = _calibration_table(played["catalogue"])
    strategies = _savings(pd.DataFrame(rows), sweeps)
    policies = {name: p.policies for name, p in played.items()}
    curves = segment_curves(csl_by_level)
    return OriginResult(
        window,
        source,
        len(frames[0]),
        strategies,
        calibration,
        sweeps,
        policies,
        curves,
        *_finer_curves(csl_sets, bands),
    )


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
        """Per segment: products and achieved - planned fill rate, averaged over origins, with
        the standard error of that mean (``gap_se``: the origins' sd of the gap over the root
        of their number; NaN from one origin): how far the average could be from the segment's
        true calibration error by the luck of its quarters alone."""
        frame = pd.concat([o.calibration for o in self.origins], ignore_index=True)
        if "calibrated_planned_fill_rate" not in frame:  # built without calibration
            frame = _calibrated(frame, {})
        out = frame.groupby(SEGMENT, sort=True).agg(
            products=(C.PRODUCTS, "mean"),
            planned_fill_rate=("planned_fill_rate", "mean"),
            calibrated_planned_fill_rate=("calibrated_planned_fill_rate", "mean"),
            fill_rate=(C.FILL_RATE, "mean"),
            gap=("gap", "mean"),
            raw_gap=("raw_gap", "mean"),
            origins=("gap", "size"),
            gap_sd=("gap", "std"),
        )
        out["gap_se"] = out.pop("gap_sd") / np.sqrt(out["origins"])
        return out.reset_index()

    def _gap_max(self, column: str) -> float | None:
        cal = self.calibration
        judged = cal[cal["products"] >= CALIBRATION_MIN_PRODUCTS]
        return float(judged[column].abs().max()) if len(judged) else None

    @property
    def calibration_gap_max(self) -> float | None:
        """The largest |achieved - calibrated plan| over segments with >= 30 products (averaged
        over origins; the plan is the formulas' where no earlier window calibrated it)."""
        return self._gap_max("gap")

    @property
    def raw_calibration_gap_max(self) -> float | None:
        """The same against the formulas' expected fill rate, uncalibrated."""
        return self._gap_max("raw_gap")

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
            "raw_calibration_gap_max": self.raw_calibration_gap_max,
            # the segment targets the backtest proposes: service classes tuned on the replay
            "saving_vs_best_uniform": self.saving(TUNED_CLASSES),
            "per_item_limit_saving": self.saving("per-product optimum"),
            "measured_per_item_limit_saving": self.saving(TUNED_PRODUCTS),
            "captured_share_of_limit": _share(
                self.saving(TUNED_CLASSES), self.saving("per-product optimum")
            ),
            "captured_share_of_measured_limit": _share(
                self.saving(TUNED_CLASSES), self.saving(TUNED_PRODUCTS)
            ),
            "service_classes_saving": self.saving("service classes"),
            "replay_tuned_saving": self.saving(TUNED),
            "workspace": self.workspace,
            "average": _records(self.average),
            "calibration": _records(self.calibration),
            "origins": [o.as_dict() for o in self.origins],
            "paths": {k: str(v) for k, v in self.paths.items()},
        }


def _share(saving: float | None, limit: float | None) -> float | None:
    """``saving`` as a share of a limit's (None where the limit saves nothing to share)."""
    if saving is None or limit is None or limit <= 0:
        return None
    return saving / limit


def with_tuned_segments(
    made: OriginStrategies, last: Learned | None, bounds: Bounds | None = None
) -> OriginStrategies:
    """The origin's strategies plus the targets tuned on the last window's replay per segment,
    per service class and per product, at the fill rate the catalogue achieved there (the
    catalogue's own set when nothing was learned yet); segments and classes within ``bounds``
    (each segment's service floor and ceiling), products free (the measured limit)."""
    if "csl" not in made.sweeps:  # no uniform sweep built: nothing to tune with
        return made
    tuned = dict.fromkeys((TUNED, TUNED_CLASSES, TUNED_PRODUCTS), made.sets["catalogue"])
    if last is not None:
        for name, curves, key, monotone, limits in (
            (TUNED, last.curves, segment_key, False, bounds),
            (TUNED_CLASSES, last.class_curves, class_key(last.edges), True, bounds),
            (TUNED_PRODUCTS, last.product_curves, product_key, False, None),
        ):
            if not curves.empty:
                levels = tuned_levels(curves, last.fill_rate, monotone, limits)
                tuned[name] = tuned_policies(made.sweeps["csl"], levels, made.level, key)
    sets = {**made.sets, **tuned}
    return replace(made, sets={name: sets[name] for name in STRATEGIES if name in sets})


def _end(window: SimulationWindow) -> date:
    """The day after the window's last measured period."""
    return shift_period(window.last, 1, window.bucket)


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
    and the same random numbers, so differences between them are their segmentations'. Each
    model learns its own calibration and tuned targets from its own earlier windows.
    """
    say = progress or (lambda _m: None)
    windows = windows or backtest_windows(ws, config)
    tune = bool({TUNED, TUNED_CLASSES, TUNED_PRODUCTS} & set(strategies))
    bounds = segment_bounds(catalogue, config) if tune else None
    learned: dict[str, list[Learned]] = {name: [] for name in segmenters}
    before = calibration_window(ws, config, windows) if config.backtest.calibrate or tune else None
    if before is not None:
        say(f"learning window {before.describe()}: the catalogue's policies replayed")
        for name, segmenter in segmenters.items():
            learned[name].append(
                learning_window(
                    ws, before, segmenter=segmenter, catalogue=catalogue, config=config, sweep=tune
                )
            )
    results: dict[str, list[OriginResult]] = {name: [] for name in segmenters}
    for window in windows:
        day, at = window.policy_as_of, f"origin {window.first.isoformat()}"
        say(f"{at}: snapshot and segments as of {day.isoformat()}")
        features = pit_features(ws, day)
        made: dict[str, tuple[SegmentSource, OriginStrategies]] = {}
        for name, segmenter in segmenters.items():
            segments, source = segmenter(features, day)
            say(f"{at}: policies of every strategy" + (f" ({name})" if len(segmenters) > 1 else ""))
            strat = origin_strategies(
                ws, features, segments, catalogue, config, day, source, strategies
            )
            # only windows that ended before this origin's policies were set: no look-ahead
            past = [w for w in learned[name] if _end(w.window) <= window.first]
            if tune:
                strat = with_tuned_segments(strat, past[-1] if past else None, bounds)
            made[name] = (source, strat)
        say(f"{at}: replaying {window.describe()}")
        run = _shared_replayer(ws, window, config)
        for name, (source, strat) in made.items():
            others = [s for n, (_, o) in made.items() if n != name for s in o.every]
            result = replay_origin(window, source, strat, run, others, config.optimise.bands)
            past = [w for w in learned[name] if _end(w.window) <= window.first]
            used = past[-config.backtest.calibration_windows :] if config.backtest.calibrate else []
            raw = result.calibration
            ratios = configured_shortage_ratios([w.calibration for w in used], config.backtest)
            results[name].append(replace(result, calibration=_calibrated(raw, ratios)))
            fill = float(result.strategies.set_index("strategy").loc["catalogue", C.FILL_RATE])
            learned[name].append(
                Learned(
                    window,
                    raw,
                    result.curves,
                    fill,
                    result.class_curves,
                    result.edges,
                    result.product_curves,
                )
            )
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
