"""`strata train` and `strata runs list|compare`: the data scientist's verbs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from strata.cli_common import DEFAULT_CONFIG, AsOfOpt, ConfigOpt, fail, parse_date, run, workspace

__all__ = ["runs_app", "train"]

runs_app = typer.Typer(
    help="Training runs (list, compare) and the refresh ledger (history).", no_args_is_help=True
)

TrainingOpt = Annotated[
    Path | None,
    typer.Option("--training-config", help="training config (default: configs/training.yaml)"),
]


def _quiet_mlflow() -> None:
    """No telemetry, no GUI backend, and MLflow's own chatter kept to errors (we print a summary)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MPLBACKEND", "Agg")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def train(
    config: ConfigOpt = DEFAULT_CONFIG,
    labels: Annotated[
        str | None,
        typer.Option("--labels", help="labeller: rules | clusters (default: training config)"),
    ] = None,
    trials: Annotated[
        int, typer.Option("--trials", min=0, help="Optuna trials before training (0 = none)")
    ] = 0,
    as_of: AsOfOpt = None,
    training_config: TrainingOpt = None,
    catalogue: Annotated[
        Path | None,
        typer.Option("--catalogue", help="segment catalogue (default: the workspace's)"),
    ] = None,
) -> None:
    """Label, train and explain the assigner; log one MLflow run; register a new model version."""
    _quiet_mlflow()
    if labels is not None and labels not in ("rules", "clusters"):
        fail(f"--labels {labels!r} is not a labeller; use rules or clusters")
    from rich.console import Console

    from ml.config.files import load_catalogue, load_training_config
    from training.train import train as train_stage  # the stage shares the command's name

    console = Console()
    ws = workspace(config)
    cfg = run(load_training_config, ws, training_config)
    cat = run(load_catalogue, ws, catalogue)
    result = run(
        train_stage,
        ws,
        labels=labels,
        trials=trials,
        as_of=parse_date(as_of),
        config=cfg,
        catalogue=cat,
        progress=lambda msg: console.print(f"[dim]· {msg}[/]"),
    )
    _print_result(console, result)


def _print_result(console: Any, r: Any) -> None:
    from rich.table import Table

    console.print(
        f"[bold]run[/] {r.run_id}  [bold]model[/] {r.model_name} version {r.model_version} "
        f"(no alias)  [bold]labels[/] {r.labeller}  [bold]snapshot[/] {r.as_of} ({r.feature_set})"
    )
    m = r.metrics
    head = Table(title="Metrics", title_justify="left")
    head.add_column("metric")
    head.add_column("value", justify="right")
    keys = [
        "cv_macro_f1",
        "cv_balanced_accuracy",
        "cv_log_loss",
        "holdout_macro_f1",
        "launch_cv_macro_f1",
        "n_clusters",
        "noise_share",
        "dbcv",
        "silhouette",
        "n_candidate_clusters",
        "shap_additivity_error",
        "ece_raw",
        "ece",
        "temperature",
        "provisional_share",
        "review_share",
    ]
    for k in keys:
        if k in m:
            head.add_row(k, _fmt(m[k]))
    console.print(head)
    mix = Table(title="Segment mix", title_justify="left")
    for col in ("segment", "labels", "assigned", "share", "cv recall"):
        mix.add_column(col, justify="left" if col == "segment" else "right")
    total = sum(r.assigned_mix.values()) or 1
    names = list(dict.fromkeys([*r.assigned_mix, *r.label_mix]))
    for s in names:
        n = r.assigned_mix.get(s, 0)
        mix.add_row(
            s,
            str(r.label_mix.get(s, "")),
            str(n),
            f"{n / total:.1%}",
            _fmt(m.get(f"recall_{s}")),
        )
    console.print(mix)
    for c in r.candidates:
        console.print(
            f"[yellow]candidate new segment[/]: cluster {c['cluster']} ({c['size']} products); "
            f"its largest rule segment {c['majority_segment']} holds only "
            f"{c['majority_share']:.0%} of it (see clusters/cluster_profiles.csv in the run)"
        )


def _experiment(ws: Any, training_config: Path | None) -> str:
    from ml.config.files import load_training_config

    return run(load_training_config, ws, training_config).experiment


@runs_app.command("list")
def runs_list(
    config: ConfigOpt = DEFAULT_CONFIG,
    training_config: TrainingOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="newest N runs")] = 20,
) -> None:
    """The newest training runs with their labeller, snapshot, version and headline metrics."""
    _quiet_mlflow()
    from rich.console import Console
    from rich.table import Table

    from training.tracking import list_runs

    ws = workspace(config)
    exp = _experiment(ws, training_config)
    runs = run(list_runs, ws, exp, limit)
    console = Console()
    if runs.empty:
        console.print(f"no training runs in experiment '{exp}' yet; run `strata train`")
        return
    t = Table(title=f"Runs of experiment '{exp}'", title_justify="left")
    for c in runs.columns:
        t.add_column(c, justify="right" if runs[c].dtype.kind in "fi" else "left")
    for row in runs.itertuples(index=False):
        t.add_row(*(_fmt(v) for v in row))
    console.print(t)


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="two or more run ids (or unique prefixes)")],
    config: ConfigOpt = DEFAULT_CONFIG,
    training_config: TrainingOpt = None,
) -> None:
    """Data (snapshot as_of, labeller), params and metrics of runs side by side."""
    _quiet_mlflow()
    if len(run_ids) < 2:
        fail("give at least two run ids to compare; `strata runs list` shows them")
    from rich.console import Console
    from rich.table import Table

    from training.tracking import compare_runs

    ws = workspace(config)
    exp = _experiment(ws, training_config)
    tables = run(compare_runs, ws, exp, run_ids)
    console = Console()
    for section, frame in tables.items():
        t = Table(title=section, title_justify="left")
        t.add_column("")
        for c in frame.columns:
            t.add_column(str(c), justify="right")
        for key, row in frame.iterrows():
            values = [_fmt(v) for v in row]
            style = "bold" if len(set(values)) > 1 else None
            t.add_row(str(key), *values, style=style)
        console.print(t)
