"""Promotion gates: the one pure function that judges a candidate against configs/gates.yaml.

A gate either bounds a metric of the candidate (``min`` and/or ``max``) or compares it with the
current champion's value of the same metric on the same snapshot (``against: champion`` with an
allowed regression, ``tolerance`` absolute or ``relative_tolerance`` as a share of the champion's
magnitude). Bounds are inclusive.

Why not ``mlflow.models.MetricThreshold`` + ``validate_evaluation_results`` as the evaluator:
their bound check (``threshold``, ``>=`` when greater is better, else ``<=``) is exactly our
``min``/``max`` and we mirror it, but their comparison with a baseline demands an *improvement*
(``min_absolute_change`` must be > 0), while our gate allows a bounded *regression*; a missing
metric is always a failure there, while ours may be n/a (``when_missing``); and they raise one
exception with joined text instead of a verdict per gate. ``mlflow_threshold_kwargs`` gives the
``MetricThreshold(**kwargs)`` of every gate MLflow can express, and the tests check that MLflow
reaches the same verdict on those. This module imports no MLflow (``ml/`` stays pure).
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from ml.config.gates import Gate, GatesConfig

__all__ = ["GateReport", "GateResult", "evaluate_gates", "mlflow_threshold_kwargs"]

Status = Literal["pass", "fail", "n/a"]
# bounds are inclusive; values within this of a bound count as on it (float noise in 0.72 - 0.02)
_REL_TOL, _ABS_TOL = 1e-9, 1e-12


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate, with the numbers and the reason in words."""

    gate: str
    metric: str
    status: Status
    reason: str
    rule: str
    value: float | None = None
    champion_value: float | None = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "metric": self.metric,
            "status": self.status,
            "value": self.value,
            "champion_value": self.champion_value,
            "rule": self.rule,
            "reason": self.reason,
            "description": self.description,
        }


