"""The numbers the promotion gates judge, measured for a candidate version on the newest snapshot.

From the version's MLflow run: ``cv_macro_f1``, ``holdout_macro_f1``, ``noise_share`` (clusters
labeller). On the newest snapshot, with the candidate scored there: ``min_segment_share``,
``segment_change_share`` (share of products whose segment the candidate would change against the
champion's current assignments — read from the scoring sink, else the champion scored now —
overrides left out, since they hold whatever the model says), ``shap_additivity_error`` (on a
sample; ``serving.explain.additivity_error``), ``psi.<attribute>`` for every attribute the model
reads (training snapshot, run tag ``as_of``, against the newest) and the policy impact when the
policy simulation (``planning.simulation.policy_impact``) can replay the demand history
(n/a with the reason otherwise). The champion's numbers on the same snapshot go to
``champion_metrics`` for the comparison gates. Extra measurements that no gate judges (each
model's macro-F1 against the catalogue's rule labels on the newest snapshot) are reported too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import SKU_ID
from ml.config import Workspace
from ml.drift import drift_metrics, psi_by_attribute
from ml.errors import StrataError
from store.registry import ModelVersionInfo

__all__ = ["GateMeasurements", "measure", "policy_impact_fn", "segment_shares"]

RUN_METRICS = ("cv_macro_f1", "holdout_macro_f1", "noise_share")
POLICY_METRICS = ("policy_inventory_value", "policy_fill_rate")


@dataclass
class GateMeasurements:
    """What was measured for one candidate (and its champion) on one snapshot."""

    snapshot: date
    metrics: dict[str, float | None]
    champion_metrics: dict[str, float | None] | None
    extras: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def segment_shares(segments: pd.Series, known: list[str]) -> dict[str, float]:
    """Share of products in each segment the model learned (0 for one nobody got).

    Products the model parks in the catalogue's new-product fallback (unsure launches) count in
    the denominator but not as a segment: the gate asks whether a learned segment collapsed.
    """
    n = max(len(segments), 1)
    counts = segments.value_counts()
    return {s: float(counts.get(s, 0)) / n for s in known}


def policy_impact_fn() -> Any | None:
    """``planning.simulation.policy_impact(ws, candidate, champion)``, when the module is there."""
    try:
        from planning.simulation import policy_impact
    except ImportError:
        return None
    return policy_impact


def _policy_numbers(result: Any) -> tuple[dict[str, float], dict[str, float]]:
    """(candidate, champion) policy metrics of policy_impact's ``{"candidate": {...},
    "champion": {...}}``."""
    if not isinstance(result, dict):
        return {}, {}
    cand = result.get("candidate") or {}
    champ = result.get("champion") or {}
    return (
        {k: float(cand[k]) for k in POLICY_METRICS if cand.get(k) is not None},
        {k: float(champ[k]) for k in POLICY_METRICS if champ.get(k) is not None},
    )


def _rule_macro_f1(frame: pd.DataFrame, predicted: pd.Series, catalogue: Any) -> float | None:
    from sklearn.metrics import f1_score

    from ml.catalogue import assign_by_rules

    if len(frame) != len(predicted):  # a family-grain model: its rows are families
        return None
    labels = assign_by_rules(frame, catalogue)[C.SEGMENT].astype("str").to_numpy()
    pred = predicted.astype("str").to_numpy()
    names = sorted(set(labels) & set(pred)) or None
    if names is None:
        return None
    return float(f1_score(labels, pred, labels=names, average="macro", zero_division=0))


def measure(
    ws: Workspace,
    candidate: ModelVersionInfo,
    champion: ModelVersionInfo | None,
    *,
    champion_assignments: pd.DataFrame | None,
    catalogue: Any = None,
    policy: Any = None,
    sample: int = 2000,
    num_threads: int = 0,
) -> GateMeasurements:
    """Measure every gate metric of `candidate` (and of `champion`) on the newest snapshot."""
    from features.snapshots import list_snapshots, load_features
    from serving.explain import additivity_error
    from serving.predict import (
        at_model_grain,
        check_snapshot,
        input_spec,
        load_pyfunc,
        model_inputs,
        model_segments,
        predict_pandas,
        prediction_params,
    )

    notes: list[str] = []
    extras: dict[str, Any] = {}
    newest = list_snapshots(ws)[-1] if list_snapshots(ws) else None
    frame = load_features(newest, workspace=ws)
    where = f"the newest snapshot ({newest}) of workspace '{ws.name}'"
    plain = prediction_params(explain=False, num_threads=num_threads)

    def scored(info: ModelVersionInfo) -> tuple[Any, Any, pd.DataFrame, pd.DataFrame]:
        pyfunc = load_pyfunc(info.uri)
        spec = input_spec(pyfunc)
        rows = at_model_grain(pyfunc, frame)
        check_snapshot(rows, spec, where, f"{info.model_name} v{info.version}")
        inputs = model_inputs(rows, spec)
        return pyfunc, spec, inputs, predict_pandas(pyfunc, inputs, plain)

    pyfunc, spec, inputs, preds = scored(candidate)
    segs = model_segments(pyfunc)
    metrics: dict[str, float | None] = {k: candidate.run_metrics.get(k) for k in RUN_METRICS}
    shares = segment_shares(preds[C.SEGMENT], segs)
    metrics["min_segment_share"] = min(shares.values()) if shares else None
    extras["segment_shares"] = shares
    parked = 1.0 - sum(shares.values())
    if parked > 0:
        extras["fallback_share"] = parked
    metrics["shap_additivity_error"] = additivity_error(
        pyfunc, inputs, preds[C.SEGMENT], sample=sample, num_threads=num_threads
    )

    trained = candidate.trained_as_of
    if trained and date.fromisoformat(trained) in list_snapshots(ws):
        old = load_features(date.fromisoformat(trained), workspace=ws)
        attrs = [c for c in spec.numeric if c in old.columns and c in frame.columns]
        psi = psi_by_attribute(old, frame, attrs)
        metrics.update(drift_metrics(psi))
        worst = sorted(psi.items(), key=lambda kv: -kv[1])[:5]
        extras["psi_worst"] = {k: round(v, 4) for k, v in worst}
    else:
        notes.append(
            f"drift not measured: the training snapshot ({trained or 'unknown'}) is not in "
            f"workspace '{ws.name}'; rebuild it with `strata features build --as-of {trained}`"
        )

    champion_metrics: dict[str, float | None] | None = None
    champ_preds = None
    if champion is not None:
        champion_metrics = {k: champion.run_metrics.get(k) for k in RUN_METRICS}
        champ_pyfunc, _, _, champ_preds = scored(champion)
        c_shares = segment_shares(champ_preds[C.SEGMENT], model_segments(champ_pyfunc))
        champion_metrics["min_segment_share"] = min(c_shares.values()) if c_shares else None
        current = champion_assignments
        if current is None or current.empty:
            current = champ_preds
            notes.append(
                f"stability: v{champion.version} has no assignments in the scoring sink; "
                f"compared with v{champion.version} scored on {newest} now"
            )
        elif C.METHOD in current:
            current = current[current[C.METHOD] != "override"]
        both = current[[SKU_ID, C.SEGMENT]].merge(
            preds[[SKU_ID, C.SEGMENT]], on=SKU_ID, suffixes=("_now", "_new")
        )
        metrics["segment_change_share"] = (
            float((both[f"{C.SEGMENT}_now"] != both[f"{C.SEGMENT}_new"]).mean())
            if len(both)
            else None
        )
        extras["stability_compared"] = len(both)

    impact = policy_impact_fn()
    if impact is None:
        notes.append("policy impact n/a: the policy simulation (planning.simulation) is missing")
    elif catalogue is None or policy is None:
        notes.append("policy impact not measured: no catalogue and policy config were given")
    elif champion is not None and champ_preds is not None:
        try:
            result = impact(
                ws,
                preds[[SKU_ID, C.SEGMENT]],
                champ_preds[[SKU_ID, C.SEGMENT]],
                catalogue=catalogue,
                config=policy,
            )
        except StrataError as exc:  # no history to replay: the gates report n/a and say why
            notes.append(f"policy impact not measured: {exc}")
        else:
            cand_pol, champ_pol = _policy_numbers(result)
            metrics.update(cand_pol)
            champion_metrics.update(champ_pol)
            extras["policy_impact"] = {
                **{f"candidate_{k}": v for k, v in cand_pol.items()},
                **{f"champion_{k}": v for k, v in champ_pol.items()},
            }

    if catalogue is not None:
        try:
            extras["rule_macro_f1"] = _rule_macro_f1(frame, preds[C.SEGMENT], catalogue)
            if champ_preds is not None:
                extras["champion_rule_macro_f1"] = _rule_macro_f1(
                    frame, champ_preds[C.SEGMENT], catalogue
                )
        except Exception as exc:  # a catalogue that does not fit this snapshot: report, go on
            notes.append(f"rule agreement not measured: {exc}")
    for k, v in list(metrics.items()):
        if v is not None and not np.isfinite(v):
            metrics[k] = None
    return GateMeasurements(newest, metrics, champion_metrics, extras, notes)
