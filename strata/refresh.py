"""`strata refresh`: features -> score -> policies -> KPIs -> monitoring -> actions, in the ledger.

The wiring only: every stage is the function its own command calls (``build_features``,
``serving.scoring.score``, ``build_policies``, ``segment_kpis``), so there is no second
implementation of any of them. Each stage publishes all or nothing (snapshots and canonical
tables by folder rename, scoring and policy runs through ``store.sinks.write_runs``, KPI alerts in
one transaction), so a refresh that fails or is killed in a stage leaves that stage's outputs and
every later stage's as they were; stages that finished before it stay published — each is a
complete, valid output of the same data. The monitoring stage (``planning.monitoring_job``)
measures the refresh against the previous one and appends its rows to the monitoring table; the
actions stage (``strata.actions``) judges an automatically promoted champion on its first refresh
and acts on the trigger rules that fired (retrain, gates, staging, shadow, champion).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ml.config import Catalogue, GatesConfig, Workspace
from ml.config.operations import OperationsConfig
from ml.config.policy import PolicyConfig
from ml.config.scoring import ScoringConfig
from ml.config.training import TrainingConfig
from ml.errors import StrataError
from store.locks import current_user
from store.registry import RegistryRef
from store.run_ledger import abandon_stale, finish_stage, refresh_lock, start_stage

__all__ = [
    "STAGES",
    "RefreshError",
    "RefreshResult",
    "StageOutcome",
    "refresh",
]

STAGES = ("features", "score", "policies", "kpis", "monitoring", "actions")


@dataclass(frozen=True)
class StageOutcome:
    """What one stage read and wrote, as recorded in the ledger."""

    stage: str
    rows_in: int | None
    rows_out: int | None
    model_version: str | None
    snapshot_as_of: date | None
    run_id: str | None = None  # the scoring run a stage wrote, when it wrote one


@dataclass(frozen=True)
class RefreshResult:
    """One finished refresh: its id, the snapshot it ran on and each stage's outcome."""

    refresh_id: str
    as_of: date
    triggered_by: str
    abandoned: int  # stale running rows of a dead refresh marked abandoned at the start
    stages: list[StageOutcome] = field(default_factory=list)


class RefreshError(StrataError):
    """A stage of a refresh failed; the message names the refresh, the stage and the error."""


def _features(ws: Workspace, as_of: date | None) -> StageOutcome:
    from features.build import build_features

    built = build_features(ws, as_of=[as_of] if as_of else None)
    day = date.fromisoformat(next(iter(built.products)))
    rows_in = sum(int(s.get("rows_in", 0)) for s in built.sources)
    return StageOutcome("features", rows_in, built.products[day.isoformat()], None, day)


def _score(
    ws: Workspace, ref: RegistryRef, scoring: ScoringConfig, day: date, rows_in: int | None
) -> StageOutcome:
    from serving.scoring import score

    scored = score(ws, ref, scoring, as_of=day)
    version = str(scored.model_version)
    return StageOutcome("score", rows_in, scored.products, version, scored.as_of, scored.run_id)


def _policies(
    ws: Workspace, catalogue: Catalogue, scoring: ScoringConfig, policy: PolicyConfig, day: date
) -> StageOutcome:
    from planning.policy_job import build_policies

    built = build_policies(ws, as_of=day, catalogue=catalogue, scoring=scoring, config=policy)
    rows_in = len(built.policies) + len(built.flagged)
    version = str(built.source.model_version)
    return StageOutcome("policies", rows_in, len(built.policies), version, built.as_of)


def _kpis(
    ws: Workspace,
    catalogue: Catalogue,
    scoring: ScoringConfig,
    policy: PolicyConfig,
    day: date,
    judged: list[Any],
) -> StageOutcome:
    from planning.kpis import segment_kpis

    report = segment_kpis(ws, catalogue=catalogue, scoring=scoring, config=policy)
    judged.append(report.table)  # the monitoring stage reads these judgements
    # in: the segment x KPI judgements made; out: the alerts written to kpi_alerts
    return StageOutcome("kpis", len(report.table), len(report.alerts), None, day)


def _monitoring(
    ws: Workspace,
    refresh_id: str,
    scoring: ScoringConfig,
    operations: OperationsConfig,
    day: date,
    judged: list[Any],
) -> StageOutcome:
    from planning.monitoring_job import monitor_refresh

    done = monitor_refresh(
        ws,
        refresh_id,
        day,
        scoring=scoring,
        config=operations.monitoring,
        kpis=judged[-1] if judged else None,
    )
    # in: the products measured; out: the monitoring rows appended (all products + each segment)
    return StageOutcome("monitoring", int(done.rows["products"].iloc[0]), len(done.rows), None, day)


