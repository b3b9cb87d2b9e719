"""Scoring and planner verbs: `strata score [rollback]`, `strata explain SKU`, `strata audit SKU`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from strata.cli_common import DEFAULT_CONFIG, AsOfOpt, ConfigOpt, fail, parse_date, run, workspace
from strata.cli_models import ScoringOpt, TrainingOpt, quiet_serving, serving_context

__all__ = ["audit", "explain", "score_app"]

score_app = typer.Typer(
    help="Score a snapshot: segments, probabilities, reasons, hysteresis, overrides, audit.",
    invoke_without_command=True,
)


def _unaudited(config: Path, scoring_config: Path | None, sku: str) -> str:
    """The answer for a product without audit rows: its newest assignment, if it has one.

    Products scored before first assignments were audited have no row until they change.
    """
    from ml.errors import StrataError
    from serving.explain import explain_sku

    sc = serving_context(config, None)
    try:
        found = explain_sku(sc.ws, sc.scoring(scoring_config), sku)
    except StrataError:
        return f"no audit rows for {sku}, and no scored assignment either"
    first_line = found.to_text().splitlines()[0]
    return (
        f"no audit rows for {sku}: it was scored before first assignments were audited and has "
        f"not changed segment since. Newest assignment: {first_line}"
    )


def _console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=True, highlight=False)


@score_app.callback(invoke_without_command=True)
def score(
    ctx: typer.Context,
    as_of: AsOfOpt = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="champion (default) | staging | a version number"),
    ] = None,
    shadow: Annotated[
        bool,
        typer.Option(
            "--shadow", help="score staging into the shadow sinks and compare with the champion"
        ),
    ] = False,
    engine: Annotated[
        str, typer.Option("--engine", help="pandas (default) | spark (needs strata[spark])")
    ] = "pandas",
    threads: Annotated[
        int, typer.Option("--threads", min=0, help="LightGBM threads (0 = all cores)")
    ] = 0,
    config: ConfigOpt = DEFAULT_CONFIG,
    scoring_config: ScoringOpt = None,
    training_config: TrainingOpt = None,
) -> None:
    """Score the newest snapshot (or --as-of) with @champion and write assignments + explanations."""
    if ctx.invoked_subcommand is not None:
        return
    if engine not in ("pandas", "spark"):
        fail(f"--engine {engine!r} is not an engine; use pandas or spark")
    sc = serving_context(config, training_config)
    from serving.scoring import score as score_stage

    console = _console()
    result = run(
        score_stage,
        sc.ws,
        sc.ref,
        sc.scoring(scoring_config),
        as_of=parse_date(as_of),
        model=model,
        shadow=shadow,
        engine=engine,
        num_threads=threads,
        progress=lambda msg: console.print(f"[dim]· {msg}[/]"),
    )
    _print_result(console, result)


def _print_result(console: Any, r: Any) -> None:
    from rich.table import Table

    console.print(
        f"[bold]run[/] {r.run_id}  [bold]model[/] {r.model_name} v{r.model_version}  "
        f"[bold]snapshot[/] {r.as_of} ({r.feature_set})  [bold]engine[/] {r.engine}"
    )
    console.print(
        f"{r.products:,} products; {r.changed:,} changed segment"
        + (f" against {r.previous}" if r.previous else " (first run: nothing to compare with)")
        + (f", {r.held_back:,} held back by hysteresis" if r.held_back else "")
        + f"; methods: {', '.join(f'{k} {v:,}' for k, v in r.methods.items())}; "
        f"overrides applied {r.applied_overrides}, lapsed {r.expired_overrides}; "
        f"{r.audited:,} audit rows"
    )
    mix = Table(title="Segments", title_justify="left")
    mix.add_column("segment")
    mix.add_column("products", justify="right")
    mix.add_column("share", justify="right")
    for seg, n in sorted(r.segments.items(), key=lambda kv: -kv[1]):
        mix.add_row(seg, f"{n:,}", f"{n / max(r.products, 1):.1%}")
    console.print(mix)
    console.print("written to: " + ", ".join(r.sinks))
    if r.shadow is not None:
        _print_shadow(console, r.shadow)
    console.print(f"undo with: strata score rollback {r.run_id}")


def _print_shadow(console: Any, s: Any, shown: int = 20) -> None:
    from rich.table import Table

    where = "its written assignments" if s.champion_source == "sink" else "scored now"
    console.print(
        f"[bold]shadow[/]: staging v{s.staging_version} against champion v{s.champion_version} "
        f"({where}): {s.moving:,} of {s.products:,} products would move "
        f"({s.moving / max(s.products, 1):.1%})"
    )
    t = Table(title="Changes by segment", title_justify="left")
    for col in s.by_segment.columns:
        t.add_column(col.replace("_", " "), justify="left" if col == "segment" else "right")
    for _, row in s.by_segment.iterrows():
        t.add_row(*[f"{v:+,}" if c == "net" else str(v) for c, v in row.items()])
    console.print(t)
    if s.moving:
        m = Table(title=f"Products that would move (first {shown})", title_justify="left")
        for col in ("sku_id", "champion", "staging", "staging probability"):
            m.add_column(col)
        for _, row in s.movers.head(shown).iterrows():
            m.add_row(
                str(row["sku_id"]),
                str(row["champion_segment"]),
                str(row["staging_segment"]),
                f"{row['staging_probability']:.2f}",
            )
        console.print(m)


@score_app.command("rollback")
def score_rollback(
    run_id: Annotated[
        str, typer.Argument(help="the scoring run to undo (`strata score` prints it)")
    ],
    reason: Annotated[str | None, typer.Option("--reason", help="why; recorded")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    scoring_config: ScoringOpt = None,
    training_config: TrainingOpt = None,
) -> None:
    """Restore the assignments and explanations that scoring run RUN_ID replaced."""
    sc = serving_context(config, training_config)
    from serving.rollback import rollback_scoring_run

    r = run(
        rollback_scoring_run,
        sc.ws,
        sc.scoring(scoring_config),
        run_id,
        sc.ref.model_name,
        reason or "",
    )
    restored = (
        f"run {r.restored_run_id} is visible again"
        if r.restored_run_id
        else ("the partition it created is removed")
    )
    _console().print(
        f"rolled back scoring run {r.run_id} (as_of {r.as_of}, v{r.model_version}) in "
        f"{', '.join(r.sinks)}: {restored}; {r.segment_changes} product(s) moved back (audited)"
    )


def explain(
    sku: Annotated[str, typer.Argument(help="product id")],
    as_of: AsOfOpt = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="write a SHAP waterfall PNG here")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    scoring_config: ScoringOpt = None,
    training_config: TrainingOpt = None,
) -> None:
    """A product's segment, probability, provisional flag and reasons in plain words."""
    sc = serving_context(config, training_config)
    from serving.explain import explain_sku, sku_waterfall

    found = run(explain_sku, sc.ws, sc.scoring(scoring_config), sku, parse_date(as_of))
    console = _console()
    console.print(found.to_text())
    if plot is not None:
        path = run(sku_waterfall, sc.ws, sc.ref, found, plot)
        console.print(f"waterfall written to {path}")


