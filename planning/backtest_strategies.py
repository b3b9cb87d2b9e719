"""Each backtest strategy's policies at one origin, from what was known there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ml import columns as C
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
from ml.errors import StrataError
from ml.policy.safety_stock import _implied_by_reorder_point, _reorder_point, _safety_stock
from ml.segment_policies import SegmentPolicies
from ml.segment_rules import ABC, rule_classes
from planning.optimise import proposal_from_policies
from planning.policy_job import compute_policy_sets
from planning.segment_source import (
    SegmentSource,
)
from planning.simulation import (
    demand_weighted_target,
    policy_sets,
)

__all__ = [
    "ABC_LEVELS",
    "STRATEGIES",
    "TUNED",
    "TUNED_CLASSES",
    "TUNED_PRODUCTS",
    "OriginStrategies",
    "origin_strategies",
    "sweep_levels",
]


#: the strategies side by side, in report order
STRATEGIES = (
    "uniform csl",
    "uniform fill rate",
    "classic abc",
    "catalogue",
    "service classes",
    "replay-tuned segments",
    "replay-tuned classes",
    "replay-tuned products",
    "per-product optimum",
)

#: the strategy whose segment targets are tuned on the last window's replay (planning.backtest)
TUNED = "replay-tuned segments"
#: the same at segment x cycle-value band (planning.backtest_tuning)
TUNED_CLASSES = "replay-tuned classes"
#: ... and per product, the measured per-product limit
TUNED_PRODUCTS = "replay-tuned products"


#: classic ABC cycle-service levels; products the rules call new get C's level
ABC_LEVELS = {"A": 0.98, "B": 0.95, "C": 0.90}


_UNIFORM_KINDS = {"uniform csl": "csl", "uniform fill rate": "fill_rate"}


def _abc_policies(
    ws: Workspace,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    catalogue: Catalogue,
    config: PolicyConfig,
    day: date,
    computed: dict[float, SegmentPolicies],
) -> SegmentPolicies:
    """Classic ABC: cycle service 98 / 95 / 90 % by the snapshot's abc rule class.

    ``computed``: uniform cycle-service sets already computed, by level (the sweep's); only
    the levels missing there are computed."""
    abc = rule_classes(features, catalogue.drivers)[ABC].astype("str")
    level = abc.map(ABC_LEVELS).fillna(ABC_LEVELS["C"]).to_numpy()
    by_sku = pd.Series(level, index=features[C.SKU_ID].astype("str").to_numpy())
    levels = sorted(set(ABC_LEVELS.values()), reverse=True)
    missing = [lv for lv in levels if lv not in computed]
    more = policy_sets(ws, features, segments, catalogue, config, day, missing, "csl")
    have = {**computed, **dict(zip(missing, more, strict=True))}
    sets = [have[lv] for lv in levels]
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
    r = np.maximum(_reorder_point(mean, _safety_stock(np.nan_to_num(k), sd)), 0.0)
    safety, _ = _implied_by_reorder_point(r, mean, sd)
    out = pol.assign(
        **{
            C.REORDER_POINT: np.where(normal, r, pol[C.REORDER_POINT]),
            C.SAFETY_STOCK: np.where(normal, safety, pol[C.SAFETY_STOCK]),
            C.EXPECTED_FILL_RATE: np.where(
                normal, rate.to_numpy(np.float64), pol[C.EXPECTED_FILL_RATE]
            ),
        }
    )
    return SegmentPolicies(policies=out, flagged=result.flagged)


def sweep_levels(configured: SegmentPolicies, config: PolicyConfig) -> list[float]:
    """The uniform rules' level (configured, else the catalogue's demand-weighted target) first,
    then the configured sweep."""
    sim = config.simulation.uniform
    level = sim.service_level or demand_weighted_target(configured.policies)
    return [level, *sorted(set(sim.sweep) - {level})]


@dataclass(frozen=True)
class OriginStrategies:
    """The policy sets of one origin, all fitted on the as-of snapshot."""

    sets: dict[str, SegmentPolicies]  # by strategy name (STRATEGIES)
    sweeps: dict[str, list[tuple[float, SegmentPolicies]]]  # uniform kind -> (level, set)
    level: float  # the catalogue's demand-weighted target, the uniform rules' level
    optimiser_target: float | None  # None when no optimised strategy was asked for

    @property
    def every(self) -> list[SegmentPolicies]:
        """Every set replayed: the strategies', then the sweeps' (kind by kind, level by level)."""
        return [*self.sets.values(), *(s for pts in self.sweeps.values() for _, s in pts)]


def _checked(strategies: tuple[str, ...]) -> tuple[str, ...]:
    """The strategies asked for, in report order; the catalogue is always one of them."""
    unknown = sorted(set(strategies) - set(STRATEGIES))
    if unknown:
        raise StrataError(
            f"backtest strategies {', '.join(map(repr, unknown))} are not known; pick from "
            f"{', '.join(STRATEGIES)}"
        )
    return tuple(s for s in STRATEGIES if s in strategies or s == "catalogue")


def origin_strategies(
    ws: Workspace,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    catalogue: Catalogue,
    config: PolicyConfig,
    day: date,
    source: SegmentSource,
    strategies: tuple[str, ...] = STRATEGIES,
) -> OriginStrategies:
    """The strategies' policies and the uniform sweeps from one as-of snapshot (in memory).

    ``strategies`` picks which are built (the catalogue always is). Each policy set costs a
    policy computation, and the uniform sweeps are most of them, so they are built only when a
    uniform strategy is asked for; without them no saving against the best uniform rule is
    measured (the promotion gate asks for the catalogue alone, see
    :mod:`planning.policy_impact`).
    """
    wanted = _checked(strategies)
    (configured,) = policy_sets(ws, features, segments, catalogue, config, day, [None], "")
    levels = sweep_levels(configured, config)
    level = levels[0]
    sweeps: dict[str, list[tuple[float, SegmentPolicies]]] = {}
    sets: dict[str, SegmentPolicies] = {}
    if any(name in wanted for name in _UNIFORM_KINDS):
        # both sweeps from one build of the inputs, each set exactly as computed alone
        uniforms = [(lv, kind) for kind in _UNIFORM_KINDS.values() for lv in levels]
        every = compute_policy_sets(ws, features, segments, catalogue, config.build, day, uniforms)
        for i, (name, kind) in enumerate(_UNIFORM_KINDS.items()):
            swept = every[i * len(levels) : (i + 1) * len(levels)]
            sets[name] = swept[0]
            sweeps[kind] = list(zip(levels, swept, strict=True))
    if "classic abc" in wanted:
        sets["classic abc"] = _abc_policies(
            ws, features, segments, catalogue, config, day, dict(sweeps.get("csl", []))
        )
    sets["catalogue"] = configured
    target = None
    if "service classes" in wanted or "per-product optimum" in wanted:
        proposal = proposal_from_policies(
            configured, catalogue=catalogue, config=config, as_of=day, source=source
        )
        target = proposal.target
        (classes,) = policy_sets(
            ws, features, segments, proposal.catalogue, config, day, [None], ""
        )
        sets["service classes"] = classes
        sets["per-product optimum"] = _per_product_policies(configured, proposal.per_product)
    return OriginStrategies({n: sets[n] for n in wanted if n in sets}, sweeps, level, target)
