"""Shared pieces of the CLI: options, error handling, date parsing. Imports only typer and stdlib."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = [
    "DEFAULT_CONFIG",
    "AsOfOpt",
    "ConfigOpt",
    "StepProgress",
    "ensure_snapshot",
    "fail",
    "fmt_figure",
    "parse_date",
    "run",
    "workspace",
]

DEFAULT_CONFIG = Path("configs/strata.yaml")
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="workspace config (YAML)")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="snapshot date, YYYY-MM-DD (default: newest)")
]


FormatOpt = Annotated[str, typer.Option("--format", help="table | json", case_sensitive=False)]


def output_format_of(value: str) -> str:
    """`--format` lower-cased, or a clear failure when it is neither table nor json."""
    if value.lower() not in ("table", "json"):
        fail(f"--format {value!r} is not a format; use table or json")
    return value.lower()


def fail(message: str, code: int = 2) -> None:
    """Print one clear error and exit non-zero."""
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a stage; a StrataError becomes one clear message and a non-zero exit."""
    from ml.errors import StrataError

    try:
        return fn(*args, **kwargs)
    except StrataError as exc:
        fail(str(exc))


def parse_date(value: str | None, option: str = "--as-of") -> date | None:
    """A YYYY-MM-DD option value as a date, or a clear error."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2011-12-05")
    return None


def workspace(config: Path) -> Any:
    """The validated workspace config, or a clear error naming file and key."""
    from ml.config.files import load_workspace

    return run(load_workspace, config)


class StepProgress:
    """A Rich progress bar advanced once per stage step; use as a context manager."""

    def __init__(self, total: int, title: str) -> None:
        self.total, self.title = total, title

    def __enter__(self) -> StepProgress:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[b]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(self.title, total=self.total)
        self._started = False
        return self

    def __call__(self, message: str) -> None:
        """Mark the previous step done and show `message` as the current one."""
        if self._started:
            self._progress.advance(self._task)
        self._started = True
        self._progress.update(self._task, description=message)

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self._progress.update(
                self._task, completed=self.total, description=self.title + " done"
            )
        self._progress.stop()


# the stage configs every stage command takes, and their one loader
PolicyConfigOpt = Annotated[
    Path | None,
    typer.Option("--policy-config", help="policy stage config (default: configs/policy.yaml)"),
]
CatalogueOpt = Annotated[
    Path | None,
    typer.Option("--catalogue", help="segment catalogue (default: the workspace's)"),
]
ScoringOpt = Annotated[
    Path | None,
    typer.Option(
        "--scoring-config", help="scoring settings and sinks (default: configs/scoring.yaml)"
    ),
]


def stage_configs(
    config: Path, catalogue: Path | None, scoring: Path | None, policy_config: Path | None
) -> tuple[Any, Any, Any, Any]:
    """The workspace, catalogue, scoring and policy configs, each a clear error when bad."""
    from ml.config.files import load_catalogue, load_policy_config, load_scoring_config

    ws = workspace(config)
    return (
        ws,
        run(load_catalogue, ws, catalogue),
        run(load_scoring_config, ws, scoring),
        run(load_policy_config, ws, policy_config),
    )


def fmt_figure(value: Any) -> str:
    """A figure for the simulation tables: — for none, ALERT/ok for flags, 3 decimals or 1,000s."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return "ALERT" if value else "ok"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3f}"
    return str(value)


def ensure_snapshot(ws: Any, day: Any, console: Any) -> None:
    """Build the point-in-time snapshot the replay needs when it does not exist yet."""
    from features.snapshots import list_snapshots

    if day in list_snapshots(ws):
        return
    from features.build import build_features

    console.print(
        f"[dim]building the point-in-time snapshot as of {day.isoformat()} (once): the policies "
        f"must come from what was known before the window[/]"
    )
    with StepProgress(3, f"features build {ws.name} as of {day}") as step:
        run(build_features, ws, as_of=[day], progress=step)
