"""The numbers the promotion gates judge, measured for a candidate version on the newest snapshot.

From the version's MLflow run: ``cv_macro_f1``, ``holdout_macro_f1``, ``noise_share`` (clusters
labeller), ``ece`` (expected calibration error of the calibrated probabilities on held-out folds). On the newest snapshot, with the candidate scored there: ``min_segment_share``,
``segment_change_share`` (share of products whose segment the candidate would change against the
champion's current assignments — read from the scoring sink, else the champion scored now —
overrides left out, since they hold whatever the model says), ``shap_additivity_error`` (on a
sample; ``serving.explain.additivity_error``), ``psi.<attribute>`` for every attribute the model
reads (training snapshot, run tag ``as_of``, against the newest) and the policy impact
(``policy_fill_rate``, ``policy_inventory_value``): candidate and champion each backtested on
their own as-of segments from the same origins (``planning.policy_impact.policy_impact``; n/a
with the reason when the history or the as-of snapshots are missing). The champion's numbers on the same snapshot go to
``champion_metrics`` for the comparison gates. Extra measurements that no gate judges (each
model's macro-F1 against the catalogue's rule labels on the newest snapshot) are reported too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from features.snapshots import list_snapshots, load_features
from ml import columns as C
from ml.catalogue import assign_by_rules
from ml.columns import SKU_ID
from ml.config import Catalogue, PolicyConfig, Workspace
from ml.config.gates import PolicyBacktest
from ml.drift import drift_metrics, psi_by_attribute
from ml.errors import StrataError
from planning.backtest import model_segmenter
from planning.policy_impact import GATE_STRATEGY, policy_impact
from serving.explain import additivity_error
from serving.predict import (
    InputSpec,
    at_model_grain,
    check_snapshot,
    input_spec,
    load_pyfunc,
    model_inputs,
    model_segments,
    predict_pandas,
    prediction_params,
)
from store.registry import ModelVersionInfo

__all__ = ["GateMeasurements", "measure", "segment_shares"]

RUN_METRICS = ("cv_macro_f1", "holdout_macro_f1", "noise_share", "ece")


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


def _rule_macro_f1(frame: pd.DataFrame, predicted: pd.Series, catalogue: Catalogue) -> float | None:
    """Macro-F1 of a model's segments against the catalogue's rule segments (None: not comparable)."""
    if len(frame) != len(predicted):  # a family-grain model: its rows are families
        return None
    labels = assign_by_rules(frame, catalogue)[C.SEGMENT].astype("str").to_numpy()
    pred = predicted.astype("str").to_numpy()
    names = sorted(set(labels) & set(pred)) or None
    if names is None:
        return None
    return float(f1_score(labels, pred, labels=names, average="macro", zero_division=0))


@dataclass(frozen=True)
class _Scored:
    """One version scored on the newest snapshot (plain predictions, no reasons)."""

    pyfunc: Any
    spec: InputSpec
    inputs: pd.DataFrame
    predictions: pd.DataFrame


def _score(info: ModelVersionInfo, frame: pd.DataFrame, where: str, threads: int) -> _Scored:
    pyfunc = load_pyfunc(info.uri)
    spec = input_spec(pyfunc)
    rows = at_model_grain(pyfunc, frame)
    check_snapshot(rows, spec, where, f"{info.model_name} v{info.version}")
    inputs = model_inputs(rows, spec)
    plain = prediction_params(explain=False, num_threads=threads)
    return _Scored(pyfunc, spec, inputs, predict_pandas(pyfunc, inputs, plain))


def _drift(
    ws: Workspace, candidate: ModelVersionInfo, spec: InputSpec, newest: pd.DataFrame, out: _Out
) -> None:
    """PSI of every attribute the model reads, training snapshot against the newest."""
    trained = candidate.trained_as_of
    if not (trained and date.fromisoformat(trained) in list_snapshots(ws)):
        out.notes.append(
            f"drift not measured: the training snapshot ({trained or 'unknown'}) is not in "
            f"workspace '{ws.name}'; rebuild it with `strata features build --as-of {trained}`"
        )
        return
    old = load_features(date.fromisoformat(trained), workspace=ws)
    attrs = [c for c in spec.numeric if c in old.columns and c in newest.columns]
    psi = psi_by_attribute(old, newest, attrs)
    out.metrics.update(drift_metrics(psi))
    worst = sorted(psi.items(), key=lambda kv: -kv[1])[:5]
    out.extras["psi_worst"] = {k: round(v, 4) for k, v in worst}


def _stability(
    candidate: pd.DataFrame,
    current: pd.DataFrame | None,
    scored_now: pd.DataFrame,
    out: _Out,
    champion: ModelVersionInfo,
    newest: date,
) -> None:
    """Share of products the candidate would move against the champion's current assignments."""
    if current is None or current.empty:
        current = scored_now
        out.notes.append(
            f"stability: v{champion.version} has no assignments in the scoring sink; "
            f"compared with v{champion.version} scored on {newest} now"
        )
    elif C.METHOD in current:
        current = current[current[C.METHOD] != "override"]
    both = current[[SKU_ID, C.SEGMENT]].merge(
        candidate[[SKU_ID, C.SEGMENT]], on=SKU_ID, suffixes=("_now", "_new")
    )
    out.metrics["segment_change_share"] = (
        float((both[f"{C.SEGMENT}_now"] != both[f"{C.SEGMENT}_new"]).mean()) if len(both) else None
    )
    out.extras["stability_compared"] = len(both)


