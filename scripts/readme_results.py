"""Write the README's result tables from the outputs the last demo left, never by hand.

Each table sits between `<!-- results:NAME -->` and `<!-- /results:NAME -->` in README.md and
is rebuilt from the workspaces' outputs: the ingest report and the canonical demand lines
(ingestion), the newest rules and clusters training runs in each workspace's MLflow store
(training), the newest assignments (segment mix) and the newest backtest summary when there is
one (decision value). `make demo` runs it last; `--check` exits 1 when the README differs.

    .venv/bin/python scripts/readme_results.py [--check] [--readme README.md] [CONFIG ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from features.snapshots import read_manifest
from ml import columns as C
from ml.config import Workspace
from ml.config.files import load_scoring_config, load_training_config, load_workspace
from serving.runs import current_assignments, main_sinks
from training.tracking import use_workspace_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from markers import rewrite

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIGS = ("configs/strata.yaml", "configs/scms.yaml")
TITLES = {"online_retail": "Online Retail", "scms": "SCMS"}


def _n(value: float | int | None, digits: int = 3) -> str:
    if value is None or pd.isna(value):
        return ""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.{digits}f}"


def _title(ws: Workspace) -> str:
    return TITLES.get(ws.name, ws.name)


def _table(header: list[str], rows: list[list[str]], align: str = "l") -> str:
    sep = ["---" if i == 0 or align == "l" else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def ingestion_table(workspaces: list[Workspace]) -> str:
    """Rows in, accepted, quarantined by reason, kept kinds and products per workspace."""
    stats = []
    for ws in workspaces:
        tables = ws.warehouse / "tables"
        report = json.loads((tables / "ingest_report.json").read_text(encoding="utf-8"))
        sources = [s for s in report if s.get("path")]
        reasons: dict[str, int] = {}
        for s in sources:
            for k, v in s["quarantined_by_reason"].items():
                reasons[k] = reasons.get(k, 0) + v
        kinds = pd.read_parquet(tables / "demand_lines.parquet", columns=[C.KIND])[C.KIND]
        stats.append(
            {
                "rows in": sum(s["rows_in"] for s in sources),
                "accepted": sum(s["rows_accepted"] for s in sources),
                "quarantined": sum(s["rows_quarantined"] for s in sources),
                **{f"quarantined: {k}": v for k, v in reasons.items()},
                **{
                    f"kept as their own rows: {k}": int((kinds == k).sum())
                    for k in ("cancellation", "return", "write_off")
                },
                "products in the snapshot": read_manifest(ws, None)["products"],
            }
        )
    labels = list(dict.fromkeys(k for s in stats for k in s))
    rows = [[label] + [_n(s.get(label)) for s in stats] for label in labels]
    return _table(["", *(_title(ws) for ws in workspaces)], rows, align="r")


def _newest_runs(ws: Workspace) -> dict[str, dict[str, float]]:
    """Metrics of the newest top-level training run per labeller in the workspace's store."""
    use_workspace_store(ws)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(load_training_config(ws).experiment)
    if experiment is None:
        return {}
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    newest: dict[str, dict[str, float]] = {}
    for r in runs:
        labeller = r.data.tags.get("labeller")
        if labeller and "mlflow.parentRunId" not in r.data.tags and labeller not in newest:
            newest[labeller] = {
                **r.data.metrics,
                "n_products": float(r.data.params.get("n_products", "nan")),
            }
    return newest


def training_table(workspaces: list[Workspace]) -> str:
    """The headline metrics of each workspace's newest rules and clusters runs."""
    columns, runs = [], []
    for ws in workspaces:
        found = _newest_runs(ws)
        for labeller in ("rules", "clusters"):
            if labeller in found:
                columns.append(f"{_title(ws)}, {labeller}")
                runs.append(found[labeller])
    metrics = [
        ("products", "n_products"),
        ("trained on (established products)", "n_trainable"),
        ("cv_macro_f1", "cv_macro_f1"),
        ("cv_balanced_accuracy", "cv_balanced_accuracy"),
        ("holdout_macro_f1", "holdout_macro_f1"),
        ("launch model cv_macro_f1", "launch_cv_macro_f1"),
        ("ECE, LightGBM's probabilities (held out)", "ece_raw"),
        ("ECE, calibrated (held out)", "ece"),
        ("HDBSCAN clusters", "n_clusters"),
        ("noise share", "noise_share"),
        ("DBCV", "dbcv"),
        ("provisional (new products)", "provisional_share"),
    ]
    rows = []
    for label, key in metrics:
        digits = 4 if "f1" in key or "accuracy" in key or key.startswith("ece") else 3
        values = [
            f"{m[key]:.1%}" if key == "provisional_share" and key in m else _n(m.get(key), digits)
            for m in runs
        ]
        if any(values):
            rows.append([label, *values])
    return _table(["", *columns], rows, align="r")


