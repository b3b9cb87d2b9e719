"""Each backtest strategy's policies at one origin, from what was known there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ml import columns as C
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
from ml.policy.safety_stock import _implied_by_reorder_point, _reorder_point, _safety_stock
from ml.segment_policies import SegmentPolicies
from ml.segment_rules import ABC, rule_classes
from planning.optimise import proposal_from_policies
from planning.segment_source import (
    SegmentSource,
)
from planning.simulation import (
    demand_weighted_target,
    policy_sets,
)

__all__ = ["ABC_LEVELS", "STRATEGIES", "OriginStrategies", "origin_strategies"]


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
        "classic abc": _abc_policies(
            ws, features, segments, catalogue, config, day, dict(sweeps["csl"])
        ),
        "catalogue": configured,
        "service classes": classes,
        "per-product optimum": _per_product_policies(configured, proposal.per_product),
    }
    return OriginStrategies(sets, sweeps, level, proposal.target)
