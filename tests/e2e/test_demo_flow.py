"""The demo's flow on the bundled real data, into a temporary warehouse and MLflow store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from strata.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def workspace_copy(tmp: Path, name: str) -> Path:
    """The shipped workspace config, with warehouse and MLflow store moved under `tmp`."""
    raw = yaml.safe_load((REPO / "configs" / name).read_text(encoding="utf-8"))
    raw["root"] = str(REPO)
    raw["paths"] = {
        **raw.get("paths", {}),
        "warehouse_dir": str(tmp / "warehouse"),
        "mlruns_dir": str(tmp / "mlruns"),
    }
    cfg = tmp / name
    cfg.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return cfg


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def retail(tmp_path_factory) -> Path:
    return workspace_copy(tmp_path_factory.mktemp("retail"), "strata.yaml")


@pytest.mark.slow
def test_online_retail_build_accounts_for_every_row_and_snapshot_is_sane(retail):
    out = invoke("features", "build", "--config", str(retail))
    assert "rows in 1,067,370 = accepted 1,027,056 + quarantined 40,314" in out
    described = json.loads(invoke("features", "describe", "--config", str(retail), "--json"))
    assert described["as_of"] == "2011-12-09"
    assert described["products"] == 5070
    for source in described["sources"]:
        assert source["rows_in"] == source["rows_accepted"] + source["rows_quarantined"]
    snap = pd.read_parquet(
        retail.parent / "warehouse" / "features" / "as_of=2011-12-09" / "features.parquet"
    )
    # a product that sold in (almost) every week is frequent, never intermittent
    weekly = snap[snap.nonzero_periods >= 50]
    assert len(weekly) > 300 and (weekly.adi < 1.32).all()
    # independent count from the raw file with plain pandas: weeks with a sale of 85123A in the
    # 52 complete ISO weeks before 2011-12-09 (2010-12-06 .. 2011-12-04)
    raw = pd.read_csv(REPO / "data/online_retail/online_retail.csv.gz", dtype={"InvoiceNo": str})
    raw = raw[(raw.StockCode == "85123A") & ~raw.InvoiceNo.str.startswith("C") & (raw.Quantity > 0)]
    day = pd.to_datetime(raw.InvoiceDate).dt.normalize()
    raw = raw[(day >= "2010-12-06") & (day <= "2011-12-04")]
    weeks = (day[raw.index] - pd.to_timedelta(day[raw.index].dt.weekday, unit="D")).nunique()
    hanging_heart = snap.set_index("sku_id").loc["85123A"]
    assert hanging_heart.nonzero_periods == weeks
    assert hanging_heart.adi == pytest.approx(52 / weeks)
    show = invoke("features", "show", "85123A", "--config", str(retail))
    assert "WHITE HANGING HEART T-LIGHT HOLDER" in show and "nonzero_periods" in show


@pytest.mark.slow
def test_online_retail_train_registers_a_version(retail):
    out = invoke("train", "--config", str(retail))
    assert "model strata-segmenter version 1" in out
    assert "cv_macro_f1" in out
    listed = invoke("runs", "list", "--config", str(retail))
    assert "rules" in listed


@pytest.mark.slow
def test_readme_tables_are_written_from_the_runs_outputs(retail):
    sys.path.insert(0, str(REPO / "scripts"))
    from readme_results import ingestion_table, training_table

    from ml.config.files import load_workspace
    from training.tracking import list_runs

    ws = load_workspace(retail)
    ingestion = ingestion_table([ws])
    # the accounting the build printed, and an independent count of the raw file's lines
    raw = sum(
        len(pd.read_csv(REPO / f, usecols=[0], dtype=str))
        for f in (
            "data/online_retail/online_retail.csv.gz",
            "data/online_retail_ii_2009_2010/online_retail_ii_2009_2010.csv.gz",
        )
    )
    assert f"| rows in | {raw:,} |" in ingestion
    assert "| accepted | 1,027,056 |" in ingestion and "| quarantined | 40,314 |" in ingestion
    assert "| products in the snapshot | 5,070 |" in ingestion
    runs = list_runs(ws, "strata-segmentation")
    rules = runs[runs["labeller"] == "rules"].iloc[0]  # newest first
    assert f"| cv_macro_f1 | {rules['cv_macro_f1']:.4f} |" in training_table([ws])


@pytest.mark.slow
def test_online_retail_refreshes_a_month_apart_monitor_and_act(retail):
    """The demo's operations step: the month's drift is measured and its rules fire; the
    champion was trained on the newest snapshot, so the actions stage says so instead of
    retraining on the same data."""
    from ml.config.files import load_operations_config, load_workspace
    from ml.triggers import fired_rules
    from store.actions_log import read_actions
    from store.monitoring_table import read_monitoring
    from store.registry import RegistryRef, alias_holders, list_versions
    from store.run_ledger import read_ledger
    from training.tracking import tracking_uri

    invoke(
        "promote", "1", "--to", "champion", "--force", "--reason", "e2e", "--config", str(retail)
    )
    invoke("refresh", "--as-of", "2011-11-11", "--config", str(retail))
    out = invoke("refresh", "--config", str(retail))
    assert "6 stages succeeded" in out
    ws = load_workspace(retail)
    ledger = read_ledger(ws, limit=2)
    assert len(ledger) == 12 and set(ledger["status"]) == {"succeeded"}
    newest = ledger["refresh_id"].max()
    monitoring = read_monitoring(ws)
    overall = monitoring[(monitoring["refresh_id"] == newest) & (monitoring["segment"] == "ALL")]
    assert overall["previous_as_of"].iloc[0].isoformat() == "2011-11-11"
    assert overall["products"].iloc[0] == 5070
    fired = fired_rules(monitoring, load_operations_config(ws).rules)
    assert fired and {f.rule for f in fired} <= {"drift", "mix_change", "kpi_breached"}
    acted = read_actions(ws)
    acted = acted[acted["refresh_id"] == newest]
    assert list(acted["action"]) == ["none"]
    assert "champion v1 was trained on this snapshot (2011-12-09)" in acted["why"].iloc[0]
    ref = RegistryRef("strata-segmenter", tracking_uri(ws))
    assert alias_holders(ref)["champion"] == "1" and len(list_versions(ref)) == 1
    shown = invoke("runs", "actions", "--config", str(retail), "--limit", "1")
    assert newest in shown and "trained on this snapshot" in shown
