"""`strata policy optimise`: fill-rate targets per segment that hold the service for less stock.

For one snapshot (the newest by default) the policy job's own computation gives each product's
demand weight (mean demand per period), lot size Q, lead-time-demand sd and unit value under
today's catalogue. On those, :mod:`ml.policy.service_optimiser` solves, at one aggregate
demand-weighted fill rate (default: what the catalogue plans today):

- one cycle-service level for every product and one fill rate for every product (the uniform
  rules a planner would otherwise set);
- one fill-rate target per segment within the catalogue's floors and ceilings, by marginal
  analysis on each segment's exchange curve, and one cycle-service level per segment;
- **service classes**: one cycle-service level per segment x cycle-value band
  (:mod:`ml.policy.service_classes`: at the optimum a product's service depends only on its
  unit value x the periods one lot lasts, so bands cut along it capture nearly all of
  the limit's saving); this is what the proposal holds;
- one safety factor per product (the Lagrangian limit, the yardstick).

Order quantities stay as they are, so the saving is bought by service levels alone. The service-class
targets are written as a reviewable proposal, a complete catalogue file under
``<warehouse>/reports/`` that `strata policy build --catalogue FILE` (or the workspace's
``catalogue:``) can adopt; nothing in configs/ changes. All products are modelled with normal
lead-time demand of their own moments here (intermittent segments too): the proposal is judged
against the replay by `strata simulate --catalogue FILE` before it is adopted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from features.snapshots import load_features
from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.catalogue import ServiceBand
from ml.config.policy import PolicyConfig
from ml.config.scoring import ScoringConfig
from ml.errors import StrataError
from ml.policy.fill_rate import _expected_fill_rate
from ml.policy.service_classes import ClassPlan, band_edges, cycle_value, optimise_class_levels
from ml.policy.service_optimiser import (
    ServicePlan,
    optimise_per_product,
    optimise_per_segment,
    uniform_cycle_service,
    uniform_fill_rate,
)
from ml.segment_policies import SegmentPolicies
from planning.policy_job import compute_policies
from planning.segment_source import SegmentSource, segment_assignments
from serving.runs import main_sinks

Array = NDArray[np.float64]

__all__ = [
    "PROPOSED",
    "STRATEGIES",
    "ServiceLevelProposal",
    "banded_catalogue",
    "optimise_service_levels",
    "proposal_from_policies",
    "segment_bounds",
]

STRATEGIES = (
    "uniform csl",
    "uniform fill rate",
    "segment fill rates",
    "segment csl",
    "service classes",
    "per-product optimum",
)
PROPOSED = "service classes"
_LEVEL_DECIMALS = 4  # proposed targets are rounded up, so the aggregate target still holds


@dataclass(frozen=True)
class ServiceLevelProposal:
    """The optimised segment targets, what each strategy costs, and the products left out."""

    as_of: date
    source: SegmentSource
    target: float
    segments: pd.DataFrame  # one row per segment: current and proposed target, stock values
    strategies: pd.DataFrame  # one row per strategy: safety-stock value, fill, saving
    excluded: dict[str, int]  # products left out of the optimisation, by reason
    catalogue: Catalogue  # the catalogue with the proposed targets
    # the limit per product: sku_id, its safety factor k and planned fill rate
    per_product: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def saving_vs_best_uniform(self) -> float:
        """Share of the best uniform rule's safety-stock value the proposed targets save."""
        return float(self.strategies.set_index("strategy").loc[PROPOSED, "saving"])

    @property
    def per_item_limit_saving(self) -> float:
        """The same share for one safety factor per product (the limit)."""
        return float(self.strategies.set_index("strategy").loc["per-product optimum", "saving"])


def _optimisable(policies: pd.DataFrame) -> pd.Series:
    """Rows the normal model can optimise: a positive lot and unit value where demand varies."""
    q = policies[C.ORDER_QTY].to_numpy(dtype=np.float64)
    v = policies[C.UNIT_VALUE].to_numpy(dtype=np.float64)
    sd = policies[C.LEAD_TIME_DEMAND_SD].to_numpy(dtype=np.float64)
    d = policies[C.DEMAND_MEAN].to_numpy(dtype=np.float64)
    usable = np.isfinite(d) & (d > 0) & np.isfinite(sd)
    return pd.Series(usable & ((sd == 0) | ((q > 0) & np.isfinite(v) & (v > 0))))


