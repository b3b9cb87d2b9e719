"""Promotion through gates, forced promotion, rollback of an alias, and the versions overview.

``check_gates`` measures a version on the newest snapshot (``promotion.gate_metrics``), judges it
with ``ml.gates.evaluate_gates``, stores the report (markdown + JSON) as artifacts of the
version's run (``gates/<alias>.md``, ``gates/<alias>.json``) and each gate's status and value as
model-version tags (``gate.<alias>.<gate>``, ``gate.<alias>.<gate>.value``, ``gate.<alias>``).

``promote`` moves an alias only when every gate passes (or with ``force`` and a reason). The
move is a compare-and-set under the workspace lock ``registry-<model>``: the gates were judged
against the alias holders read before the (slow) measurement; under the lock they are read
again, and if either the target alias or ``champion`` moved meanwhile the promotion stops —
nothing is changed. Otherwise the alias history row and the audit row are inserted and the
alias is set inside one DuckDB transaction, committed last (the alias is put back if the commit
fails), so the alias and the audit cannot disagree. ``rollback_alias`` moves an alias back to
the version its holder replaced, walking ``alias_history`` like a stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ml import columns as C
from ml.config import GatesConfig, Workspace
from ml.config.scoring import ScoringConfig
from ml.errors import StrataError
from ml.gates import GateReport, evaluate_gates
from promotion.gate_metrics import GateMeasurements
from store.locks import DEFAULT_TIMEOUT_S, current_user, workspace_lock
from store.registry import (
    ModelVersionInfo,
    RegistryRef,
    alias_holders,
    check_alias,
    insert_alias_history,
    list_versions,
    read_alias_history,
    registry_client,
    resolve_version,
)

__all__ = [
    "AliasMove",
    "GateCheck",
    "check_gates",
    "gate_tag",
    "models_overview",
    "promote",
    "rollback_alias",
]


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
    from serving.runs import current_assignments, main_sinks

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
    from promotion.gate_metrics import measure

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


# ---------------------------------------------------------------------------------------------
# moving aliases


@dataclass(frozen=True)
class AliasMove:
    """One alias move as recorded: who moved which alias from which version to which, and why."""

    model_name: str
    alias: str
    from_version: str | None
    to_version: str
    event: str
    who: str
    why: str
    check: GateCheck | None = field(default=None, repr=False)


def _move_alias(
    ws: Workspace,
    ref: RegistryRef,
    client: Any,
    alias: str,
    from_version: str | None,
    to_version: str,
    event: str,
    why: str,
    timeout: float,
) -> AliasMove:
    """Record and set, atomically with respect to the audit: see the module docstring."""
    from store.audit import insert_audit
    from store.db import open_db

    who = current_user()
    with open_db(ws, write=True, timeout=timeout) as con:
        con.execute("BEGIN TRANSACTION")
        alias_set = False
        try:
            insert_alias_history(
                con,
                model_name=ref.model_name,
                alias=alias,
                from_version=from_version,
                to_version=to_version,
                event=event,
                who=who,
                why=why,
            )
            insert_audit(
                con,
                [
                    {
                        C.EVENT: event,
                        C.SUBJECT: ref.model_name,
                        C.FROM_VALUE: from_version,
                        C.TO_VALUE: to_version,
                        C.WHO: who,
                        C.WHY: f"{alias}: {why}",
                        C.MODEL_VERSION: to_version,
                    }
                ],
            )
            client.set_registered_model_alias(ref.model_name, alias, to_version)
            alias_set = True
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            if alias_set:  # the audit did not land: put the alias back
                if from_version is None:
                    client.delete_registered_model_alias(ref.model_name, alias)
                else:
                    client.set_registered_model_alias(ref.model_name, alias, from_version)
            raise
    return AliasMove(ref.model_name, alias, from_version, to_version, event, who, why)


def promote(
    ws: Workspace,
    ref: RegistryRef,
    version: str | int,
    target: str,
    gates: GatesConfig,
    scoring: ScoringConfig,
    *,
    force: bool = False,
    reason: str | None = None,
    catalogue: Any = None,
    policy: Any = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    on_locked: Callable[[], None] | None = None,
) -> AliasMove:
    """Give `version` the alias `target` when every gate passes, or forced with a reason.

    `on_locked` runs under the lock before anything is written (tests widen the race with it).
    """
    target = check_alias(target)
    reason = (reason or "").strip()
    if force and not reason:
        raise StrataError(
            "--force needs --reason: say why the gates are overridden, e.g. --reason 'drift "
            "gate fails on the holiday snapshot; approved by the planning lead'"
        )
    client = registry_client(ref)
    info = resolve_version(ref, version, client)
    check = None
    if force:
        expected = None
        last = info.tags.get(gate_tag(target))
        why = f"forced: {reason}" + (f" (last gate check: {last})" if last else "")
        event = "forced_promotion"
    else:
        if info.aliases and target in info.aliases:
            raise StrataError(
                f"{ref.model_name} v{info.version} already is {target}; nothing to do"
            )
        check = check_gates(
            ws, ref, info.version, target, gates, scoring, catalogue=catalogue, policy=policy
        )
        if not check.report.passed:
            failed = "; ".join(f"{r.gate}: {r.reason}" for r in check.report.failed)
            raise StrataError(
                f"{ref.model_name} v{info.version} is not promoted to {target}: "
                f"{len(check.report.failed)} gate(s) fail — {failed}. `strata gates check "
                f"{info.version} --to {target}` shows the report; `--force --reason TEXT` "
                f"overrides it on record"
            )
        expected = check.holders
        counts = check.report.to_dict()["counts"]
        why = f"all gates pass ({counts['pass']} pass, {counts['n/a']} n/a)" + (
            f"; {reason}" if reason else ""
        )
        event = "promotion"

    with workspace_lock(ws.warehouse, ref.lock_name, timeout=timeout):
        holders = alias_holders(ref, client)
        current = holders.get(target)
        if expected is not None:
            moved = [
                a for a in dict.fromkeys((target, "champion")) if holders.get(a) != expected.get(a)
            ]
            if moved:
                shown = ", ".join(
                    f"{a} went from {expected.get(a) or 'none'} to {holders.get(a) or 'none'}"
                    for a in moved
                )
                raise StrataError(
                    f"{ref.model_name} v{info.version} is not promoted to {target}: another "
                    f"promotion happened while its gates were measured ({shown}); the gates were "
                    f"judged against the old holders. Run the promotion again"
                )
        if current == info.version:
            raise StrataError(
                f"{ref.model_name} v{info.version} already is {target}; nothing to do"
            )
        if on_locked is not None:
            on_locked()
        move = _move_alias(ws, ref, client, target, current, info.version, event, why, timeout)
    return AliasMove(**{**move.__dict__, "check": check})


def rollback_alias(
    ws: Workspace,
    ref: RegistryRef,
    alias: str = "champion",
    reason: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> AliasMove:
    """Move `alias` back to the version its current holder replaced when it was promoted."""
    alias = check_alias(alias)
    client = registry_client(ref)
    with workspace_lock(ws.warehouse, ref.lock_name, timeout=timeout):
        current = alias_holders(ref, client).get(alias)
        if current is None:
            raise StrataError(f"no version of {ref.model_name} holds {alias}; nothing to roll back")
        history = read_alias_history(ws, ref.model_name, alias)
        promoted = history[
            history["event"].isin(["promotion", "forced_promotion"])
            & (history["to_version"] == current)
        ]
        if promoted.empty:
            raise StrataError(
                f"{ref.model_name} v{current} holds {alias}, but Strata has no record of its "
                f"promotion (it was set outside Strata); move the alias with `strata promote`"
            )
        previous = promoted.iloc[-1]["from_version"]
        if previous is None or pd.isna(previous) or str(previous) in ("", "None", "nan"):
            raise StrataError(
                f"{ref.model_name} v{current} was the first {alias}: it replaced no version, so "
                f"there is nothing to roll back to"
            )
        target = resolve_version(ref, str(previous), client)
        why = f"rolled back v{current} to v{target.version}, the version it replaced" + (
            f": {reason.strip()}" if reason and reason.strip() else ""
        )
        return _move_alias(
            ws, ref, client, alias, current, target.version, "rollback", why, timeout
        )


# ---------------------------------------------------------------------------------------------
# overview


def models_overview(ws: Workspace, ref: RegistryRef) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(versions with aliases, training data, quality, gate results, last promotion; history)."""
    versions = list_versions(ref)
    history = read_alias_history(ws, ref.model_name)
    rows = []
    for v in versions:
        moves = history[history["to_version"] == v.version]
        last = moves.iloc[-1] if len(moves) else None
        rows.append(
            {
                "version": v.version,
                "aliases": ",".join(v.aliases),
                "created": v.created_at,
                "trained_on": v.trained_as_of or "",
                "labeller": v.run_tags.get("labeller", ""),
                "cv_macro_f1": v.run_metrics.get("cv_macro_f1"),
                "gates_staging": v.tags.get(gate_tag("staging"), ""),
                "gates_champion": v.tags.get(gate_tag("champion"), ""),
                "last_promoted": (
                    f"{last['alias']} by {last['who']} {pd.Timestamp(last['occurred_at']):%Y-%m-%d %H:%M}"
                    f" ({last['event']})"
                    if last is not None
                    else ""
                ),
            }
        )
    return pd.DataFrame(rows), history
