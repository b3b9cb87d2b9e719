"""`strata schedule`: APScheduler 3 runs `strata refresh` on the configured cron expressions.

Each run goes through the same ``strata.refresh.refresh`` as the command, with triggered_by
``schedule`` in the ledger, and queues behind a refresh already running (``wait``). A failed
run is reported and the scheduler keeps its next dates: the ledger holds the failure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ml.config.operations import Schedule
from ml.cron import apscheduler_crontab

__all__ = ["TRIGGERED_BY", "next_fire_times", "refresh_workspace", "run_scheduler", "triggers"]

TRIGGERED_BY = "schedule"


def triggers(schedule: Schedule) -> list[Any]:
    """One APScheduler CronTrigger per configured expression, in the schedule's time zone."""
    from apscheduler.triggers.cron import CronTrigger

    return [
        CronTrigger.from_crontab(apscheduler_crontab(e), timezone=schedule.timezone)
        for e in schedule.cron
    ]


def next_fire_times(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next `count` times any of the schedule's expressions fires, strictly after `after`."""
    tick = timedelta(microseconds=1)  # get_next_fire_time returns `now` itself when it fires then
    times: set[datetime] = set()
    for trigger in triggers(schedule):
        previous, now = None, after + tick
        for _ in range(count):
            fire = trigger.get_next_fire_time(previous, now)
            if fire is None:
                break
            times.add(fire)
            previous, now = fire, fire + tick
    return sorted(times)[:count]


def refresh_workspace(
    config: Path, triggered_by: str = TRIGGERED_BY, progress: Callable[[str], None] | None = None
) -> Any:
    """One refresh of the workspace in `config`, configs read afresh (edits apply next run)."""
    from ml.config.files import (
        load_catalogue,
        load_operations_config,
        load_policy_config,
        load_scoring_config,
        load_training_config,
        load_workspace,
    )
    from store.registry import RegistryRef
    from strata.refresh import refresh
    from training.tracking import tracking_uri

    ws = load_workspace(config)
    training = load_training_config(ws)
    return refresh(
        ws,
        RegistryRef(training.registered_model, tracking_uri(ws)),
        catalogue=load_catalogue(ws),
        scoring=load_scoring_config(ws),
        policy=load_policy_config(ws),
        operations=load_operations_config(ws),
        training=training,
        triggered_by=triggered_by,
        wait=True,
        progress=progress,
    )


def run_scheduler(
    configs: list[Path], schedule: Schedule, say: Callable[[str], None]
) -> None:  # pragma: no cover - blocks until interrupted; `--once` and `--dry-run` are tested
    """Block, running every workspace's refresh at each fire time, until interrupted."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    def job() -> None:
        for config in configs:
            try:
                done = refresh_workspace(config, progress=say)
                say(f"refresh {done.refresh_id} of {config} succeeded")
            except Exception as exc:  # the ledger has the failure; keep the schedule alive
                say(f"refresh of {config} failed: {exc}")

    scheduler = BlockingScheduler(timezone=schedule.timezone)
    for i, trigger in enumerate(triggers(schedule)):
        scheduler.add_job(job, trigger, id=f"refresh-{i}", coalesce=True, max_instances=1)
    say(f"scheduler started: {', '.join(schedule.cron)} ({schedule.timezone}); Ctrl-C stops it")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        say("scheduler stopped")
