"""The actions stage of `strata refresh`: act on the fired rules, and judge an automatic champion.

Top-down, once per refresh, after monitoring:

1. **Probation.** When the champion was promoted automatically (alias event ``auto_promotion``)
   and this refresh is the first it scored, the refresh is judged (ml.actions): too many
   products proposed to move, or more KPI breaches than the refresh before, rolls the champion
   back (``promotion.promote.rollback_alias``), undoes this refresh's reclassification run
   (``serving.rollback.rollback_scoring_run``), scores the snapshot again with the restored
   champion and rebuilds the policies — every step audited with the reason. Nothing else runs
   in that refresh.
2. **Retrain.** Otherwise the trigger rules (ml.triggers) are read on this refresh's monitoring
   rows — and on those of earlier refreshes whose actions stage never finished (killed) — and
   the rules in ``actions.retrain_on`` start a retrain on this refresh's snapshot; the new
   version is promoted to staging through its gates, shadow-scored against the champion, and
   promoted to champion through the champion gates only when ``actions.auto_champion`` is set;
   else it waits for an mlops approval (`strata promote V --to champion`).

Every step is a row of the actions log (store.actions_log), written at the end of the stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from ml import columns as C
from ml.actions import probation_breaches, retrain_rules
from ml.config import Catalogue, GatesConfig, Workspace
from ml.config.operations import OperationsConfig
from ml.config.policy import PolicyConfig
from ml.config.scoring import ScoringConfig
from ml.config.training import TrainingConfig
from ml.errors import StrataError
from ml.monitoring import ALL, REFRESH_ID
from ml.triggers import FiredRule, fired_rules
from serving.runs import main_sinks
from store.actions_log import ACTIONS_COLUMNS, append_actions, read_actions
from store.monitoring_table import read_monitoring
from store.registry import RegistryRef, alias_holders, read_alias_history
from store.sinks import read_table

__all__ = ["ActionsResult", "act_on_refresh"]


@dataclass(frozen=True)
class ActionsResult:
    """What the actions stage did: its log rows, the version it trained, whether it rolled back."""

    rows: pd.DataFrame
    fired: int
    retrained: str | None
    rolled_back: bool


@dataclass(frozen=True)
class _Stage:
    """What every step of the stage reads: the refresh, its snapshot and the configs."""

    ws: Workspace
    ref: RegistryRef
    refresh_id: str
    day: date
    who: str
    catalogue: Catalogue
    scoring: ScoringConfig
    policy: PolicyConfig
    operations: OperationsConfig
    gates: GatesConfig
    training: TrainingConfig | None
    say: Callable[[str], None]


class _Log:
    """The stage's action rows, in order."""

    def __init__(self, s: _Stage) -> None:
        self.s = s
        self.rows: list[dict[str, object]] = []

    def __call__(
        self, action: str, outcome: str, version: str | None = None, rule: str = "", why: str = ""
    ) -> None:
        self.rows.append(
            {
                "refresh_id": self.s.refresh_id,
                "step": len(self.rows) + 1,
                "occurred_at": datetime.now(UTC).replace(tzinfo=None),
                C.AS_OF: self.s.day,
                "action": action,
                "outcome": outcome,
                C.MODEL_VERSION: version,
                "rule": rule,
                C.WHY: why,
            }
        )
        if action == "none":
            self.s.say(f"actions: nothing to do: {why}")
        else:
            self.s.say(f"actions: {action} {outcome}" + (f" (v{version})" if version else ""))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=ACTIONS_COLUMNS)