def _policy_impact(
    ws: Workspace,
    candidate: tuple[ModelVersionInfo, _Scored],
    champion: tuple[ModelVersionInfo, _Scored],
    catalogue: Catalogue | None,
    policy: PolicyConfig | None,
    backtest: PolicyBacktest,
    out: _Out,
) -> None:
    """Both models backtested on their own as-of segments from the same origins
    (:mod:`planning.policy_impact`); n/a with the reason when the history or the as-of
    snapshots are missing."""
    if catalogue is None or policy is None:
        out.notes.append("policy impact not measured: no catalogue and policy config were given")
        return
    cand, champ = (
        model_segmenter(ws, catalogue, scored.pyfunc, info.version, info.model_name)
        for info, scored in (candidate, champion)
    )
    try:
        result = policy_impact(
            ws, cand, champ, catalogue=catalogue, config=policy, origins=backtest.origins
        )
    except StrataError as exc:  # no history to replay: the gates report n/a and say why
        out.notes.append(f"policy impact not measured: {exc}")
        return
    out.metrics.update(result.candidate)
    out.champion.update(result.champion or {})
    out.extras["policy_impact"] = {
        "origins": ", ".join(d.isoformat() for d in result.origins),
        "strategy": GATE_STRATEGY,
        **{f"candidate_{k}": v for k, v in result.candidate.items()},
        **{f"champion_{k}": v for k, v in (result.champion or {}).items()},
        **{f"{k}_products": v for k, v in result.products.items()},
    }


@dataclass
class _Out:
    """What measuring accumulates: candidate and champion metrics, extras, notes."""

    metrics: dict[str, float | None]
    champion: dict[str, float | None]
    extras: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def measure(
    ws: Workspace,
    candidate: ModelVersionInfo,
    champion: ModelVersionInfo | None,
    *,
    champion_assignments: pd.DataFrame | None,
    catalogue: Catalogue | None = None,
    policy: PolicyConfig | None = None,
    policy_backtest: PolicyBacktest | None = None,
    sample: int = 2000,
    num_threads: int = 0,
) -> GateMeasurements:
    """Measure every gate metric of `candidate` (and of `champion`) on the newest snapshot.

    Without `catalogue` and `policy` the policy impact and the rule agreement are not measured
    (reported in the notes). `policy_backtest` (configs/gates.yaml ``policy_backtest:``, default
    its defaults) says from how many origins the policy impact is backtested.
    """
    newest = list_snapshots(ws)[-1] if list_snapshots(ws) else None
    frame = load_features(newest, workspace=ws)
    where = f"the newest snapshot ({newest}) of workspace '{ws.name}'"
    cand = _score(candidate, frame, where, num_threads)
    segs = model_segments(cand.pyfunc)
    out = _Out({k: candidate.run_metrics.get(k) for k in RUN_METRICS}, {})
    shares = segment_shares(cand.predictions[C.SEGMENT], segs)
    out.metrics["min_segment_share"] = min(shares.values()) if shares else None
    out.extras["segment_shares"] = shares
    parked = 1.0 - sum(shares.values())
    if parked > 0:
        out.extras["fallback_share"] = parked
    out.metrics["shap_additivity_error"] = additivity_error(
        cand.pyfunc,
        cand.inputs,
        cand.predictions[C.SEGMENT],
        sample=sample,
        num_threads=num_threads,
    )
    _drift(ws, candidate, cand.spec, frame, out)

    champ = None
    if champion is not None:
        out.champion = {k: champion.run_metrics.get(k) for k in RUN_METRICS}
        champ = _score(champion, frame, where, num_threads)
        c_shares = segment_shares(champ.predictions[C.SEGMENT], model_segments(champ.pyfunc))
        out.champion["min_segment_share"] = min(c_shares.values()) if c_shares else None
        _stability(cand.predictions, champion_assignments, champ.predictions, out, champion, newest)
        _policy_impact(
            ws,
            (candidate, cand),
            (champion, champ),
            catalogue,
            policy,
            policy_backtest or PolicyBacktest(),
            out,
        )

    if catalogue is not None:
        try:
            out.extras["rule_macro_f1"] = _rule_macro_f1(
                frame, cand.predictions[C.SEGMENT], catalogue
            )
            if champ is not None:
                out.extras["champion_rule_macro_f1"] = _rule_macro_f1(
                    frame, champ.predictions[C.SEGMENT], catalogue
                )
        except Exception as exc:  # a catalogue that does not fit this snapshot: report, go on
            out.notes.append(f"rule agreement not measured: {exc}")
    for k, v in list(out.metrics.items()):
        if v is not None and not np.isfinite(v):
            out.metrics[k] = None
    champion_metrics = out.champion if champion is not None else None
    return GateMeasurements(newest, out.metrics, champion_metrics, out.extras, out.notes)
