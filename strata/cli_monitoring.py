"""`strata runs monitoring`: the monitoring table of the newest refreshes, breaches highlighted."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from strata.cli_common import DEFAULT_CONFIG, ConfigOpt, FormatOpt, output_format_of, run, workspace
from strata.cli_tables import log_console, refresh_cells

__all__ = ["runs_monitoring"]

_SHOWN = [
    ("refresh_id", "refresh"),
    ("as_of", "as of"),
    ("segment", "segment"),
    ("products", "products"),
    ("share", "share"),
    ("share_change", "Δ share"),
    ("psi_max", "PSI max"),
    ("psi_max_attribute", "worst attribute"),
    ("changed_share", "changed"),
    ("provisional_share", "provisional"),
    ("imputed_share", "imputed"),
    ("kpis_breached", "KPIs breached"),
    ("kpis_breached_fit", "of them: fit"),
    ("breaches", "thresholds breached"),
]
_SHARES = {"share", "share_change", "changed_share", "provisional_share", "imputed_share"}


def _cell(col: str, value: Any) -> str:
    if value is None or str(value) in ("None", "nan", "NaT", "<NA>", ""):
        return "—"
    if col in _SHARES:
        return f"{float(value):+.1%}" if col == "share_change" else f"{float(value):.1%}"
    if col == "psi_max":
        return f"{float(value):.3f}"
    return str(value)


def runs_monitoring(
    config: ConfigOpt = DEFAULT_CONFIG,
    limit: Annotated[int, typer.Option("--limit", min=1, help="newest N refreshes")] = 5,
    output_format: FormatOpt = "table",
) -> None:
    """Monitoring of the newest refreshes: drift, segment mix, churn, KPIs, thresholds breached."""
    from ml.config.files import load_operations_config
    from ml.triggers import fired_rules
    from store.monitoring_table import monitoring_path, read_monitoring

    output_format = output_format_of(output_format)
    ws = workspace(config)
    operations = run(load_operations_config, ws, None)
    table = run(read_monitoring, ws)
    fired = fired_rules(table, operations.rules)
    ids = sorted(set(table["refresh_id"]), reverse=True)[:limit]
    shown = table[table["refresh_id"].isin(ids)].sort_values(
        ["refresh_id", "segment"], ascending=[False, True], key=_all_first
    )
    if output_format == "json":
        rows = json.loads(shown.to_json(orient="records", date_format="iso"))
        rules = [f.__dict__ for f in fired]
        sys.stdout.write(json.dumps({"rows": rows, "rules_fired": rules}, indent=2) + "\n")
        return
    from rich.table import Table

    console = log_console()
    if table.empty:
        console.print(f"no monitoring recorded yet for {ws.name}; run `strata refresh`")
        return
    t = Table(title=f"Monitoring of {ws.name} (newest refresh first)", title_justify="left")
    for col, head in _SHOWN:
        t.add_column(
            head, justify="left" if col in ("refresh_id", "segment", "breaches") else "right"
        )
    rows = shown.to_dict("records")
    for row, cells in zip(rows, refresh_cells(rows, [c for c, _ in _SHOWN], _cell), strict=True):
        t.add_row(*cells, style="red" if row["breaches"] else None)
    console.print(t)
    console.print(
        f"[dim]table {monitoring_path(ws)}; chart {ws.warehouse / operations.monitoring.chart}[/]"
    )
    if not fired:
        console.print("trigger rules: none fired")
    for f in fired:
        console.print(f"[bold red]rule fired[/] {f.rule}: {f.why}")


def _all_first(col: Any) -> Any:
    """Sort key: the ALL row before the segments of its refresh."""
    if col.name == "segment":
        return col.map(lambda s: "" if s == "ALL" else str(s))
    return col