def segment_bounds(
    catalogue: Catalogue, config: PolicyConfig, names: list[str] | None = None
) -> dict[str, tuple[float, float]]:
    """Each segment's (service floor, ceiling): the catalogue's, else the optimise defaults."""
    opt = config.optimise
    out: dict[str, tuple[float, float]] = {}
    for name in names if names is not None else [s.name for s in catalogue.segments]:
        p = catalogue.segment(name).policy
        floor = opt.default_floor if p.service_level_floor is None else p.service_level_floor
        ceil = opt.default_ceiling if p.service_level_ceiling is None else p.service_level_ceiling
        if floor > ceil:
            raise StrataError(
                f"segment '{name}': floor {floor} is above ceiling {ceil} (segment values win "
                "over configs/policy.yaml optimise defaults); lower the floor or raise the "
                "ceiling in configs/segments.yaml"
            )
        out[name] = (floor, ceil)
    return out


def _bounds(catalogue: Catalogue, names: list[str], config: PolicyConfig) -> tuple[list, list]:
    bounds = segment_bounds(catalogue, config, names)
    return [bounds[n][0] for n in names], [bounds[n][1] for n in names]


def _strategy_rows(
    plans: dict[str, ServicePlan | ClassPlan], catalogue_value: float, fill: float
) -> list:
    best_uniform = min(plans["uniform csl"], plans["uniform fill rate"], key=_value)
    rows = [
        {
            "strategy": "catalogue as configured",
            C.SAFETY_STOCK_VALUE: catalogue_value,
            "planned_fill_rate": fill,
            "saving": _saving(catalogue_value, _value(best_uniform)),
        }
    ]
    for name, plan in plans.items():
        rows.append(
            {
                "strategy": name,
                C.SAFETY_STOCK_VALUE: _value(plan),
                "planned_fill_rate": plan.aggregate_fill_rate,
                "saving": _saving(_value(plan), _value(best_uniform)),
            }
        )
    return rows


def _saving(value: float, best_uniform: float) -> float:
    """Share of the best uniform rule's value saved (0 when that rule needs no safety stock)."""
    return 1.0 - value / best_uniform if best_uniform > 0 else 0.0


def _value(plan: ServicePlan | ClassPlan) -> float:
    return float(plan.total_safety_stock_value)


def _segment_table(
    x: _Inputs, plan: ClassPlan, bands: dict, floors: list, ceilings: list, catalogue: Catalogue
) -> pd.DataFrame:
    pol = x.policies
    current = (pol[C.UNIT_VALUE].fillna(1.0) * pol[C.SAFETY_STOCK]).groupby(pol[SEGMENT]).sum()
    proposed = np.bincount(x.code, plan.safety_stock_value, len(x.names))
    counts = pol[SEGMENT].value_counts()
    rows = []
    for i, name in enumerate(x.names):
        p = catalogue.segment(name).policy
        levels = bands[name][1]
        rows.append(
            {
                SEGMENT: name,
                C.PRODUCTS: int(counts.get(name, 0)),
                "current_target": f"{'FR' if p.service_level_type == 'fill_rate' else 'CSL'} "
                f"{p.service_level:g}",
                "floor": floors[i],
                "ceiling": ceilings[i],
                "proposed_csl_by_band": " / ".join(f"{lv:.3f}" for lv in levels),
                "current_safety_stock_value": float(current.get(name, 0.0)),
                "proposed_safety_stock_value": float(proposed[i]),
            }
        )
    return pd.DataFrame(rows)


