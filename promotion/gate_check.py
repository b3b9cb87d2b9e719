"""`strata gates check`: measure a version on the newest snapshot, judge it, store the report.

``check_gates`` measures a version (``promotion.gate_metrics``), judges it with
``ml.gates.evaluate_gates``, stores the report (markdown + JSON) as artifacts of the version's
run (``gates/<alias>.md``, ``gates/<alias>.json``) and each gate's status and value as
model-version tags (``gate.<alias>.<gate>``, ``gate.<alias>.<gate>.value``, ``gate.<alias>``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ml.config import GatesConfig, Workspace
from ml.config.scoring import ScoringConfig
from ml.errors import StrataError
from ml.gates import GateReport, evaluate_gates
from promotion.gate_metrics import GateMeasurements, measure
from serving.runs import current_assignments, main_sinks
from store.locks import current_user
from store.registry import (
    ModelVersionInfo,
    RegistryRef,
    alias_holders,
    check_alias,
    registry_client,
    resolve_version,
)

__all__ = ["GateCheck", "check_gates", "gate_tag"]


def gate_tag(target: str, gate: str | None = None, suffix: str | None = None) -> str:
    """The model-version tag of a gate result: ``gate.<alias>[.<gate>][.<suffix>]``."""
    parts = ["gate", target]
    if gate is not None:
        parts.append(re.sub(r"[^A-Za-z0-9_\-]+", "_", gate))
    if suffix is not None:
        parts.append(suffix)
    return ".".join(parts)


@dataclass(frozen=True)
class GateCheck:
    """A version judged for an alias: the report, what was measured, whom it was compared with."""

    model_name: str
    version: str
    target: str
    report: GateReport
    measurements: GateMeasurements
    holders: dict[str, str]  # alias -> version when the gates were measured
    checked_at: datetime
    checked_by: str

    @property
    def champion_version(self) -> str | None:
        return self.holders.get("champion")

    def to_dict(self) -> dict[str, Any]:
        m = self.measurements
        return {
            "model": self.model_name,
            "version": self.version,
            "target": self.target,
            "snapshot": m.snapshot.isoformat() if m.snapshot else None,
            "champion_version": self.champion_version,
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
            "checked_by": self.checked_by,
            **self.report.to_dict(),
            "metrics": m.metrics,
            "champion_metrics": m.champion_metrics,
            "extras": m.extras,
            "notes": m.notes,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_markdown(self) -> str:
        m = self.measurements
        champ = f"v{self.champion_version}" if self.champion_version else "none yet"
        head = [
            f"# {self.model_name} v{self.version} → `{self.target}`",
            "",
            f"Snapshot {m.snapshot}; champion {champ}; checked {self.checked_at:%Y-%m-%d %H:%M} "
            f"UTC by {self.checked_by}.",
            "",
        ]
        tail = []
        extras = {k: v for k, v in m.extras.items() if v is not None}
        if extras:
            tail += ["", "Also measured (not gated):", ""]
            tail += [f"- {k}: {_fmt_extra(v)}" for k, v in extras.items()]
        if m.notes:
            tail += ["", "Notes:", ""] + [f"- {n}" for n in m.notes]
        return "\n".join(head) + self.report.to_markdown() + "\n".join(tail) + "\n"


def _fmt_extra(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt_extra(x)}" for k, x in v.items())
    return str(v)


def _champion_assignments(ws: Workspace, scoring: ScoringConfig, version: str) -> Any:

    try:
        return current_assignments(main_sinks(ws, scoring)[0], model_version=version)
    except StrataError:
        return None


def check_gates(
    ws: Workspace,
    ref: RegistryRef,
    version: str | int,
    target: str,
    gates: GatesConfig,
    scoring: ScoringConfig,
    *,
    catalogue: Any = None,
    policy: Any = None,
    store: bool = True,
    sample: int = 2000,
    num_threads: int = 0,
) -> GateCheck:
    """Judge `version` for alias `target` on the newest snapshot; store the report and tags."""

    target = check_alias(target)
    client = registry_client(ref)
    candidate = resolve_version(ref, version, client)
    holders = alias_holders(ref, client)
    champ_v = holders.get("champion")
    champion = (
        resolve_version(ref, champ_v, client)
        if champ_v is not None and champ_v != candidate.version
        else None
    )
    measured = measure(
        ws,
        candidate,
        champion,
        champion_assignments=_champion_assignments(ws, scoring, champ_v) if champion else None,
        catalogue=catalogue,
        policy=policy,
        policy_backtest=gates.policy_backtest,
        sample=sample,
        num_threads=num_threads,
    )
    report = evaluate_gates(measured.metrics, measured.champion_metrics, gates, target)
    check = GateCheck(
        ref.model_name,
        candidate.version,
        target,
        report,
        measured,
        holders,
        datetime.now(UTC).replace(tzinfo=None),
        current_user(),
    )
    if store:
        _store(client, ref, candidate, check)
    return check


def _store(client: Any, ref: RegistryRef, info: ModelVersionInfo, check: GateCheck) -> None:
    """The report as artifacts of the version's run; the verdicts as model-version tags."""
    if info.run_id:
        client.log_text(info.run_id, check.to_markdown(), f"gates/{check.target}.md")
        client.log_text(info.run_id, check.to_json(), f"gates/{check.target}.json")
    tags = {
        gate_tag(check.target): check.report.overall,
        gate_tag(check.target, suffix="checked_at"): check.checked_at.isoformat(timespec="seconds"),
        gate_tag(check.target, suffix="snapshot"): str(check.measurements.snapshot),
        gate_tag(check.target, suffix="champion"): check.champion_version or "none",
    }
    for r in check.report.results:
        tags[gate_tag(check.target, r.gate)] = r.status
        tags[gate_tag(check.target, r.gate, "value")] = (
            "n/a" if r.value is None else f"{r.value:.6g}"
        )
    for key, value in tags.items():
        client.set_model_version_tag(ref.model_name, info.version, key, value)
