"""MLOps and planner verbs: `strata gates check`, `promote`, `rollback`, `models`, `override ...`."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from strata.cli_common import (
    DEFAULT_CONFIG,
    CatalogueOpt,
    ConfigOpt,
    ScoringOpt,
    fail,
    parse_date,
    run,
    workspace,
)

__all__ = [
    "ServingContext",
    "gates_app",
    "models",
    "models_app",
    "override_app",
    "promote",
    "quiet_serving",
    "rollback",
    "serving_context",
]

gates_app = typer.Typer(help="Promotion gates: check a model version.", no_args_is_help=True)
models_app = typer.Typer(
    help="Model versions: the overview (`strata models`), `strata models serve`.",
    invoke_without_command=True,
)
override_app = typer.Typer(
    help="Planner overrides: request, approve or reject (four eyes), list.", no_args_is_help=True
)

GatesOpt = Annotated[
    Path | None, typer.Option("--gates-config", help="gates (default: configs/gates.yaml)")
]
TrainingOpt = Annotated[
    Path | None,
    typer.Option(
        "--training-config", help="training config naming the model (configs/training.yaml)"
    ),
]
ToOpt = Annotated[str, typer.Option("--to", help="target alias: staging | champion")]


def quiet_serving() -> None:
    """No telemetry, no GUI backend, MLflow's chatter and pyspark's pandas warning kept quiet."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MPLBACKEND", "Agg")
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support")
    warnings.filterwarnings("ignore", category=FutureWarning, module="mlflow")
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)


@dataclass
class ServingContext:
    """What the serving verbs read from the workspace's configs."""

    ws: Any
    ref: Any
    training: Any
    config_path: Path

    def gates(self, given: Path | None) -> Any:
        from ml.config.files import load_gates_config

        return run(load_gates_config, self.ws, given)

    def scoring(self, given: Path | None) -> Any:
        from ml.config.files import load_scoring_config

        return run(load_scoring_config, self.ws, given)

    def catalogue(self, given: Path | None) -> Any:
        from ml.config.files import load_catalogue

        return run(load_catalogue, self.ws, given)

    def policy(self) -> Any:
        from ml.config.files import load_policy_config

        return run(load_policy_config, self.ws, None)


def serving_context(config: Path, training_config: Path | None = None) -> ServingContext:
    """Workspace, registered model and its store, from the workspace and training configs."""
    quiet_serving()
    from ml.config.files import load_training_config
    from store.registry import RegistryRef
    from training.tracking import tracking_uri

    ws = workspace(config)
    training = run(load_training_config, ws, training_config)
    ref = RegistryRef(training.registered_model, tracking_uri(ws))
    return ServingContext(ws, ref, training, config)


def _console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=True, highlight=False)


def _print_markdown(text: str) -> None:
    """The report as stored (markdown reads fine as plain text and copies into a ticket)."""
    typer.echo(text)


# ---------------------------------------------------------------------------------------------
# gates, promote, rollback, models


@gates_app.callback()
def gates() -> None:
    """Promotion gates: check a model version."""


@gates_app.command("check")
def gates_check(
    version: Annotated[str, typer.Argument(help="model version number (or alias)")],
    to: ToOpt = "champion",
    config: ConfigOpt = DEFAULT_CONFIG,
    gates_config: GatesOpt = None,
    scoring_config: ScoringOpt = None,
    training_config: TrainingOpt = None,
    catalogue: CatalogueOpt = None,
) -> None:
    """Judge VERSION for an alias on the newest snapshot; store and print the report.

    Exits 0 when every gate passes, 1 when one fails, 2 on an error.
    """
    ctx = serving_context(config, training_config)
    from promotion.gate_check import check_gates
    from store.registry import check_alias

    run(check_alias, to)
    check = run(
        check_gates,
        ctx.ws,
        ctx.ref,
        version,
        to,
        ctx.gates(gates_config),
        ctx.scoring(scoring_config),
        catalogue=ctx.catalogue(catalogue),
        policy=ctx.policy(),
    )
    _print_markdown(check.to_markdown())
    _console().print(
        f"stored as artifacts gates/{to}.md, gates/{to}.json of v{check.version}'s run and as "
        f"tags gate.{to}.* of v{check.version}"
    )
    if not check.report.passed:
        raise typer.Exit(1)


