"""`strata features ...` and `strata synth`: the feature store verbs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from strata.cli_common import (
    DEFAULT_CONFIG,
    AsOfOpt,
    ConfigOpt,
    StepProgress,
    fail,
    parse_date,
    run,
    workspace,
)

features_app = typer.Typer(
    help="Feature store: build, list, show and describe snapshots.", no_args_is_help=True
)


@features_app.command("build")
def features_build(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_of: Annotated[
        list[str] | None,
        typer.Option(
            "--as-of",
            help="snapshot date(s), YYYY-MM-DD; repeat for several (default: last data date)",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="pandas (default) | spark: the per-product step on Spark (config `spark:`, "
            "needs the spark extra and Java 17)",
        ),
    ] = "pandas",
) -> None:
    """Ingest the sources, quarantine bad rows, derive attributes and write snapshot(s)."""
    from features.build import ENGINES, build_features
    from strata.render import print_build_summary

    if engine not in ENGINES:
        fail(f"--engine {engine!r} is not an engine; use {' or '.join(ENGINES)}")
    ws = workspace(config)
    dates = [parse_date(d) for d in (as_of or [])]
    with StepProgress(2 + max(len(dates), 1), f"features build {ws.name}") as step:
        result = run(build_features, ws, as_of=dates or None, progress=step, engine=engine)
    print_build_summary(result)


@features_app.command("list")
def features_list() -> None:
    """Print the attribute registry: name, unit, meaning, how to read a high value."""
    from strata.render import print_attribute_registry

    print_attribute_registry()


@features_app.command("show")
def features_show(sku: str, config: ConfigOpt = DEFAULT_CONFIG, as_of: AsOfOpt = None) -> None:
    """Print one product's attributes with units and meanings."""
    from features.snapshots import load_features
    from strata.render import print_product_attributes

    ws = workspace(config)
    frame = run(load_features, parse_date(as_of), workspace=ws)
    run(print_product_attributes, frame, sku)


@features_app.command("describe")
def features_describe(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_of: AsOfOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the manifest as JSON")] = False,
) -> None:
    """Print a snapshot's manifest (sources, row counts, attributes)."""
    from features.snapshots import read_manifest
    from strata.render import print_manifest

    ws = workspace(config)
    manifest = run(read_manifest, ws, as_of=parse_date(as_of))
    if as_json:
        sys.stdout.write(json.dumps(manifest, indent=2, default=str) + "\n")
    else:
        print_manifest(manifest)


def synth(
    skus: Annotated[int, typer.Option("--skus", help="number of global products", min=1)] = 1000,
    weeks: Annotated[int, typer.Option("--weeks", help="weeks of history", min=8)] = 104,
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("data/synthetic"),
    seed: Annotated[int, typer.Option("--seed", help="random seed")] = 7,
    monthly_extracts: Annotated[
        bool,
        typer.Option(
            "--monthly-extracts", help="write each regional extract as one file per month"
        ),
    ] = False,
) -> None:
    """Write a synthetic multi-source company with planted patterns and its ground truth."""
    from synth.company import write_synthetic_company

    paths = run(
        write_synthetic_company,
        out,
        n_skus=skus,
        n_weeks=weeks,
        seed=seed,
        monthly_extracts=monthly_extracts,
    )
    typer.echo(
        f"wrote synthetic company to {out} ({len(paths)} files); config: {out / 'strata.yaml'}"
    )