def segment_mix_table(workspaces: list[Workspace]) -> str:
    """Products per segment in each workspace's newest assignments (the champion's)."""
    mixes = {}
    for ws in workspaces:
        a = current_assignments(main_sinks(ws, load_scoring_config(ws))[0])
        if a is not None:
            mixes[_title(ws)] = a[C.SEGMENT].value_counts()
    names = list(dict.fromkeys(s for m in mixes.values() for s in m.index))
    rows = []
    for s in names:
        cells = []
        for m in mixes.values():
            n = int(m.get(s, 0))
            cells.append(f"{n:,} ({n / m.sum():.1%})" if n else "")
        rows.append([s, *cells])
    return _table(["segment", *mixes], rows, align="r")


def optimise_table(workspaces: list[Workspace]) -> str:
    """Per workspace, each strategy's safety-stock value and saving at the same planned fill."""
    rows = []
    for ws in workspaces:
        found = sorted((ws.warehouse / "reports").glob("segments_proposed_*.json"))
        if not found:
            continue
        summary = json.loads(found[-1].read_text(encoding="utf-8"))
        for s in summary["strategies"]:
            rows.append(
                [
                    _title(ws),
                    s["strategy"],
                    f"{s['planned_fill_rate']:.1%}",
                    f"{s['safety_stock_value']:,.0f}",
                    f"{s['saving']:+.1%}",
                ]
            )
    header = ["data", "strategy", "planned fill", "safety-stock value", "saving vs best uniform"]
    return _table(header, rows, align="r")


def _backtests(workspaces: list[Workspace]) -> list[tuple[Workspace, dict]]:
    found = [(ws, ws.warehouse / "reports" / "backtest.json") for ws in workspaces]
    return [(ws, json.loads(p.read_text(encoding="utf-8"))) for ws, p in found if p.is_file()]


def backtest_table(workspaces: list[Workspace]) -> str:
    """Per workspace and strategy, averaged over origins: achieved and planned fill, inventory
    value, orders, saving against the best uniform rule at the same achieved fill rate."""
    rows = []
    for ws, d in _backtests(workspaces):
        for s in d["average"]:
            saving = s["saving"]
            rows.append(
                [
                    _title(ws),
                    s["strategy"],
                    f"{s['fill_rate']:.1%}",
                    f"{s['planned_fill_rate']:.1%}",
                    f"{s['avg_inventory_value']:,.0f}",
                    f"{s['orders']:,.0f}",
                    "" if saving is None else f"{saving:+.1%}",
                ]
            )
    header = ["data", "strategy", "achieved fill", "planned fill", "inventory value", "orders"]
    return _table([*header, "saving vs best uniform"], rows, align="r")


def calibration_table(workspaces: list[Workspace]) -> str:
    """Per workspace and segment (averaged over origins): products, the formulas' plan, the
    calibrated plan, achieved fill rate; the headline gaps over segments of >= 30 products."""
    rows = []
    for ws, d in _backtests(workspaces):
        for c in d["calibration"]:
            rows.append(
                [
                    _title(ws),
                    c["segment"],
                    f"{c['products']:,.0f}",
                    f"{c['planned_fill_rate']:.1%}",
                    f"{c['calibrated_planned_fill_rate']:.1%}",
                    f"{c['fill_rate']:.1%}",
                    f"{c['gap']:+.1%}",
                    "" if c.get("gap_se") is None else f"{c['gap_se']:.1%}",
                ]
            )
        raw, cal = d["raw_calibration_gap_max"], d["calibration_gap_max"]
        rows.append(
            [
                _title(ws),
                "**largest gap, segments of >= 30 products**",
                "",
                "" if raw is None else f"{raw:.1%} (formulas)",
                "" if cal is None else f"{cal:.1%} (calibrated)",
                "",
                "",
                "",
            ]
        )
    header = ["data", "segment", "products", "formula plan", "calibrated plan", "achieved"]
    return _table([*header, "achieved - calibrated", "± standard error"], rows, align="r")


def results_tables(workspaces: list[Workspace]) -> dict[str, str]:
    """Every README result table by its marker name."""
    return {
        "ingestion": ingestion_table(workspaces),
        "training": training_table(workspaces),
        "segment_mix": segment_mix_table(workspaces),
        "optimise": optimise_table(workspaces),
        "backtest": backtest_table(workspaces),
        "calibration": calibration_table(workspaces),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("configs", nargs="*", default=list(DEFAULT_CONFIGS))
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when the README differs")
    args = parser.parse_args(argv)
    workspaces = [
        load_workspace(ROOT / c if not Path(c).is_absolute() else c) for c in args.configs
    ]
    text = args.readme.read_text(encoding="utf-8")
    new = rewrite(text, results_tables(workspaces))
    if args.check:
        if new != text:
            print(
                f"{args.readme}: result tables differ from the last demo's outputs", file=sys.stderr
            )
            return 1
        return 0
    args.readme.write_text(new, encoding="utf-8")
    print(f"{args.readme}: result tables rewritten from the outputs of {', '.join(args.configs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