def promote(
    version: Annotated[str, typer.Argument(help="model version number")],
    to: ToOpt,
    force: Annotated[
        bool, typer.Option("--force", help="promote although gates fail (needs --reason)")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="why; recorded in the audit")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    gates_config: GatesOpt = None,
    scoring_config: ScoringOpt = None,
    training_config: TrainingOpt = None,
    catalogue: CatalogueOpt = None,
) -> None:
    """Move alias --to onto VERSION when every gate passes (or --force --reason TEXT)."""
    ctx = serving_context(config, training_config)
    from promotion.promote import promote as promote_stage
    from store.registry import check_alias

    run(check_alias, to)
    if force and not (reason or "").strip():
        fail("--force needs --reason: say why the gates are overridden; it goes to the audit")
    move = run(
        promote_stage,
        ctx.ws,
        ctx.ref,
        version,
        to,
        ctx.gates(gates_config),
        ctx.scoring(scoring_config),
        force=force,
        reason=reason,
        catalogue=None if force else ctx.catalogue(catalogue),
        policy=None if force else ctx.policy(),
    )
    if move.check is not None:
        _print_markdown(move.check.to_markdown())
    _console().print(
        f"[bold green]{move.alias}[/] of {move.model_name}: "
        f"{'v' + move.from_version if move.from_version else 'none'} → v{move.to_version} "
        f"({move.event} by {move.who}: {move.why})"
    )


