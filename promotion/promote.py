"""Promotion through gates, forced promotion, and rollback of an alias.

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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ml import columns as C
from ml.config import GatesConfig, Workspace
from ml.config.scoring import ScoringConfig
from ml.errors import StrataError
from promotion.gate_check import GateCheck, check_gates, gate_tag
from store.audit import insert_audit
from store.db import open_db
from store.locks import DEFAULT_TIMEOUT_S, current_user, workspace_lock
from store.registry import (
    ModelVersionInfo,
    RegistryRef,
    alias_holders,
    check_alias,
    insert_alias_history,
    read_alias_history,
    registry_client,
    resolve_version,
)

__all__ = ["AliasMove", "promote", "rollback_alias"]


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
    who: str | None = None,
) -> AliasMove:
    """Record and set, atomically with respect to the audit: see the module docstring."""

    who = (who or "").strip() or current_user()
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


def _passing_check(
    ws: Workspace,
    ref: RegistryRef,
    info: ModelVersionInfo,
    target: str,
    gates: GatesConfig,
    scoring: ScoringConfig,
    catalogue: Any,
    policy: Any,
) -> GateCheck:
    """The gate check of `info` for `target`; a StrataError naming the gates that fail."""
    if info.aliases and target in info.aliases:
        raise StrataError(f"{ref.model_name} v{info.version} already is {target}; nothing to do")
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
    return check


def _still_holding(
    ref: RegistryRef,
    info: ModelVersionInfo,
    target: str,
    expected: dict[str, str],
    holders: dict[str, str],
) -> None:
    """Compare-and-set: the aliases the gates were judged against must not have moved."""
    moved = [a for a in dict.fromkeys((target, "champion")) if holders.get(a) != expected.get(a)]
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
    who: str | None = None,
    automatic: bool = False,
) -> AliasMove:
    """Give `version` the alias `target` when every gate passes, or forced with a reason.

    `on_locked` runs under the lock before anything is written (tests widen the race with it).
    `who` is recorded (the service passes its authenticated user; default the OS user).
    `automatic` records the move as ``auto_promotion`` (a refresh's actions stage promoted it,
    so the next refresh judges it on probation); it cannot be forced.
    """
    target = check_alias(target)
    reason = (reason or "").strip()
    if force and not reason:
        raise StrataError(
            "--force needs --reason: say why the gates are overridden, e.g. --reason 'drift "
            "gate fails on the holiday snapshot; approved by the planning lead'"
        )
    if force and automatic:
        raise StrataError("an automatic promotion cannot be forced: it passes the gates or waits")
    client = registry_client(ref)
    info = resolve_version(ref, version, client)
    if force:
        check, expected, event = None, None, "forced_promotion"
        last = info.tags.get(gate_tag(target))
        why = f"forced: {reason}" + (f" (last gate check: {last})" if last else "")
    else:
        check = _passing_check(ws, ref, info, target, gates, scoring, catalogue, policy)
        expected, event = check.holders, "auto_promotion" if automatic else "promotion"
        counts = check.report.to_dict()["counts"]
        why = f"all gates pass ({counts['pass']} pass, {counts['n/a']} n/a)" + (
            f"; {reason}" if reason else ""
        )

    with workspace_lock(ws.warehouse, ref.lock_name, timeout=timeout):
        holders = alias_holders(ref, client)
        current = holders.get(target)
        if expected is not None:
            _still_holding(ref, info, target, expected, holders)
        if current == info.version:
            raise StrataError(
                f"{ref.model_name} v{info.version} already is {target}; nothing to do"
            )
        if on_locked is not None:
            on_locked()
        move = _move_alias(ws, ref, client, target, current, info.version, event, why, timeout, who)
    return AliasMove(**{**move.__dict__, "check": check})


def rollback_alias(
    ws: Workspace,
    ref: RegistryRef,
    alias: str = "champion",
    reason: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    who: str | None = None,
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
            history["event"].isin(["promotion", "auto_promotion", "forced_promotion"])
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
            ws, ref, client, alias, current, target.version, "rollback", why, timeout, who
        )