def audit(
    sku: Annotated[str, typer.Argument(help="product id (or the model name for promotions)")],
    config: ConfigOpt = DEFAULT_CONFIG,
    scoring_config: ScoringOpt = None,
) -> None:
    """A product's history: first assignment, segment changes, overrides, with dates, model
    versions and reasons."""
    quiet_serving()
    from rich.table import Table

    from store.audit import read_audit

    ws = workspace(config)
    rows = run(read_audit, ws, sku)
    console = _console()
    if rows.empty:
        console.print(_unaudited(config, scoring_config, sku))
        return
    t = Table(title=f"Audit of {sku} (oldest first)", title_justify="left")
    for col in ("when (UTC)", "event", "from", "to", "model", "run", "who"):
        t.add_column(col, no_wrap=True)
    t.add_column("why", ratio=1, min_width=30)

    def cell(v: Any) -> str:
        return "—" if v is None or str(v) in ("None", "nan", "<NA>") else str(v)

    for _, r in rows.iterrows():
        t.add_row(
            f"{r['occurred_at']:%Y-%m-%d %H:%M}",
            r["event"],
            cell(r["from_value"]),
            cell(r["to_value"]),
            "—" if cell(r["model_version"]) == "—" else f"v{r['model_version']}",
            cell(r["run_id"]),
            cell(r["who"]),
            cell(r["why"]),
        )
    console.print(t)