def rollback(
    alias: Annotated[
        str, typer.Option("--alias", help="alias to move back (default champion)")
    ] = "champion",
    reason: Annotated[str | None, typer.Option("--reason", help="why; recorded")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    training_config: TrainingOpt = None,
) -> None:
    """Move champion (or --alias) back to the version its current holder replaced."""
    ctx = serving_context(config, training_config)
    from promotion.promote import rollback_alias

    move = run(rollback_alias, ctx.ws, ctx.ref, alias, reason)
    _console().print(
        f"[bold yellow]{move.alias}[/] of {move.model_name}: v{move.from_version} → "
        f"v{move.to_version} (rollback by {move.who}: {move.why})"
    )


def _missing(value: Any) -> bool:
    return value is None or value != value or str(value) in ("", "None", "nan", "<NA>")


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


@models_app.callback(invoke_without_command=True)
def models(
    context: typer.Context,
    config: ConfigOpt = DEFAULT_CONFIG,
    training_config: TrainingOpt = None,
    history: Annotated[int, typer.Option("--history", min=0, help="alias moves shown")] = 10,
    latest: Annotated[
        bool, typer.Option("--latest", help="print only the newest version number (for scripts)")
    ] = False,
) -> None:
    """Every version with its aliases, gate results and who promoted what when."""
    if context.invoked_subcommand is not None:
        return
    ctx = serving_context(config, training_config)
    from rich.table import Table

    from promotion.overview import models_overview

    versions, moves = run(models_overview, ctx.ws, ctx.ref)
    if latest:
        if versions.empty:
            fail(f"{ctx.ref.model_name} has no version yet; run `strata train` first")
        typer.echo(max(int(v) for v in versions["version"]))
        return
    console = _console()
    table = Table(title=f"{ctx.ref.model_name} ({ctx.ref.tracking_uri})", title_justify="left")
    shown = [c for c in versions.columns if c not in ("created", "labeller")]
    for col in shown:
        table.add_column(col.replace("_", " "))
    for _, r in versions.iterrows():
        table.add_row(*[_fmt(r[c]) for c in shown])
    console.print(table)
    if history and len(moves):
        t = Table(title="Alias moves (newest last)", title_justify="left")
        for col in ("when (UTC)", "alias", "from", "to", "event", "who", "why"):
            t.add_column(col)
        for _, r in moves.tail(history).iterrows():
            t.add_row(
                _fmt(r["occurred_at"]),
                r["alias"],
                "—" if _missing(r["from_version"]) else f"v{r['from_version']}",
                f"v{r['to_version']}",
                r["event"],
                r["who"],
                r["why"],
            )
        console.print(t)


# ---------------------------------------------------------------------------------------------
# overrides


@override_app.callback()
def override() -> None:
    """Planner overrides: request, approve (four eyes), list."""


@override_app.command("request")
def override_request(
    sku: Annotated[str, typer.Argument(help="product id")],
    segment: Annotated[str, typer.Option("--segment", help="segment name from the catalogue")],
    reason: Annotated[str, typer.Option("--reason", help="why; approvers and the audit read it")],
    until: Annotated[
        str | None,
        typer.Option("--until", help="last day in force, YYYY-MM-DD (default: in 90 days)"),
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    training_config: TrainingOpt = None,
    catalogue: CatalogueOpt = None,
) -> None:
    """Ask to pin SKU to a segment; in force once another person approves it."""
    ctx = serving_context(config, training_config)
    from features.snapshots import load_features
    from serving.overrides import request_override, validate_override_target

    last_day = parse_date(until, "--until") or date.today() + timedelta(days=90)
    cat = ctx.catalogue(catalogue)
    skus = run(load_features, None, ["sku_id"], workspace=ctx.ws)["sku_id"]
    run(validate_override_target, sku, segment, skus, [s.name for s in cat.segments])
    oid = run(request_override, ctx.ws, sku, segment, reason, last_day)
    _console().print(
        f"override {oid} requested: {sku} → {segment} until {last_day.isoformat()}; another "
        f"person approves it with `strata override approve {oid}`"
    )


@override_app.command("approve")
def override_approve(
    override_id: Annotated[int, typer.Argument(help="override id (`strata override list`)")],
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Approve a requested override (not your own: four eyes)."""
    quiet_serving()
    from serving.overrides import approve_override

    ws = workspace(config)
    row = run(approve_override, ws, override_id)
    _console().print(
        f"override {override_id} approved by {row['approved_by']}: {row['sku_id']} → "
        f"{row['segment']} until {_fmt(row['until'])[:10]} (requested by {row['requested_by']}); "
        f"the next `strata score` applies it"
    )


@override_app.command("reject")
def override_reject(
    override_id: Annotated[int, typer.Argument(help="override id (`strata override list`)")],
    reason: Annotated[str, typer.Option("--reason", help="why; the requester reads it")],
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Reject a requested override with a reason (not your own: four eyes)."""
    quiet_serving()
    from serving.overrides import reject_override

    row = run(reject_override, workspace(config), override_id, reason)
    _console().print(
        f"override {override_id} rejected: {row['sku_id']} stays where the model puts it "
        f"(requested by {row['requested_by']})"
    )


@override_app.command("list")
def override_list(
    status: Annotated[
        str | None,
        typer.Option("--status", help="requested | approved | rejected | expired | superseded"),
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Every override (or those with --status)."""
    quiet_serving()
    from rich.table import Table

    from serving.overrides import list_overrides

    known = ("requested", "approved", "rejected", "expired", "superseded")
    if status is not None and status not in known:
        fail(f"--status {status!r} is not one of {', '.join(known)}")
    ws = workspace(config)
    frame = run(list_overrides, ws, status)
    if frame.empty:
        _console().print("no overrides" + (f" with status {status}" if status else ""))
        return
    table = Table(title="Overrides", title_justify="left")
    cols = ["override_id", "sku_id", "segment", "status", "until", "requested_by"]
    cols += ["approved_by", "reason"]
    for c in cols:
        table.add_column(c.replace("_", " "))
    for _, r in frame.iterrows():
        table.add_row(*[_fmt(r[c])[:10] if c == "until" else _fmt(r[c]) for c in cols])
    _console().print(table)
