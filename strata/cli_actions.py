"""`strata runs actions`: what the actions stage of the newest refreshes did, and what waits."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from strata.cli_common import DEFAULT_CONFIG, ConfigOpt, FormatOpt, output_format_of, run, workspace
from strata.cli_tables import log_console, refresh_cells

__all__ = ["runs_actions"]

_SHOWN = [
    ("refresh_id", "refresh"),
    ("as_of", "as of"),
    ("step", "#"),
    ("action", "action"),
    ("outcome", "outcome"),
    ("model_version", "model"),
    ("rule", "rule"),
    ("why", "why"),
]
_STYLE = {"failed": "red", "waiting": "yellow", "passed": "green"}


def _cell(_col: str, value: Any) -> str:
    return "—" if value is None or str(value) in ("None", "nan", "NaT", "<NA>", "") else str(value)


def runs_actions(
    config: ConfigOpt = DEFAULT_CONFIG,
    limit: Annotated[int, typer.Option("--limit", min=1, help="newest N refreshes")] = 5,
    output_format: FormatOpt = "table",
) -> None:
    """The actions log: retrains, gates, staging, shadow, champion, probation and rollbacks."""
    from store.actions_log import read_actions

    output_format = output_format_of(output_format)
    ws = workspace(config)
    table = run(read_actions, ws)
    ids = sorted(set(table["refresh_id"]), reverse=True)[:limit]
    shown = table[table["refresh_id"].isin(ids)].sort_values(
        ["refresh_id", "step"], ascending=[False, True]
    )
    if output_format == "json":
        rows = json.loads(shown.to_json(orient="records", date_format="iso"))
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.table import Table

    console = log_console()
    if table.empty:
        console.print(f"no actions recorded yet for {ws.name}; run `strata refresh`")
        return
    t = Table(title=f"Actions of {ws.name} (newest refresh first)", title_justify="left")
    for col, head in _SHOWN:
        t.add_column(head, overflow="fold" if col == "why" else "ellipsis")
    rows = shown.to_dict("records")
    for row, cells in zip(rows, refresh_cells(rows, [c for c, _ in _SHOWN], _cell), strict=True):
        t.add_row(*cells, style=_STYLE.get(str(row["outcome"])))
    console.print(t)
