"""`strata policy calc | build | show`: the what-if calculator, the policy job, one product's policy."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from strata.cli_common import (
    DEFAULT_CONFIG,
    AsOfOpt,
    CatalogueOpt,
    ConfigOpt,
    PolicyConfigOpt,
    ScoringOpt,
    StepProgress,
    parse_date,
    run,
    stage_configs,
    workspace,
)
from strata.cli_optimise import optimise

policy_app = typer.Typer(
    help="Inventory policies: safety stock, reorder point, order quantity, fill rate.",
    no_args_is_help=True,
)


class ServiceType(StrEnum):
    """What the service level means."""

    csl = "csl"
    fill_rate = "fill-rate"


_PERIODS = "in the demand's periods"


@policy_app.callback()
def policy() -> None:
    """Inventory policies: safety stock, reorder point, order quantity, fill rate."""


@policy_app.command("calc")
def calc(
    demand_mean: Annotated[
        float, typer.Option("--demand-mean", help="mean demand per period (base units)")
    ],
    demand_sd: Annotated[float, typer.Option("--demand-sd", help="sd of demand per period")],
    lead_time: Annotated[float, typer.Option("--lead-time", help=f"mean lead time, {_PERIODS}")],
    service_level: Annotated[
        float, typer.Option("--service-level", help="target as a fraction, e.g. 0.95")
    ],
    lead_time_sd: Annotated[
        float, typer.Option("--lead-time-sd", help=f"sd of the lead time, {_PERIODS}")
    ] = 0.0,
    review_period: Annotated[
        float,
        typer.Option("--review-period", help=f"0 = continuous review, else {_PERIODS}"),
    ] = 0.0,
    service_type: Annotated[
        ServiceType,
        typer.Option(
            "--service-type", help="csl: no stockout in a cycle; fill-rate: share of demand met"
        ),
    ] = ServiceType.csl,
    order_qty: Annotated[
        float | None, typer.Option("--order-qty", help="order quantity (else EOQ, or d x R)")
    ] = None,
    annual_demand: Annotated[
        float | None, typer.Option("--annual-demand", help="for the EOQ: units per year")
    ] = None,
    order_cost: Annotated[
        float | None, typer.Option("--order-cost", help="for the EOQ: cost per order")
    ] = None,
    holding_cost: Annotated[
        float | None,
        typer.Option("--holding-cost", help="for the EOQ: cost per unit per year"),
    ] = None,
    moq: Annotated[float, typer.Option("--moq", help="minimum order quantity")] = 0.0,
    pack_size: Annotated[
        float | None, typer.Option("--pack-size", help="order in whole packs of this size")
    ] = None,
    k_min: Annotated[
        float,
        typer.Option("--k-min", help="lowest safety factor a fill-rate target may plan"),
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Safety stock, reorder point, order quantity and expected fill rate for one product.

    Demand over lead time + review period is taken as normal; all times in the demand's periods.
    Order quantity: --order-qty, else the EOQ, else (periodic review) the mean demand per review.
    --moq and --pack-size round it up.
    """
    from ml.policy.calculator import policy_calculation

    result = run(
        policy_calculation,
        demand_mean=demand_mean,
        demand_sd=demand_sd,
        lead_time=lead_time,
        lead_time_sd=lead_time_sd,
        review_period=review_period,
        service_level=service_level,
        service_type=service_type.value,
        order_qty=order_qty,
        annual_demand=annual_demand,
        order_cost=order_cost,
        holding_cost=holding_cost,
        moq=moq,
        pack_size=pack_size,
        k_min=k_min,
    )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print_table(result)


_MEANINGS = {
    "lead_time_demand_mean": "expected demand over lead time + review period",
    "lead_time_demand_sd": "sd of that demand (demand and lead-time variability)",
    "z": "safety factor: Phi^-1(cycle service level)",
    "k": "safety factor solving L(k) = Q (1 - fill rate) / sd",
    "cycle_service_level": "probability of no stockout in a replenishment cycle",
    "safety_stock": "safety factor x sd",
    "reorder_point": "order when the inventory position falls to this",
    "order_qty": "quantity per order",
    "expected_fill_rate": "share of demand met from stock: 1 - sd L(k) / Q",
}


def _print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    periodic = result["review"] == "periodic"
    title = f"{result['service_type']} {result['service_level']:g}, {result['review']} review" + (
        f" every {result['review_period']:g} periods" if periodic else ""
    )
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    for key, meaning in _MEANINGS.items():
        if key not in result:
            continue
        value = result[key]
        if key == "reorder_point" and periodic:
            meaning = "order-up-to level S: at each review order up to this"
        if key == "order_qty" and result["order_qty_source"]:
            meaning += f" ({result['order_qty_source']})"
        text = (
            "n/a (no order quantity)" if value is None else f"{value:,.4f}".rstrip("0").rstrip(".")
        )
        table.add_row(key, text, meaning)
    console = Console()
    console.print(table)
    if result["safety_factor_capped"]:
        console.print(
            "note: the order quantity alone meets the fill-rate target; the safety factor is held "
            "at --k-min (no negative safety stock)."
        )


def _num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        v = float(value)
        return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:,.{digits}g}"
    return str(value)


def _compact(value: float) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