def banded_catalogue(catalogue: Catalogue, bands: dict[str, tuple[Array, Array]]) -> Catalogue:
    """The catalogue with cycle-service levels by cycle-value band for the segments in ``bands``
    (segment -> inner edges, one level per band), rounded up to 4 decimals."""
    scale = 10**_LEVEL_DECIMALS
    segments = []
    for s in catalogue.segments:
        if s.name not in bands:
            segments.append(s)
            continue
        edges, levels = bands[s.name]
        rounded = [float(min(np.ceil(x * scale) / scale, 1.0 - 1.0 / scale)) for x in levels]
        listed = [
            {"cycle_value_below": float(f"{e:.6g}"), "service_level": lv}
            for e, lv in zip(edges, rounded, strict=False)
        ] + [{"service_level": rounded[-1]}]
        policy = s.policy.model_copy(
            update={
                "service_level": rounded[len(rounded) // 2],
                "service_level_type": "csl",
                "service_bands": [ServiceBand(**b) for b in listed],
            }
        )
        segments.append(s.model_copy(update={"policy": policy}))
    return Catalogue.model_validate(
        {**catalogue.model_dump(), "segments": [s.model_dump() for s in segments]}
    )


@dataclass(frozen=True)
class _Inputs:
    """The optimiser's view of the products with a usable policy under today's catalogue."""

    policies: pd.DataFrame
    args: tuple  # weight, order_qty, ltd_sd, unit_value
    names: list[str]
    code: NDArray[np.intp]
    planned: float  # the aggregate fill rate today's safety stocks give in the normal model
    excluded: dict[str, int]


def _todays_fill(pol: pd.DataFrame, d: Array) -> float:
    """The aggregate fill rate today's safety stocks give in the optimiser's (normal) model, so
    the catalogue as configured is compared on the same footing as the strategies."""
    sd = pol[C.LEAD_TIME_DEMAND_SD].to_numpy(dtype=np.float64)
    q = pol[C.ORDER_QTY].to_numpy(dtype=np.float64)
    varies = sd > 0
    k = np.where(
        varies, pol[C.SAFETY_STOCK].to_numpy(dtype=np.float64) / np.where(varies, sd, 1), 0
    )
    fill = np.where(varies, _expected_fill_rate(k, sd, np.where(q > 0, q, 1.0)), 1.0)
    return float(np.sum(d * fill) / np.sum(d))


def _inputs(result: SegmentPolicies) -> _Inputs:
    keep = _optimisable(result.policies).to_numpy()
    pol = result.policies.loc[keep].reset_index(drop=True)
    if pol.empty:
        raise StrataError(
            "no product has a policy the optimiser can use; run `strata policy build`"
        )
    d = pol[C.DEMAND_MEAN].to_numpy(dtype=np.float64)
    idle = int((result.policies[C.DEMAND_MEAN] <= 0).sum())
    names = sorted(pol[SEGMENT].astype(str).unique())
    return _Inputs(
        policies=pol,
        args=(
            d,
            pol[C.ORDER_QTY].to_numpy(dtype=np.float64),
            pol[C.LEAD_TIME_DEMAND_SD].to_numpy(dtype=np.float64),
            np.nan_to_num(pol[C.UNIT_VALUE].to_numpy(dtype=np.float64), nan=1.0),
        ),
        names=names,
        code=pd.Categorical(pol[SEGMENT].astype(str), categories=names).codes.astype(np.intp),
        planned=_todays_fill(pol, d),
        excluded={
            "no demand in the window (nothing to protect)": idle,
            "no unit value or lot size (kept as they are)": int((~keep).sum()) - idle,
        },
    )


def _classes(x: _Inputs, bands: int) -> tuple[NDArray[np.intp], list[tuple[int, Array]]]:
    """Each product's service class (segment x cycle-value band) and each segment's edges."""
    w, q, sd, v = x.args
    value = np.where(sd > 0, cycle_value(v, q, w), np.nan)
    band = np.zeros(w.size, dtype=np.intp)
    edges = []
    for s in range(len(x.names)):  # one pass per segment, vectorised within it
        rows = x.code == s
        e = band_edges(value[rows], bands)
        band[rows] = np.searchsorted(e, np.nan_to_num(value[rows], nan=0.0), side="right")
        edges.append((s, e))
    return x.code * (bands + 1) + band, edges


def _service_classes(
    x: _Inputs, goal: float, floors: list, ceilings: list, config: PolicyConfig, bands: int
) -> tuple[ClassPlan, dict[str, tuple[Array, Array]]]:
    group, edges = _classes(x, bands)
    codes, first = np.unique(group, return_inverse=True)
    segment_of = codes // (bands + 1)
    plan = optimise_class_levels(
        first,
        *x.args,
        goal,
        floor=np.asarray(floors)[segment_of],
        ceiling=np.asarray(ceilings)[segment_of],
        k_min=config.build.k_min,
    )
    levels = dict(zip(codes.tolist(), plan.level.tolist(), strict=True))
    proposal = {}
    for s, e in edges:
        named = [levels.get(s * (bands + 1) + b) for b in range(e.size + 1)]
        filled = [lv for lv in named if lv is not None]
        proposal[x.names[s]] = (e, np.array([lv if lv is not None else filled[0] for lv in named]))
    return plan, proposal


def optimise_service_levels(
    ws: Workspace,
    *,
    as_of: date | None = None,
    target: float | None = None,
    catalogue: Catalogue,
    scoring: ScoringConfig,
    config: PolicyConfig,
) -> ServiceLevelProposal:
    """The strategies at one aggregate fill rate and the service-class targets (module doc)."""
    features = load_features(as_of, workspace=ws)
    if features.empty:
        raise StrataError(f"the snapshot of workspace '{ws.name}' has no products")
    day = pd.Timestamp(features[C.AS_OF].iloc[0]).date()
    segments, source = segment_assignments(ws, features, catalogue, main_sinks(ws, scoring), day)
    result = compute_policies(ws, features, segments, catalogue, config.build, day)
    return proposal_from_policies(
        result, catalogue=catalogue, config=config, as_of=day, source=source, target=target
    )


def proposal_from_policies(
    result: SegmentPolicies,
    *,
    catalogue: Catalogue,
    config: PolicyConfig,
    as_of: date,
    source: SegmentSource,
    target: float | None = None,
) -> ServiceLevelProposal:
    """The strategies and the service-class proposal fitted on policies already computed.

    Pure: the backtest calls it on the policies as of each origin, so the optimiser sees only
    what was known then.
    """
    x = _inputs(result)
    goal = float(target or config.optimise.target_fill_rate or x.planned)
    floors, ceilings = _bounds(catalogue, x.names, config)
    k_min = config.build.k_min
    per_segment = optimise_per_segment(
        x.code,
        *x.args,
        goal,
        segment_floor=floors,
        segment_ceiling=ceilings,
        k_min=k_min,
        levels=config.optimise.levels,
        segment_names=x.names,
    )
    segment_csl, _ = _service_classes(x, goal, floors, ceilings, config, 1)
    classes, bands = _service_classes(x, goal, floors, ceilings, config, config.optimise.bands)
    limit = optimise_per_product(*x.args, goal, k_min=k_min)
    plans = {
        "uniform csl": uniform_cycle_service(*x.args, goal, k_min=k_min),
        "uniform fill rate": uniform_fill_rate(*x.args, goal, k_min=k_min),
        "segment fill rates": per_segment,
        "segment csl": segment_csl,
        PROPOSED: classes,
        "per-product optimum": limit,
    }
    pol = x.policies
    current_value = float(np.sum(pol[C.UNIT_VALUE].fillna(1.0) * pol[C.SAFETY_STOCK]))
    return ServiceLevelProposal(
        as_of=as_of,
        source=source,
        target=goal,
        segments=_segment_table(x, classes, bands, floors, ceilings, catalogue),
        strategies=pd.DataFrame(_strategy_rows(plans, current_value, x.planned)),
        excluded=x.excluded,
        catalogue=banded_catalogue(catalogue, bands),
        per_product=pd.DataFrame(
            {
                C.SKU_ID: pol[C.SKU_ID].astype("str").to_numpy(),
                "k": limit.k,
                C.EXPECTED_FILL_RATE: limit.fill_rate,
            }
        ),
    )
