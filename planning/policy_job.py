"""The policy job: segments + attributes + the catalogue's policies -> the policies table -> sinks.

``build_policies(ws)`` joins, for one snapshot (the newest by default):

- each product's **segment**: the scoring job's ``assignments`` from the first scoring sink (the
  partition for the snapshot's as_of, else the newest earlier one); when the sink holds none, the
  catalogue's rules (``ml.catalogue.assign_by_rules``, method ``rule``) — and the result says so;
- its **attributes** from the snapshot, and its own demand history for method ``bootstrap``;
- its segment's **policy** from the catalogue;

computes every policy with :mod:`ml.segment_policies` and writes one run to every scoring sink:

- ``policies``: one row per product with a valid policy — DESIGN.md's columns plus every input
  (d, sigma_d, L, sigma_L in periods, service level and type, review, method, unit value) so a
  planner can recompute it;
- ``policy_flags``: products whose inputs are bad, with every reason (never a NaN policy);
- ``policy_segments``: per segment the procurement review frequency and the totals.

The sinks replace a whole (as_of, model_version) partition per run, so the policy run writes its
own partition, model_version ``policy-<segment model version>`` (``policy-rules`` for rules):
it never hides the scoring run's assignments.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from features.snapshots import load_features
from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyBuildConfig, PolicyConfig
from ml.config.scoring import ScoringConfig
from ml.contracts import check_run_output
from ml.errors import StrataError
from ml.grain import at_grain
from ml.periods import last_complete_period
from ml.policy_inputs import policy_inputs, with_uniform_service_level
from ml.segment_policies import SegmentPolicies, segment_policies
from planning.policy_data import (
    demand_history,
)
from planning.segment_source import SEGMENT_REASONS, SegmentSource, segment_assignments
from planning.service_calibration_file import read_calibration, with_calibration
from serving.runs import main_sinks
from store.sink_common import WriteResult, sink_label
from store.sinks import read_table, write_runs

__all__ = [
    "POLICY_VERSION_PREFIX",
    "PolicyBuild",
    "build_policies",
    "compute_policies",
    "compute_policy_sets",
    "policy_of",
    "segment_summary",
]

POLICY_VERSION_PREFIX = "policy-"


@dataclass(frozen=True)
class PolicyBuild:
    """One policy run: what was computed, from which segments, and where it went."""

    as_of: date
    run_id: str
    source: SegmentSource
    policies: pd.DataFrame
    flagged: pd.DataFrame
    segments: pd.DataFrame
    written: list[WriteResult] = field(default_factory=list)


def compute_policies(
    ws: Workspace,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    catalogue: Catalogue,
    config: PolicyBuildConfig,
    as_of: date,
    *,
    uniform: tuple[float, str] | None = None,
) -> SegmentPolicies:
    """The policies of the products in ``features`` with the segments in ``segments``.

    In memory, no write: the simulation calls this on a past snapshot. ``uniform`` = (level,
    type) replaces every segment's service level (the uniform baseline).
    """
    (result,) = compute_policy_sets(ws, features, segments, catalogue, config, as_of, [uniform])
    return result


def compute_policy_sets(
    ws: Workspace,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    catalogue: Catalogue,
    config: PolicyBuildConfig,
    as_of: date,
    uniforms: list[tuple[float, str] | None],
) -> list[SegmentPolicies]:
    """:func:`compute_policies` once per entry of ``uniforms`` (None: the catalogue's levels),
    each exactly as alone; the inputs and the demand history are built once for all (not at
    all for no entry)."""
    if not uniforms:
        return []
    inputs = _policy_inputs(ws, features, segments, catalogue)
    history = None
    if (inputs[C.LTD_METHOD] == "bootstrap").any():
        skus = inputs.loc[inputs[C.LTD_METHOD] == "bootstrap", C.SKU_ID].tolist()
        last = last_complete_period(as_of, ws.calendar.bucket)
        history = demand_history(ws, skus, last, ws.calendar.window_periods, ws.calendar.bucket)
    return [
        segment_policies(
            inputs if uniform is None else with_uniform_service_level(inputs, *uniform),
            history,
            holding_rate=config.holding_rate,
            k_min=config.k_min,
            bootstrap_samples=config.bootstrap_samples,
            seed=config.seed,
        )
        for uniform in uniforms
    ]


def _policy_inputs(
    ws: Workspace, features: pd.DataFrame, segments: pd.DataFrame, catalogue: Catalogue
) -> pd.DataFrame:
    """Each product's policy inputs: its segment (series, else product) and the catalogue's
    policy of it, with where the segment came from."""
    seg = segments.drop_duplicates(C.SKU_ID, keep="last").set_index(C.SKU_ID)
    base = features[C.SKU_ID].astype("str")
    if C.LOCATION_ID in features.columns:  # product x location: one policy per series
        features = at_grain(features, "product_location")
    key = features[C.SKU_ID].astype("str")
    # a series takes its own segment, else its product's (a product-grain model)
    segment = key.map(seg[SEGMENT]).fillna(base.map(seg[SEGMENT])).fillna("(no segment)")
    frame = features.assign(**{SEGMENT: segment})
    inputs = policy_inputs(
        frame,
        catalogue,
        bucket=ws.calendar.bucket,
        default_margin=ws.features.default_margin,
        margin_by_category=ws.features.default_margin_by_category,
    )
    carried = {
        C.ASSIGNMENT_METHOD: C.ASSIGNMENT_METHOD,
        C.SEGMENT_MODEL_VERSION: C.SEGMENT_MODEL_VERSION,
        SEGMENT_REASONS: C.REASONS,
    }
    for col, source in carried.items():
        values = seg[source] if source in seg.columns else pd.Series(dtype="str")
        inputs[col] = inputs[C.SKU_ID].map(values).fillna("").astype("str").to_numpy()
    return inputs


def segment_summary(result: SegmentPolicies, catalogue: Catalogue) -> pd.DataFrame:
    """Per segment: policy, procurement review frequency, products, flags, stock value, fill rate."""
    pol, flags = result.policies, result.flagged
    value = pol[C.UNIT_VALUE].fillna(0.0)
    ss_value = np.maximum(pol[C.SAFETY_STOCK], 0.0) * value
    cycle_value = 0.5 * pol[C.ORDER_QTY] * value
    weight = pol[C.DEMAND_MEAN]
    frame = pd.DataFrame(
        {
            SEGMENT: pol[SEGMENT],
            "ss_value": ss_value,
            "cycle_value": cycle_value,
            "fill_x_d": pol[C.EXPECTED_FILL_RATE] * weight,
            "d": weight,
            "below": pol[C.COST_BASED],
        }
    )
    sums = frame.groupby(SEGMENT).agg(
        products=("d", "size"),
        safety_stock_value=("ss_value", "sum"),
        cycle_stock_value=("cycle_value", "sum"),
        fill_x_d=("fill_x_d", "sum"),
        d=("d", "sum"),
        cost_based_below_target=("below", "sum"),
    )
    flagged = flags.groupby(SEGMENT).size() if len(flags) else pd.Series(dtype="int64")
    rows = []
    names = [s.name for s in catalogue.segments]
    extra = sorted(set(sums.index) | set(flagged.index) - set(names))
    for name in names + [n for n in extra if n not in names]:
        s = next((x for x in catalogue.segments if x.name == name), None)
        p = s.policy if s else None
        got = sums.loc[name] if name in sums.index else None
        days = float(p.review_period_days) if p and p.review_period_days else 0.0
        rows.append(
            {
                SEGMENT: name,
                C.SERVICE_LEVEL_TYPE: p.service_level_type if p else "",
                C.TARGET_SERVICE_LEVEL: p.service_level if p else np.nan,
                C.REVIEW: p.review if p else "",
                C.REVIEW_PERIOD_DAYS: days,
                C.REVIEW_FREQUENCY: (
                    "" if p is None else "continuous" if p.review == "continuous" else _every(days)
                ),
                C.REVIEWS_PER_YEAR: (
                    np.nan if p is None else 365.25 if p.review == "continuous" else 365.25 / days
                ),
                C.LTD_METHOD: p.lead_time_demand if p else "",
                C.ORDER_RULE: p.order_quantity.rule if p else "",
                C.PRODUCTS: int(got["products"]) if got is not None else 0,
                "flagged": int(flagged.get(name, 0)),
                "cost_based_below_target": int(got["cost_based_below_target"])
                if got is not None
                else 0,
                "safety_stock_value": float(got["safety_stock_value"]) if got is not None else 0.0,
                "cycle_stock_value": float(got["cycle_stock_value"]) if got is not None else 0.0,
                C.EXPECTED_FILL_RATE: (
                    float(got["fill_x_d"] / got["d"])
                    if got is not None and got["d"] > 0
                    else np.nan
                ),
            }
        )
    return pd.DataFrame(rows)


def _every(days: float) -> str:
    return {7.0: "weekly", 14.0: "every 2 weeks", 28.0: "every 4 weeks"}.get(
        days, f"every {days:g} days"
    )


_FLAG_COLUMNS = [
    C.SKU_ID,
    SEGMENT,
    C.REASON,
    C.ASSIGNMENT_METHOD,
    C.SEGMENT_MODEL_VERSION,
    SEGMENT_REASONS,
    C.TARGET_SERVICE_LEVEL,
    C.SERVICE_LEVEL_TYPE,
    C.REVIEW,
    C.LTD_METHOD,
    C.DEMAND_MEAN,
    C.DEMAND_SD,
    C.LEAD_TIME_DAYS,
    C.LEAD_TIME_SD_DAYS,
    "adi",
    "cv2",
]


def _policies_table(result: SegmentPolicies, as_of: date) -> pd.DataFrame:
    pol = result.policies
    cols = [C.SKU_ID, SEGMENT, *C.POLICY_COLUMNS, C.MOQ, C.PACK_SIZE, "adi", "cv2"]
    cols += [C.ASSIGNMENT_METHOD, C.SEGMENT_MODEL_VERSION, SEGMENT_REASONS]
    out = pol[cols].copy()
    out.insert(1, C.AS_OF, pd.Series([as_of] * len(out), dtype="object"))
    return out


def _flags_table(result: SegmentPolicies, as_of: date) -> pd.DataFrame:
    out = result.flagged[_FLAG_COLUMNS].copy()
    out.insert(1, C.AS_OF, pd.Series([as_of] * len(out), dtype="object"))
    return out


def build_policies(
    ws: Workspace,
    *,
    as_of: date | None = None,
    catalogue: Catalogue,
    scoring: ScoringConfig,
    config: PolicyConfig,
    write: bool = True,
    progress: Callable[[str], None] | None = None,
) -> PolicyBuild:
    """Compute every product's policy for the snapshot as of ``as_of`` (newest when None) and
    write policies, policy_flags and policy_segments to every scoring sink (unless ``write``
    is False). See the module docstring."""
    say = progress or (lambda _m: None)
    say("reading the snapshot")
    features = load_features(as_of, workspace=ws)
    if features.empty:
        raise StrataError(f"the snapshot of workspace '{ws.name}' has no products")
    day = pd.Timestamp(features[C.AS_OF].iloc[0]).date()
    sinks = main_sinks(ws, scoring)
    say("reading the segments")
    segments, source = segment_assignments(ws, features, catalogue, sinks, day)
    say("computing the policies")
    result = compute_policies(ws, features, segments, catalogue, config.build, day)
    calibration = read_calibration(ws)
    result = SegmentPolicies(with_calibration(result.policies, calibration), result.flagged)
    summary = segment_summary(result, catalogue)
    run_id = f"policy-{day.isoformat()}-{uuid.uuid4().hex[:8]}"
    tables = {
        C.POLICIES: _policies_table(result, day),
        C.POLICY_FLAGS: _flags_table(result, day),
        C.POLICY_SEGMENTS: summary.assign(**{C.SEGMENT_MODEL_VERSION: source.model_version}),
    }
    version = POLICY_VERSION_PREFIX + source.model_version
    for name, frame in tables.items():
        check_run_output(
            name, frame, "the policy job", as_of=day, model_version=version, run_id=run_id
        )
    written: list[WriteResult] = []
    if write:
        say(f"writing to {', '.join(sink_label(s) for s in sinks)} (all or none)")
        written = write_runs(sinks, tables, as_of=day, model_version=version, run_id=run_id)
    return PolicyBuild(
        as_of=day,
        run_id=run_id,
        source=source,
        policies=tables[C.POLICIES],
        flagged=tables[C.POLICY_FLAGS],
        segments=tables[C.POLICY_SEGMENTS],
        written=written,
    )


def policy_of(ws: Workspace, sku: str, scoring: ScoringConfig) -> dict[str, object]:
    """The newest policy of one product with its inputs and its segment's reasons.

    Returns {"status": "ok" | "flagged", "row": {...}, "reasons": str, "run": {...}}; a product
    the newest policy run does not hold raises a StrataError naming close matches.
    """
    sinks = main_sinks(ws, scoring)
    if not sinks:
        raise StrataError("configs/scoring.yaml names no sink to read policies from")
    sink = sinks[0]
    policies = read_table(sink, C.POLICIES)
    day = pd.Timestamp(policies[C.AS_OF].iloc[0]).date() if len(policies) else None
    version = str(policies[C.MODEL_VERSION].iloc[0]) if len(policies) else None
    hit = policies[policies[C.SKU_ID].astype("str") == sku]
    status = "ok"
    if hit.empty:
        flags = read_table(sink, C.POLICY_FLAGS, as_of=day, model_version=version)
        hit = flags[flags[C.SKU_ID].astype("str") == sku]
        status = "flagged"
    if hit.empty:
        known = policies[C.SKU_ID].astype("str").tolist()
        close = difflib.get_close_matches(sku, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise StrataError(
            f"product {sku!r} has no policy in the newest policy run ({sink_label(sink)}, as of "
            f"{day}){hint}. Check the sku_id (`strata features show SKU`) and run `strata "
            "policy build` once the product is in a snapshot"
        )
    row = hit.iloc[0].to_dict()
    reasons = str(row.get(SEGMENT_REASONS) or "")
    return {
        "status": status,
        "row": row,
        "reasons": reasons,
        "run": {"as_of": day, "model_version": version, "run_id": row.get(C.RUN_ID)},
    }