def act_on_refresh(
    ws: Workspace,
    ref: RegistryRef,
    refresh_id: str,
    day: date,
    *,
    score_run_id: str,
    score_version: str,
    catalogue: Catalogue,
    scoring: ScoringConfig,
    policy: PolicyConfig,
    operations: OperationsConfig,
    gates: GatesConfig,
    training: TrainingConfig | None = None,
    who: str = "strata refresh",
    progress: Callable[[str], None] | None = None,
) -> ActionsResult:
    """Judge an automatic champion on probation, else act on the fired rules; log every step."""
    s = _Stage(
        ws,
        ref,
        refresh_id,
        day,
        who,
        catalogue,
        scoring,
        policy,
        operations,
        gates,
        training,
        progress or (lambda _m: None),
    )
    log = _Log(s)
    on_probation = _on_probation(s, score_version)
    fired: list[FiredRule] = []
    retrained, rolled_back = None, False
    if on_probation is not None:
        rolled_back = _judge(s, log, on_probation, score_run_id)
    else:
        fired = _fired(s)
        retrained = _retrain(s, log, fired)
    rows = log.frame()
    append_actions(ws, rows)
    return ActionsResult(rows, len(fired), retrained, rolled_back)


def _on_probation(s: _Stage, score_version: str) -> str | None:
    """The champion's version when it was promoted automatically and this refresh is the first
    it scored (no probation verdict for it yet); else None."""
    champion = alias_holders(s.ref).get("champion")
    history = read_alias_history(s.ws, s.ref.model_name, "champion")
    if champion is None or history.empty or champion != score_version:
        return None
    last = history.iloc[-1]
    if last["event"] != "auto_promotion" or last["to_version"] != champion:
        return None
    log = read_actions(s.ws)
    verdicts = log["outcome"].isin(["passed", "failed"])
    judged = log[(log["action"] == "probation") & verdicts & (log[C.MODEL_VERSION] == champion)]
    return None if len(judged) else champion


def _judge(s: _Stage, log: _Log, version: str, score_run_id: str) -> bool:
    """The probation verdict on `version`; on a breach roll it back. True when rolled back."""
    assignments = read_table(main_sinks(s.ws, s.scoring)[0], C.ASSIGNMENTS, as_of=s.day)
    table = read_monitoring(s.ws)
    alls = table[table[C.SEGMENT] == ALL]
    now = alls[alls[REFRESH_ID] == s.refresh_id]
    before = alls[alls[REFRESH_ID] < s.refresh_id]
    reasons = probation_breaches(
        assignments,
        now.iloc[-1].to_dict() if len(now) else {},
        before.iloc[-1].to_dict() if len(before) else None,
        s.operations.actions.probation,
    )
    if not reasons:
        log("probation", "passed", version, why="the first refresh it scored is within tolerances")
        return False
    why = f"v{version}, promoted automatically, breached its probation: " + "; ".join(reasons)
    log("probation", "failed", version, why=why)
    _roll_back(s, log, version, score_run_id, why)
    return True


def _roll_back(s: _Stage, log: _Log, version: str, score_run_id: str, why: str) -> None:
    """Champion back to the version it replaced, the reclassification undone, scored again."""
    from planning.policy_job import build_policies
    from promotion.promote import rollback_alias
    from serving.rollback import rollback_scoring_run
    from serving.scoring import score

    move = rollback_alias(s.ws, s.ref, "champion", reason=why, who=s.who)
    log("rollback", "done", move.to_version, why=f"champion v{version} -> v{move.to_version}")
    undone = rollback_scoring_run(s.ws, s.scoring, score_run_id, s.ref.model_name, reason=why)
    log(
        "undo",
        "done",
        version,
        why=f"reclassification run {score_run_id} undone ({undone.segment_changes} products "
        f"moved back)",
    )
    scored = score(s.ws, s.ref, s.scoring, as_of=s.day)
    log(
        "rescore",
        "done",
        scored.model_version,
        why=f"run {scored.run_id}: {scored.products} products scored by the restored champion",
    )
    built = build_policies(
        s.ws, as_of=s.day, catalogue=s.catalogue, scoring=s.scoring, config=s.policy
    )
    log("policies", "done", scored.model_version, why=f"{len(built.policies)} policies rebuilt")