@policy_app.command("build")
def build(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_of: AsOfOpt = None,
    catalogue: CatalogueOpt = None,
    scoring_config: ScoringOpt = None,
    policy_config: PolicyConfigOpt = None,
) -> None:
    """Every product's policy from its segment (scoring assignments, else the rules), its
    attributes and the catalogue; written to the scoring sinks (policies, policy_flags,
    policy_segments)."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    from planning.policy_job import build_policies

    ws, cat, scoring, cfg = stage_configs(config, catalogue, scoring_config, policy_config)
    console = Console()
    with StepProgress(5, f"policy build {ws.name}") as step:
        result = run(
            build_policies,
            ws,
            as_of=parse_date(as_of),
            catalogue=cat,
            scoring=scoring,
            config=cfg,
            progress=step,
        )
    src = result.source
    if src.fallback:
        console.print(Panel(src.detail, title="segments from the RULES", style="bold yellow"))
    else:
        console.print(f"[bold]segments[/]: {src.detail}")
    t = Table(title=f"Policies as of {result.as_of} by segment", title_justify="left")
    for head in (
        "segment",
        "products",
        "flagged",
        "target",
        "review",
        "fill",
        "SS value",
        "CS value",
    ):
        t.add_column(head, justify="left" if head in ("segment", "target", "review") else "right")
    for row in result.segments.to_dict("records"):
        kind = "FR" if row["service_level_type"] == "fill_rate" else "CSL"
        t.add_row(
            row["segment"],
            _num(row["products"]),
            _num(row["flagged"]),
            f"{kind} {row['target_service_level']:g}",
            row["review_frequency"],
            _num(row["expected_fill_rate"], 3),
            _compact(row["safety_stock_value"]),
            _compact(row["cycle_stock_value"]),
        )
    console.print(t)
    console.print(
        "[dim]fill = expected fill rate (demand-weighted); SS / CS value = safety / cycle stock "
        "at unit value; methods and order rules: configs/segments.yaml[/]"
    )
    below = int(result.policies["cost_based"].sum()) if len(result.policies) else 0
    if below:
        console.print(
            f"{below:,} product(s) plan with a cost-based service level below their segment's "
            "target (newsvendor critical ratio); `strata policy show SKU` says by how much"
        )
    if len(result.flagged):
        reasons = result.flagged["reason"].value_counts().head(5)
        console.print(
            f"[yellow]{len(result.flagged):,} product(s) flagged[/] (no policy; table policy_flags):"
        )
        for reason, n in reasons.items():
            console.print(f"  {n:>6,}  {reason}")
    for w in result.written:
        console.print(f"written: {w.sink} as_of={w.as_of} model_version={w.model_version} {w.rows}")


_SHOW = [
    ("segment", "segment", "the product's segment"),
    ("assignment_method", "segment from", "model | rule | override"),
    ("service_level", "service level", "planned with"),
    ("service_level_type", "type", "csl: no stockout in a cycle; fill_rate: share of demand met"),
    ("target_service_level", "target", "the segment's target"),
    ("critical_ratio", "critical ratio", "newsvendor p / (p + h), cost-based segments"),
    ("review", "review", "continuous | periodic"),
    ("review_frequency", "procurement review", "how often stock is reviewed"),
    ("policy", "policy", "what is replenished how"),
    ("method", "lead-time demand", "normal | poisson_gamma | bootstrap"),
    ("period", "period", "the unit of every time below"),
    ("demand_mean", "d", "mean demand per period"),
    ("demand_sd", "sigma_d", "sd of demand per period"),
    ("lead_time", "L", "lead time in periods (lead_time_days / period_days)"),
    ("lead_time_sd", "sigma_L", "sd of the lead time in periods"),
    ("review_period", "R", "review period in periods (0 = continuous)"),
    ("lead_time_demand_mean", "mean LTD", "expected demand over L + R"),
    ("lead_time_demand_sd", "sd LTD", "sd of demand over L + R"),
    ("safety_factor", "safety factor", "z or k (safety stock / sd LTD)"),
    ("safety_stock", "safety stock", "reorder point - mean LTD"),
    ("reorder_point", "reorder point", "s; for (R, S) the order-up-to level S"),
    ("order_qty", "order quantity", "per order (rule below)"),
    ("order_rule", "order rule", "eoq | periods_of_supply | lot_for_lot"),
    ("expected_fill_rate", "expected fill rate", "share of demand met from stock"),
    ("unit_value", "unit value", "unit_value_source"),
]


@policy_app.command("show")
def show(
    sku: Annotated[str, typer.Argument(help="the product (sku_id)")],
    config: ConfigOpt = DEFAULT_CONFIG,
    scoring_config: ScoringOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the row as JSON")] = False,
) -> None:
    """One product's newest policy with the inputs it used and why it is in its segment."""
    from rich.console import Console
    from rich.table import Table

    from ml.config.files import load_scoring_config
    from planning.policy_job import policy_of

    ws = workspace(config)
    scoring = run(load_scoring_config, ws, scoring_config)
    found = run(policy_of, ws, sku, scoring)
    row = found["row"]
    if as_json:
        typer.echo(json.dumps({**found, "row": row}, indent=2, default=str))
        return
    console = Console()
    run_info = found["run"]
    console.print(
        f"[bold]{sku}[/]  policy run as of {run_info['as_of']} ({run_info['model_version']})"
    )
    if found["status"] == "flagged":
        console.print(f"[red]no policy[/]: {row.get('reason')}")
    t = Table(show_header=True)
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_column("meaning")
    for key, label, meaning in _SHOW:
        if key not in row:
            continue
        if key == "unit_value":
            meaning = str(row.get("unit_value_source", ""))
        t.add_row(label, _num(row[key]), meaning)
    console.print(t)
    if row.get("note"):
        console.print(f"note: {row['note']}")
    reasons = found["reasons"]
    console.print(f"[bold]why {row.get('segment')}[/]: {reasons or '(no reasons recorded)'}")


policy_app.command("optimise")(optimise)