@dataclass(frozen=True)
class GateReport:
    """All gate verdicts for one target alias; overall fails when any gate fails."""

    target: str
    results: tuple[GateResult, ...]

    @property
    def overall(self) -> Literal["pass", "fail"]:
        return "fail" if any(r.status == "fail" for r in self.results) else "pass"

    @property
    def passed(self) -> bool:
        return self.overall == "pass"

    @property
    def failed(self) -> tuple[GateResult, ...]:
        return tuple(r for r in self.results if r.status == "fail")

    def result(self, gate: str) -> GateResult:
        """The verdict of the gate called `gate`."""
        for r in self.results:
            if r.gate == gate:
                return r
        raise KeyError(f"no gate '{gate}' in the report; gates: {[r.gate for r in self.results]}")

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(r.status == s for r in self.results) for s in ("pass", "fail", "n/a")}
        return {
            "target": self.target,
            "overall": self.overall,
            "counts": counts,
            "gates": [r.to_dict() for r in self.results],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        icon = {"pass": "✅ pass", "fail": "❌ fail", "n/a": "➖ n/a"}
        lines = [
            f"## Gates for `{self.target}`: **{self.overall.upper()}**",
            "",
            "| gate | metric | value | champion | rule | status | reason |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.results:
            cells = [
                r.gate,
                f"`{r.metric}`",
                _fmt(r.value),
                "—" if r.champion_value is None else _fmt(r.champion_value),
                r.rule,
                icon[r.status],
                r.reason,
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _at_least(value: float, bound: float) -> bool:
    return value >= bound or math.isclose(value, bound, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)


def _at_most(value: float, bound: float) -> bool:
    return value <= bound or math.isclose(value, bound, rel_tol=_REL_TOL, abs_tol=_ABS_TOL)


def _when_missing(gate: Gate, what: str) -> tuple[Status, str]:
    status: Status = "n/a" if gate.when_missing == "na" else gate.when_missing
    verdict = {"n/a": "reported n/a", "pass": "counted as pass", "fail": "counted as fail"}
    return status, f"{what}; {verdict[status]} (when_missing: {gate.when_missing})"


def _bound_verdict(gate: Gate, value: float) -> tuple[Status, str]:
    if gate.min is not None and not _at_least(value, gate.min):
        return "fail", f"{value:.4g} is below the minimum {gate.min:g}"
    if gate.max is not None and not _at_most(value, gate.max):
        return "fail", f"{value:.4g} is above the maximum {gate.max:g}"
    return "pass", f"{value:.4g} meets {gate.rule()}"


def _champion_verdict(gate: Gate, value: float, champion: float) -> tuple[Status, str]:
    allowed = (
        gate.tolerance if gate.tolerance is not None else gate.relative_tolerance * abs(champion)
    )
    if gate.greater_is_better:
        bound, ok, worse = champion - allowed, _at_least(value, champion - allowed), "drops"
    else:
        bound, ok, worse = champion + allowed, _at_most(value, champion + allowed), "rises"
    change = value - champion
    if ok:
        return "pass", (
            f"{value:.4g} against champion {champion:.4g} (change {change:+.4g}); "
            f"allowed down to {bound:.4g}"
            if gate.greater_is_better
            else f"{value:.4g} against champion {champion:.4g} (change {change:+.4g}); "
            f"allowed up to {bound:.4g}"
        )
    return "fail", (
        f"{value:.4g} {worse} from champion {champion:.4g} by {abs(change):.4g}, "
        f"more than the allowed {allowed:.4g}"
    )


def _matching(metrics: dict[str, float | None], pattern: str) -> dict[str, float | None]:
    if not any(ch in pattern for ch in "*?["):
        return {pattern: metrics[pattern]} if pattern in metrics else {}
    return {k: v for k, v in metrics.items() if fnmatch.fnmatchcase(k, pattern)}


def _evaluate_one(
    gate: Gate, metrics: dict[str, float | None], champion_metrics: dict[str, Any] | None
) -> GateResult:
    def result(
        status: Status, reason: str, value: float | None = None, champ: float | None = None
    ) -> GateResult:
        return GateResult(
            gate.name, gate.metric, status, reason, gate.rule(), value, champ, gate.description
        )

    if gate.needs_champion and champion_metrics is None:
        return result("n/a", "no current champion to compare with")
    found = {k: v for k, v in _matching(metrics, gate.metric).items() if not _missing(v)}
    if not found:
        return result(*_when_missing(gate, f"{gate.metric} was not measured"))

    if gate.against is None:
        verdicts = {k: _bound_verdict(gate, float(v)) for k, v in found.items()}
        if len(found) == 1:
            (key,) = found
            return result(*verdicts[key], float(found[key]))
        # a pattern (psi.*): the worst metric decides and is named
        key = (max if not gate.greater_is_better else min)(found, key=lambda k: found[k])
        failing = sorted(k for k, (s, _) in verdicts.items() if s == "fail")
        status, reason = verdicts[key]
        if failing:
            reason = (
                f"{len(failing)} of {len(found)} fail ({', '.join(failing)}); worst {key}: {reason}"
            )
        else:
            reason = f"all {len(found)} pass; worst {key}: {reason}"
        return result(status, reason, float(found[key]))

    value = float(next(iter(found.values())))
    champion_value = (champion_metrics or {}).get(gate.metric)
    if _missing(champion_value):
        status, reason = _when_missing(gate, f"the champion has no {gate.metric}")
        return result(status, reason, value)
    status, reason = _champion_verdict(gate, value, float(champion_value))
    return result(status, reason, value, float(champion_value))


def evaluate_gates(
    metrics: dict[str, float | None],
    champion_metrics: dict[str, float | None] | None,
    gates: GatesConfig,
    target: str,
) -> GateReport:
    """Judge a candidate's metrics against the gates of `target` (``staging`` or ``champion``).

    `metrics` are the candidate's (None or NaN = not measured); `champion_metrics` are the current
    champion's on the same snapshot, or None when there is no champion yet. Pure: no I/O.
    """
    return GateReport(
        target=target,
        results=tuple(
            _evaluate_one(g, metrics, champion_metrics) for g in gates.for_target(target)
        ),
    )


def mlflow_threshold_kwargs(gate: Gate) -> dict[str, Any] | None:
    """Keyword arguments of the ``mlflow.models.MetricThreshold`` equal to `gate`, or None.

    Only one-sided bounds map (``min`` -> threshold with greater_is_better=True, ``max`` ->
    threshold with greater_is_better=False). Comparisons do not: MLflow's change thresholds
    require an improvement over the baseline, ours allow a bounded regression.
    """
    if gate.against is not None or (gate.min is not None and gate.max is not None):
        return None
    if gate.min is not None:
        return {"threshold": float(gate.min), "greater_is_better": True}
    return {"threshold": float(gate.max), "greater_is_better": False}