def _fired(s: _Stage) -> list[FiredRule]:
    """The rules fired on this refresh and on earlier ones whose actions stage never finished."""
    table = read_monitoring(s.ws)
    table = table[table[REFRESH_ID] <= s.refresh_id]
    acted = set(read_actions(s.ws)[REFRESH_ID])
    last_acted = max(acted) if acted else s.refresh_id
    pending = sorted(r for r in set(table[REFRESH_ID]) if r not in acted and r >= last_acted)
    fired: list[FiredRule] = []
    for rid in pending or [s.refresh_id]:
        fired += fired_rules(table[table[REFRESH_ID] <= rid], s.operations.rules)
    return fired


def _retrain(s: _Stage, log: _Log, fired: list[FiredRule]) -> str | None:
    """Retrain on the fired rules; staging through gates, shadow, champion when configured."""
    actions = s.operations.actions
    starting = retrain_rules(fired, actions)
    if not fired:
        log("none", "none", why="no trigger rule fired")
        return None
    rule = ",".join(dict.fromkeys(f.rule for f in fired))
    if not starting:
        why = f"rules fired ({rule}) but actions.retrain_on ({actions.retrain_on}) has none"
        log("none", "none", rule=rule, why=why)
        return None
    rule = ",".join(dict.fromkeys(f.rule for f in starting))
    champion = _champion_trained_on(s)
    if champion is not None:
        why = (
            f"rules fired ({rule}) but champion v{champion} was trained on this snapshot "
            f"({s.day}): a retrain would learn the same"
        )
        log("none", "none", rule=rule, why=why)
        return None
    version = _train(s, log, starting, rule)
    if version is None or not _promote(s, log, version, "staging", rule):
        return version
    _shadow(s, log, version, rule)
    if not actions.auto_champion:
        log(
            "champion",
            "waiting",
            version,
            rule,
            f"awaiting an mlops approval: `strata promote {version} --to champion` "
            f"(operations.yaml actions.auto_champion is off)",
        )
        return version
    if _promote(s, log, version, "champion", rule):
        log(
            "probation",
            "waiting",
            version,
            rule,
            "the next refresh reclassifies with it and judges it against actions.probation",
        )
    return version


def _champion_trained_on(s: _Stage) -> str | None:
    """The champion's version when it was trained on the snapshot of this refresh, else None."""
    from store.registry import resolve_version

    champion = alias_holders(s.ref).get("champion")
    if champion is None:
        return None
    trained = resolve_version(s.ref, champion).trained_as_of
    return champion if trained == s.day.isoformat() else None


def _train(s: _Stage, log: _Log, starting: list[FiredRule], rule: str) -> str | None:
    from training.train import train

    actions = s.operations.actions
    try:
        trained = train(
            s.ws,
            labels=actions.labels,
            trials=actions.trials,
            as_of=s.day,
            config=s.training,
            catalogue=s.catalogue,
        )
    except StrataError as exc:
        log("retrain", "failed", rule=rule, why=str(exc))
        return None
    why = f"trained on the snapshot as of {s.day} because " + "; ".join(f.why for f in starting)
    log("retrain", "done", trained.model_version, rule, why)
    return trained.model_version


def _promote(s: _Stage, log: _Log, version: str, target: str, rule: str) -> bool:
    """Promote `version` to `target` through its gates; False (logged) when a gate fails."""
    from promotion.promote import promote

    try:
        move = promote(
            s.ws,
            s.ref,
            version,
            target,
            s.gates,
            s.scoring,
            reason=f"retrained by refresh {s.refresh_id} after: {rule}",
            catalogue=s.catalogue,
            policy=s.policy,
            who=s.who,
            automatic=True,
        )
    except StrataError as exc:
        log(target, "failed", version, rule, str(exc))
        return False
    log(target, "done", version, rule, move.why)
    return True


def _shadow(s: _Stage, log: _Log, version: str, rule: str) -> None:
    from serving.scoring import score

    scored = score(s.ws, s.ref, s.scoring, as_of=s.day, model=version, shadow=True)
    cmp: Any = scored.shadow
    why = (
        f"{cmp.moving} of {cmp.products} products would change segment against champion "
        f"v{cmp.champion_version}"
        if cmp is not None
        else f"{scored.products} products scored; no champion to compare with"
    )
    log("shadow", "done", version, rule, why)
