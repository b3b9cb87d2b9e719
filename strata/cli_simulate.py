"""`strata simulate` and `strata kpis`: replay policies on real demand; watch segment KPIs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from strata.cli_backtest import backtest_command
from strata.cli_common import (
    DEFAULT_CONFIG,
    CatalogueOpt,
    ConfigOpt,
    PolicyConfigOpt,
    ScoringOpt,
    StepProgress,
    ensure_snapshot,
    fmt_figure,
    run,
    stage_configs,
)

__all__ = ["kpis", "simulate"]


def simulate(
    weeks: Annotated[
        int | None,
        typer.Option(
            "--weeks",
            "--periods",
            min=1,
            help="periods to replay: weeks, or months for a monthly workspace (default one year)",
        ),
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    catalogue: CatalogueOpt = None,
    scoring_config: ScoringOpt = None,
    policy_config: PolicyConfigOpt = None,
    backtest: Annotated[
        bool,
        typer.Option(
            "--backtest",
            help="rolling backtest: every strategy replayed from several origins (configs/"
            "policy.yaml backtest:), segments by the model scoring each as-of snapshot",
        ),
    ] = False,
    model_version: Annotated[
        int | None,
        typer.Option("--model-version", min=1, help="with --backtest: the version judged"),
    ] = None,
    rules: Annotated[
        bool,
        typer.Option("--rules", help="with --backtest: the catalogue's rules segment, no model"),
    ] = False,
    output_format: Annotated[
        str, typer.Option("--format", help="with --backtest: table | json", case_sensitive=False)
    ] = "table",
) -> None:
    """Replay the last periods of real demand through the segmented policies and a uniform
    baseline; print what segmentation buys and write a report under <warehouse>/reports/.
    With --backtest: the rolling backtest of every strategy (see planning/backtest.py)."""
    if backtest:
        backtest_command(config, catalogue, policy_config, model_version, rules, output_format)
        return
    from rich.console import Console

    from planning.replay import simulation_window
    from planning.simulation import simulate_policies
    from planning.simulation_report import write_simulation_report

    ws, cat, scoring, cfg = stage_configs(config, catalogue, scoring_config, policy_config)
    console = Console()
    sim = cfg.simulation
    window = run(simulation_window, ws, weeks or sim.periods, sim.warmup_periods)
    ensure_snapshot(ws, window.policy_as_of, console)
    with StepProgress(6, f"simulate {ws.name}") as step:
        report = run(
            simulate_policies,
            ws,
            periods=weeks,
            catalogue=cat,
            scoring=scoring,
            config=cfg,
            progress=step,
        )
        step("writing the report")
        paths = write_simulation_report(ws, report)
    _print_simulation(console, report, paths)


def _print_simulation(console: Any, report: Any, paths: dict[str, Any]) -> None:
    """The replay's comparison, per segment and overall, and where the report is."""
    from rich.table import Table

    src = report.source
    style = "bold yellow" if src.fallback else "bold"
    console.print(f"[{style}]segments[/]: {src.detail}")
    console.print(f"window: {report.window.describe()}")
    comp = report.comparison()
    t = Table(
        title=f"Segmented against uniform {report.best} at {report.uniform.level:.3f}",
        title_justify="left",
    )
    t.add_column("segment")
    heads = [
        ("segmented", "products"),
        ("segmented", "planned_fill_rate"),
        ("segmented", "fill_rate"),
        ("uniform", "fill_rate"),
        ("segmented", "cycle_service_level"),
        ("segmented", "avg_inventory_value"),
        ("uniform", "avg_inventory_value"),
        ("segmented", "turns"),
        ("uniform", "turns"),
        ("segmented", "stockout_periods"),
        ("segmented", "longest_stockout"),
    ]
    for side, name in heads:
        t.add_column(f"{side[:3]}. {name.replace('_', ' ')}", justify="right")
    for segment, row in comp.iterrows():
        cells = [fmt_figure(row[(side, name)]) for side, name in heads]
        cells[0] = f"{int(row[heads[0]]):,}"  # products
        t.add_row(str(segment), *cells)
    console.print(t)
    for kind, base in report.baselines.items():
        at = base.equal_fill_inventory
        shown = "not reached by the sweep" if at is None else f"{at:,.0f}"
        console.print(f"uniform {kind} inventory at the segmented fill rate: {shown}")
    console.print(f"\n[bold]{report.headline}[/]")
    for reason, n in report.excluded.items():
        console.print(f"[dim]left out: {n:,} {reason}[/]")
    console.print(f"report: {paths['markdown']}\nchart:  {paths['chart']}")


def kpis(
    config: ConfigOpt = DEFAULT_CONFIG,
    catalogue: CatalogueOpt = None,
    scoring_config: ScoringOpt = None,
    policy_config: PolicyConfigOpt = None,
) -> None:
    """Each segment's fill rate, turns, inventory value and stockout duration against its targets;
    breaches become alerts (table kpi_alerts), persistent ones propose re-segmentation."""
    from rich.console import Console
    from rich.table import Table

    from planning.kpis import segment_kpis

    ws, cat, scoring, cfg = stage_configs(config, catalogue, scoring_config, policy_config)
    console = Console()
    with StepProgress(4, f"kpis {ws.name}") as step:
        report = run(segment_kpis, ws, catalogue=cat, scoring=scoring, config=cfg, progress=step)
    style = "bold yellow" if report.source == "simulation" else "bold"
    console.print(f"[{style}]KPIs {report.source_detail}[/]")
    console.print(f"policies: {report.policies_detail}")
    kc = cfg.kpis
    t = Table(
        title=f"Segment KPIs, {kc.window_periods} {ws.calendar.bucket}s to {report.as_of}",
        title_justify="left",
    )
    for head in ("segment", "kpi", "value", "target", "tolerance", "status", "for"):
        t.add_column(head, justify="left" if head in ("segment", "kpi", "status") else "right")
    for row in report.table.to_dict("records"):
        status = "[red]ALERT[/]" if row["breached"] else "ok"
        t.add_row(
            row["segment"],
            row["kpi"],
            fmt_figure(row["value"]),
            fmt_figure(row["target"]),
            fmt_figure(row["tolerance"]),
            status,
            f"{row['periods_breached']} {ws.calendar.bucket}s" if row["breached"] else "",
        )
    console.print(t)
    if report.alerts.empty:
        console.print("[green]no KPI beyond its tolerance[/]")
        return
    console.print(f"[red]{len(report.alerts)} alert(s)[/] written to table kpi_alerts")
    persistent = report.alerts[report.alerts["proposal"] != ""]
    for (segment, cause), part in persistent.groupby(["segment", "cause"], sort=True):
        streak = f"{int(part['periods_breached'].min())}+ {ws.calendar.bucket}s in a row"
        kpis = ", ".join(part["kpi"])
        if cause == "fit":
            console.print(
                f"[yellow]proposal[/]: re-segment '{segment}': {kpis} beyond tolerance for "
                f"{streak}; its products' demand has moved — re-score (`strata score`) and "
                "review the segment's policy"
            )
        else:
            console.print(
                f"[yellow]policy review[/]: '{segment}': {kpis} beyond tolerance for {streak} "
                "with its products' demand unchanged — the plan misses, not the segment "
                "(`strata simulate` shows planned against achieved)"
            )