def _actions(
    ws: Workspace,
    ref: RegistryRef,
    refresh_id: str,
    day: date,
    scored: StageOutcome,
    who: str,
    configs: dict[str, Any],
    say: Callable[[str], None],
) -> StageOutcome:
    from ml.config.files import load_gates_config
    from strata.actions import act_on_refresh

    given = {k: v for k, v in configs.items() if k != "gates"}
    gates = configs["gates"] or load_gates_config(ws)
    done = act_on_refresh(
        ws,
        ref,
        refresh_id,
        day,
        score_run_id=str(scored.run_id),
        score_version=str(scored.model_version),
        gates=gates,
        who=f"{who} (refresh {refresh_id})",
        progress=say,
        **given,
    )
    # in: the trigger rules fired; out: the actions logged; model: the version it trained
    return StageOutcome("actions", done.fired, len(done.rows), done.retrained, day)


def refresh(
    ws: Workspace,
    ref: RegistryRef,
    *,
    catalogue: Catalogue,
    scoring: ScoringConfig,
    policy: PolicyConfig,
    operations: OperationsConfig | None = None,
    gates: GatesConfig | None = None,
    training: TrainingConfig | None = None,
    as_of: date | None = None,
    triggered_by: str | None = None,
    wait: bool = False,
    refresh_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> RefreshResult:
    """Run every stage in order under the workspace's refresh lock, recording each in the ledger.

    `as_of` is the snapshot date (default: the newest data); `triggered_by` defaults to the
    acting user (``STRATA_USER`` or the OS user). A second refresh of the workspace refuses at
    once naming the running one, or with `wait` queues behind it. The first failing stage is
    marked failed with its error and raises RefreshError; later stages do not run. `gates`
    (default the workspace's configs/gates.yaml) and `training` (default configs/training.yaml)
    are what the actions stage retrains and promotes with.
    """
    say = progress or (lambda _m: None)
    operations = operations or OperationsConfig()
    who = triggered_by or current_user()
    with refresh_lock(ws.warehouse, refresh_id, who, wait=wait) as lock:
        rid = lock.refresh_id  # allocated under the lock: ids sort in the order run
        abandoned = abandon_stale(ws)
        if abandoned:
            say(f"marked {abandoned} stage(s) of an interrupted refresh abandoned")
        outcomes: list[StageOutcome] = []

        def stage(name: str, fn: Callable[[], StageOutcome]) -> StageOutcome:
            say(f"{name}: running")
            start_stage(ws, rid, name, STAGES.index(name) + 1, who)
            try:
                done = fn()
            except BaseException as exc:
                error = f"{type(exc).__name__}: {exc}".strip()
                if isinstance(exc, SystemExit):
                    error = f"terminated (exit status {exc.code}) while the stage was running"
                finish_stage(ws, rid, name, "failed", error=error)
                if isinstance(exc, Exception):
                    raise RefreshError(
                        f"refresh {rid} failed in stage '{name}': {error}. That stage's "
                        f"outputs and every later stage's are as they were; fix the cause and "
                        f"run `strata refresh` again (`strata runs history` shows the ledger)"
                    ) from exc
                raise
            finish_stage(
                ws,
                rid,
                name,
                "succeeded",
                rows_in=done.rows_in,
                rows_out=done.rows_out,
                model_version=done.model_version,
                snapshot_as_of=done.snapshot_as_of,
            )
            say(f"{name}: done, {_counts(done)}")
            outcomes.append(done)
            return done

        built = stage("features", lambda: _features(ws, as_of))
        day = built.snapshot_as_of
        assert day is not None
        scored = stage("score", lambda: _score(ws, ref, scoring, day, built.rows_out))
        stage("policies", lambda: _policies(ws, catalogue, scoring, policy, day))
        judged: list[Any] = []
        stage("kpis", lambda: _kpis(ws, catalogue, scoring, policy, day, judged))
        stage("monitoring", lambda: _monitoring(ws, rid, scoring, operations, day, judged))
        configs = {
            "catalogue": catalogue,
            "scoring": scoring,
            "policy": policy,
            "operations": operations,
            "training": training,
            "gates": gates,
        }
        stage("actions", lambda: _actions(ws, ref, rid, day, scored, who, configs, say))
    return RefreshResult(rid, day, who, abandoned, outcomes)


def _counts(o: StageOutcome) -> str:
    parts: list[Any] = [f"{o.rows_in:,} rows in" if o.rows_in is not None else None]
    parts.append(f"{o.rows_out:,} out" if o.rows_out is not None else None)
    if o.model_version:
        parts.append(f"model v{o.model_version}")
    if o.snapshot_as_of:
        parts.append(f"snapshot {o.snapshot_as_of.isoformat()}")
    return ", ".join(p for p in parts if p)
