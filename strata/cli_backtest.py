"""`strata simulate --backtest`: every strategy replayed from several origins, no look-ahead."""

from __future__ import annotations

from typing import Any

import typer

from strata.cli_common import ensure_snapshot, fmt_figure, run, stage_configs

__all__ = ["backtest_command"]


def _segmenter(ws: Any, cat: Any, config: Any, model_version: int | None, rules: bool) -> Any:
    """The backtest's segmenter: the catalogue's rules, or the model version being judged."""
    from planning.backtest import model_segmenter, rule_segmenter

    if rules:
        return rule_segmenter(ws, cat)
    from strata.cli_models import serving_context

    sc = serving_context(config)
    from serving.predict import load_pyfunc
    from store.registry import resolve_version

    info = run(resolve_version, sc.ref, model_version or "champion")
    pyfunc = run(load_pyfunc, info.uri)
    return model_segmenter(ws, cat, pyfunc, str(info.version), sc.ref.model_name)


def backtest_command(
    config: Any,
    catalogue: Any,
    policy_config: Any,
    model_version: int | None,
    rules: bool,
    output_format: str,
) -> None:
    """`strata simulate --backtest`: every strategy from several origins, no look-ahead."""
    import contextlib
    import json
    import sys

    from rich.console import Console

    from planning.backtest import backtest as run_backtest
    from planning.backtest import backtest_windows, calibration_window
    from planning.backtest_chart import write_backtest_chart
    from planning.proposal_file import write_tuned_proposal
    from planning.service_calibration_file import write_calibration
    from planning.tuned_proposal import tuned_proposal

    fmt = output_format.lower()
    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"--format {output_format!r}: use table or json")
    if rules and model_version is not None:
        raise typer.BadParameter("--rules and --model-version exclude each other; pick one")
    ws, cat, _scoring, cfg = stage_configs(config, catalogue, None, policy_config)
    console = Console(stderr=fmt == "json")
    windows = run(backtest_windows, ws, cfg)
    before = run(calibration_window, ws, cfg, windows)
    # JSON goes to stdout alone: the snapshot builds' progress bars go to stderr
    with contextlib.redirect_stdout(sys.stderr) if fmt == "json" else contextlib.nullcontext():
        for w in [*([before] if before else []), *windows]:
            ensure_snapshot(ws, w.policy_as_of, console)
    segmenter = _segmenter(ws, cat, config, model_version, rules)
    result = run(
        run_backtest,
        ws,
        segmenter=segmenter,
        catalogue=cat,
        config=cfg,
        windows=windows,
        progress=lambda m: console.print(f"[dim]· {m}[/]"),
    )
    chart = write_backtest_chart(ws, result)
    result.paths["chart"] = chart
    summary = chart.parent / "backtest.json"  # what `scripts/readme_results.py` reads
    result.paths["summary"] = summary
    result.paths["calibration"] = write_calibration(ws, result, cfg)
    proposal = tuned_proposal(result, cat, cfg)
    if proposal is not None:
        result.paths["tuned_proposal"] = write_tuned_proposal(ws, proposal)
    summary.write_text(json.dumps(result.as_dict(), indent=2, default=str), encoding="utf-8")
    if fmt == "json":
        typer.echo(json.dumps(result.as_dict(), indent=2, default=str))
        return
    _print_backtest(console, result, chart)


def _print_backtest(console: Any, result: Any, chart: Any) -> None:
    """The averaged strategies, each origin's headline, calibration per segment, the chart."""
    from rich.table import Table

    console.print(f"segments: {result.origins[0].source.detail} (first origin)")
    heads = ["fill_rate", "planned_fill_rate", "avg_inventory_value", "orders"]
    heads += ["stockout_periods", "saving", "no_more_orders"]
    t = Table(title=f"Backtest over {len(result.origins)} origins (averages)", title_justify="left")
    t.add_column("strategy")
    for h in heads:
        t.add_column(h.replace("_", " "), justify="right")
    for row in result.average.to_dict("records"):
        t.add_row(str(row["strategy"]), *(fmt_figure(row[h]) for h in heads))
    console.print(t)
    for o in result.origins:
        s = o.strategies.set_index("strategy")
        cells = ", ".join(
            f"{n} fill {s.loc[n, 'fill_rate']:.3f} saving {fmt_figure(s.loc[n, 'saving'])}"
            for n in (
                "catalogue",
                "service classes",
                "replay-tuned classes",
                "replay-tuned products",
                "per-product optimum",
            )
            if n in s.index
        )
        console.print(f"origin {o.window.first} ({o.products:,} products): {cells}")
    c = Table(title="Calibration per segment: achieved - planned fill rate", title_justify="left")
    heads = (
        "segment",
        "products",
        "formula plan",
        "calibrated plan",
        "achieved",
        "gap",
        "± se",
        "raw gap",
    )
    for h in heads:
        c.add_column(h, justify="left" if h == "segment" else "right")
    for row in result.calibration.to_dict("records"):
        c.add_row(
            str(row["segment"]),
            f"{row['products']:,.0f}",
            fmt_figure(row["planned_fill_rate"]),
            fmt_figure(row["calibrated_planned_fill_rate"]),
            fmt_figure(row["fill_rate"]),
            f"{row['gap']:+.3f}",
            fmt_figure(row["gap_se"]),
            f"{row['raw_gap']:+.3f}",
        )
    console.print(c)
    gap = result.calibration_gap_max
    console.print(
        f"calibration_gap_max (segments with >= 30 products, against the calibrated plan): "
        f"{fmt_figure(gap)} (against the formulas alone: {fmt_figure(result.raw_calibration_gap_max)}); "
        "saving vs best uniform: "
        + ", ".join(
            f"{n} {fmt_figure(result.saving(n))}"
            for n in (
                "service classes",
                "replay-tuned segments",
                "replay-tuned classes",
                "replay-tuned products",
                "per-product optimum",
            )
        )
    )
    console.print(f"chart: {chart}")
    console.print(f"summary: {result.paths['summary']}")
    console.print(
        f"calibration for `strata policy build`: {result.paths['calibration']} (each policy's "
        "calibrated_fill_rate)"
    )
    if "tuned_proposal" in result.paths:
        console.print(
            f"proposal: {result.paths['tuned_proposal']} (the newest window's replay-tuned "
            "service classes as a catalogue; replay it with `strata simulate --catalogue FILE`)"
        )
