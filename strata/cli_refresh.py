"""`strata refresh` and `strata runs history`: every stage in one command, and its ledger."""

from __future__ import annotations

import json
import signal
import sys
from typing import Annotated, Any

import typer

from strata.cli_common import (
    DEFAULT_CONFIG,
    AsOfOpt,
    ConfigOpt,
    FormatOpt,
    output_format_of,
    parse_date,
    run,
    stage_configs,
    workspace,
)

__all__ = ["refresh_command", "runs_history"]


def _terminated(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def refresh_command(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_of: AsOfOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="queue behind a running refresh instead of refusing")
    ] = False,
    triggered_by: Annotated[
        str | None,
        typer.Option(
            "--triggered-by", help="recorded in the ledger (default: STRATA_USER or the OS user)"
        ),
    ] = None,
) -> None:
    """Features -> score with @champion -> policies -> KPIs -> monitoring -> actions, in the ledger."""
    from rich.console import Console

    from ml.config.files import load_operations_config
    from strata.cli_models import serving_context
    from strata.refresh import refresh

    # a polite kill (cron's timeout, systemd) unwinds like an error: the stage's staged outputs
    # are removed and its ledger row is closed failed instead of left running
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        sc = serving_context(config)
        ws, catalogue, scoring, policy = stage_configs(config, None, None, None)
        operations = run(load_operations_config, ws, None)
        console = Console(soft_wrap=True, highlight=False)
        result = run(
            refresh,
            ws,
            sc.ref,
            catalogue=catalogue,
            scoring=scoring,
            policy=policy,
            operations=operations,
            gates=sc.gates(None),
            training=sc.training,
            as_of=parse_date(as_of),
            triggered_by=triggered_by,
            wait=wait,
            progress=lambda msg: console.print(f"[dim]· {msg}[/]"),
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    console.print(
        f"[bold]refresh[/] {result.refresh_id} of {ws.name} as of {result.as_of}: "
        f"{len(result.stages)} stages succeeded (triggered by {result.triggered_by}); "
        "`strata runs history` shows the ledger"
    )


_SHOWN = [
    ("refresh_id", "refresh"),
    ("stage", "stage"),
    ("status", "status"),
    ("started_at", "started (UTC)"),
    ("seconds", "s"),
    ("rows_in", "rows in"),
    ("rows_out", "rows out"),
    ("model_version", "model"),
    ("snapshot_as_of", "snapshot"),
    ("triggered_by", "by"),
    ("error", "error"),
]


def _cell(col: str, value: Any) -> str:
    if col == "started_at" and value is not None and str(value) != "NaT":
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if col in ("rows_in", "rows_out") and value == value and value is not None:
        value = int(value)
    if value is None or str(value) in ("None", "nan", "NaT", "<NA>"):
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def runs_history(
    config: ConfigOpt = DEFAULT_CONFIG,
    limit: Annotated[int, typer.Option("--limit", min=1, help="newest N refreshes")] = 10,
    output_format: FormatOpt = "table",
) -> None:
    """The refresh ledger: each stage of the newest refreshes with status, counts and versions."""
    from store.run_ledger import read_ledger

    output_format = output_format_of(output_format)
    ws = workspace(config)
    frame = run(read_ledger, ws, limit)
    seconds = (frame["ended_at"] - frame["started_at"]).dt.total_seconds()
    frame = frame.assign(seconds=seconds.round(2))
    if output_format == "json":
        day = frame["snapshot_as_of"].map(lambda d: None if d is None else str(d)[:10])
        rows = json.loads(
            frame.assign(snapshot_as_of=day).to_json(orient="records", date_format="iso")
        )
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.table import Table

    from strata.cli_tables import log_console, refresh_cells

    console = log_console()
    if frame.empty:
        console.print(f"no refresh recorded yet for {ws.name}; run `strata refresh`")
        return
    t = Table(title=f"Refreshes of {ws.name} (newest first)", title_justify="left")
    for col, head in _SHOWN:
        numeric = col in ("seconds", "rows_in", "rows_out")
        wrap = col == "error"
        t.add_column(
            head,
            justify="right" if numeric else "left",
            no_wrap=not wrap,
            overflow="fold" if wrap else "ellipsis",
            min_width=20 if wrap else None,
        )
    styles = {"failed": "red", "abandoned": "yellow", "running": "cyan"}
    rows = frame.to_dict("records")
    for row, cells in zip(rows, refresh_cells(rows, [c for c, _ in _SHOWN], _cell), strict=True):
        t.add_row(*cells, style=styles.get(row["status"]))
    console.print(t)
