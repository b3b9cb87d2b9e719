"""`strata policy optimise`: segment fill-rate targets that hold the service for less stock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from strata.cli_common import (
    DEFAULT_CONFIG,
    AsOfOpt,
    CatalogueOpt,
    ConfigOpt,
    PolicyConfigOpt,
    ScoringOpt,
    parse_date,
    run,
    stage_configs,
)

if TYPE_CHECKING:
    from planning.optimise import ServiceLevelProposal

__all__ = ["optimise"]


def optimise(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_of: AsOfOpt = None,
    target: Annotated[
        float | None,
        typer.Option(
            "--target",
            help="aggregate demand-weighted fill rate to hold (default: what the catalogue "
            "plans today, or optimise.target_fill_rate in configs/policy.yaml)",
        ),
    ] = None,
    catalogue: CatalogueOpt = None,
    scoring_config: ScoringOpt = None,
    policy_config: PolicyConfigOpt = None,
    output_format: Annotated[
        str, typer.Option("--format", help="table | json", case_sensitive=False)
    ] = "table",
) -> None:
    """Fill-rate targets per segment (within the catalogue's floors and ceilings) that need the
    least safety stock for the aggregate fill rate, against one rule for all and the per-product
    limit; written as a proposed catalogue under <warehouse>/reports/, never into configs/."""
    from planning.optimise import optimise_service_levels
    from planning.proposal_file import write_proposal

    if output_format not in ("table", "json"):
        raise typer.BadParameter(f"--format {output_format!r}: use table or json")
    ws, cat, scoring, cfg = stage_configs(config, catalogue, scoring_config, policy_config)
    proposal = run(
        optimise_service_levels,
        ws,
        as_of=parse_date(as_of),
        target=target,
        catalogue=cat,
        scoring=scoring,
        config=cfg,
    )
    path = run(write_proposal, ws, proposal)
    if output_format == "json":
        typer.echo(json.dumps(_figures(proposal, path), indent=2, default=str))
        return
    _print(proposal, path)


def _figures(p: ServiceLevelProposal, path: Path) -> dict[str, object]:
    return {
        "as_of": p.as_of,
        "target_fill_rate": p.target,
        "saving_vs_best_uniform": p.saving_vs_best_uniform,
        "captured_share_of_limit": p.saving_vs_best_uniform / p.per_item_limit_saving
        if p.per_item_limit_saving > 0
        else None,
        "per_item_limit_saving": p.per_item_limit_saving,
        "excluded_products": p.excluded,
        "strategies": p.strategies.to_dict("records"),
        "segments": p.segments.to_dict("records"),
        "proposal": str(path),
    }


def _print(p: ServiceLevelProposal, path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]segments[/]: {p.source.detail}")
    s = Table(
        title=f"Strategies at an aggregate planned fill rate of {p.target:.2%}",
        title_justify="left",
    )
    for head in ("strategy", "safety-stock value", "planned fill", "saving vs best uniform"):
        s.add_column(head, justify="left" if head == "strategy" else "right")
    for row in p.strategies.to_dict("records"):
        s.add_row(
            row["strategy"],
            f"{row['safety_stock_value']:,.0f}",
            f"{row['planned_fill_rate']:.4f}",
            f"{row['saving']:+.1%}",
        )
    console.print(s)
    t = Table(
        title="Proposed cycle-service level per segment, by cycle-value band (cheap to dear)",
        title_justify="left",
    )
    for head in ("segment", "products", "now", "floor", "ceiling", "proposed", "SS now", "SS then"):
        t.add_column(head, justify="left" if head in ("segment", "now") else "right")
    for row in p.segments.to_dict("records"):
        t.add_row(
            row["segment"],
            f"{row['products']:,}",
            row["current_target"],
            f"{row['floor']:g}",
            f"{row['ceiling']:g}",
            f"CSL {row['proposed_csl_by_band']}",
            f"{row['current_safety_stock_value']:,.0f}",
            f"{row['proposed_safety_stock_value']:,.0f}",
        )
    console.print(t)
    for reason, n in p.excluded.items():
        if n:
            console.print(f"{n:,} product(s) left out: {reason}")
    console.print(
        f"proposal: {path}\n[dim]SS now = safety-stock value under today's catalogue (its own "
        "lead-time-demand methods); the strategies model every product with normal lead-time "
        "demand of its own moments. Replay the proposal before adopting it: strata simulate "
        f"--catalogue {path}[/]"
    )
