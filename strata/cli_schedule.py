"""`strata schedule`: refresh the configured workspaces on cron expressions (APScheduler)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from strata.cli_common import DEFAULT_CONFIG, ConfigOpt, fail, run, workspace

__all__ = ["schedule_command"]


def schedule_command(
    config: ConfigOpt = DEFAULT_CONFIG,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the next fire times and the workspaces; exit")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="run one scheduled refresh of each workspace now; exit")
    ] = False,
    count: Annotated[int, typer.Option("--count", min=1, help="fire times shown")] = 5,
    after: Annotated[
        str | None, typer.Option("--after", help="dry run: fire times after this ISO datetime")
    ] = None,
) -> None:
    """Run `strata refresh` on the cron expressions of configs/operations.yaml (schedule:)."""
    from rich.console import Console

    from ml.config.files import load_operations_config
    from strata.schedule import next_fire_times, refresh_workspace, run_scheduler

    console = Console(soft_wrap=True, highlight=False)
    ws = workspace(config)
    schedule = run(load_operations_config, ws, None).schedule
    configs = [ws.resolve(p) for p in schedule.workspaces] or [Path(config)]
    if dry_run:
        try:
            start = datetime.fromisoformat(after) if after else datetime.now(UTC)
        except ValueError:
            fail(f"--after {after!r} is not an ISO datetime; e.g. 2026-12-07T07:00+00:00")
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        console.print(f"schedule {', '.join(schedule.cron)} ({schedule.timezone}) refreshes:")
        for c in configs:
            console.print(f"  {c}")
        for fire in next_fire_times(schedule, start, count):
            console.print(f"next {fire.isoformat()} ({fire:%A})")
        return
    say = lambda msg: console.print(f"[dim]· {msg}[/]")  # noqa: E731
    if once:
        failed = 0
        for c in configs:
            try:
                done = run(refresh_workspace, c, progress=say)
                console.print(f"[bold]refresh[/] {done.refresh_id} of {c}: triggered by schedule")
            except typer.Exit:
                failed += 1
        if failed:
            raise typer.Exit(1)
        return
    run_scheduler(configs, schedule, say)
