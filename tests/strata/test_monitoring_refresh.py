"""The monitoring stage inside `strata refresh`, on a synthetic company with two planted drifts
from the same week on: core_fast_movers' demand triples, and supplier SUP0001's lead times triple. Three refreshes: two before the drift (the
first has no previous refresh), one after. The refresh that first sees the drift flags PSI on
that segment's volume attributes and the whole catalogue's lead-time attributes; the one before it
flags no drift anywhere. The refresh that sees
it also retrains on its snapshot, promotes the new version to staging through the gates,
shadow-scores it and leaves the champion to an mlops approval (auto_champion off)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from fast_company import fast_training, in_repo_without_mlflow_env
from typer.testing import CliRunner

from features.build import build_features
from features.snapshots import load_features
from ml import columns as C
from ml.config.files import (
    load_catalogue,
    load_policy_config,
    load_scoring_config,
    load_workspace,
)
from ml.config.gates import GatesConfig
from ml.config.operations import MonitoringConfig, OperationsConfig
from ml.config.scoring import ScoringConfig
from promotion.promote import promote
from store.actions_log import read_actions
from store.monitoring_table import read_monitoring
from store.registry import RegistryRef, alias_holders, resolve_version
from store.run_ledger import read_ledger
from strata.cli import app
from strata.refresh import refresh
from synth.company import DemandShift, LeadTimeShift, write_synthetic_company
from synth.files import HISTORY_END
from training.tracking import tracking_uri
from training.train import train

REPO = Path(__file__).resolve().parents[2]
N_WEEKS, FROM_WEEK = 70, 58  # the drift starts 12 weeks before the end of the history
DRIFT_START = HISTORY_END - timedelta(weeks=N_WEEKS - FROM_WEEK)
DAYS = [
    DRIFT_START - timedelta(days=8),
    DRIFT_START - timedelta(days=1),
    HISTORY_END - timedelta(days=1),
]
SEGMENT = "core_fast_movers"
VOLUME = {
    "total_qty",
    "mean_qty",
    "std_qty",
    "std_qty_raw",
    "revenue",
    "revenue_share",
    "margin",
    "margin_share",
    "trend",
    "growth",
    "revenue_rank",
    "revenue_cum_share",
    "margin_cum_share",
}
LEAD_TIME = {"lead_time_mean_days", "lead_time_sd_days", "lead_time_cv", "on_time_rate"}
OPERATIONS = OperationsConfig(monitoring=MonitoringConfig(min_segment_products=60, psi_bins=5))


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory):
    """Company with the drift, trained on the first day's snapshot, refreshed on the three days."""
    with in_repo_without_mlflow_env():
        out = tmp_path_factory.mktemp("monitoring") / "company"
        write_synthetic_company(
            out,
            n_skus=800,
            n_weeks=N_WEEKS,
            seed=5,
            demand_shift=DemandShift(SEGMENT, FROM_WEEK, factor=3.0),
            lead_time_shift=LeadTimeShift(supplier=0, from_week=FROM_WEEK, factor=3.0),
        )
        ws = load_workspace(out / "strata.yaml")
        build_features(ws, as_of=[DAYS[0]])
        config = fast_training(ws)
        train(ws, labels="rules", config=config, catalogue=load_catalogue(ws), as_of=DAYS[0])
        ref = RegistryRef("strata-segmenter", tracking_uri(ws))
        promote(ws, ref, "1", "champion", GatesConfig(), ScoringConfig(), force=True, reason="t")
        results = [
            refresh(
                ws,
                ref,
                catalogue=load_catalogue(ws),
                scoring=load_scoring_config(ws),
                policy=load_policy_config(ws),
                operations=OPERATIONS,
                training=config,
                as_of=day,
                triggered_by="test",
            )
            for day in DAYS
        ]
        yield ws, out, results


def _rows(ws, result) -> pd.DataFrame:
    table = read_monitoring(ws)
    return table[table["refresh_id"] == result.refresh_id].set_index("segment")


def _psi_flagged(rows: pd.DataFrame) -> list[str]:
    return [seg for seg, b in rows["breaches"].items() if "psi_max" in str(b).split(",")]


def test_each_refresh_records_a_monitoring_stage_and_appends_its_rows(monitored):
    ws, _, results = monitored
    ledger = read_ledger(ws)
    mon = ledger[ledger["stage"] == "monitoring"]
    assert len(mon) == 3 and set(mon["status"]) == {"succeeded"}
    table = read_monitoring(ws)
    assert sorted(set(table["refresh_id"])) == sorted(r.refresh_id for r in results)
    assert (ws.warehouse / "reports" / "monitoring.png").stat().st_size > 0


def test_the_first_refresh_has_no_psi_and_no_mix_change(monitored):
    ws, _, results = monitored
    first = _rows(ws, results[0])
    assert first["psi_max"].isna().all() and first["share_change"].isna().all()
    assert first.loc["ALL", "products"] == len(load_features(DAYS[0], workspace=ws))
    assert first.loc["ALL", "share"] == 1.0


def test_the_refresh_before_the_drift_flags_no_drift(monitored):
    ws, _, results = monitored
    before = _rows(ws, results[1])
    assert before["previous_as_of"].iloc[0] == DAYS[0]
    assert _psi_flagged(before) == [], before[["psi_max", "psi_max_attribute"]]


def test_the_refresh_that_sees_the_drift_flags_psi_on_the_segments_volume(monitored):
    ws, _, results = monitored
    after = _rows(ws, results[2])
    assert SEGMENT in _psi_flagged(after), after[["psi_max", "psi_max_attribute"]]
    assert after.loc[SEGMENT, "psi_max_attribute"] in VOLUME
    psi = json.loads(after.loc[SEGMENT, "psi"])
    flagged = {a for a, v in psi.items() if v > OPERATIONS.monitoring.thresholds.psi_max}
    assert flagged and flagged <= VOLUME | LEAD_TIME | {
        "cv",
        "cv_raw",
        "cv2",
        "cv2_raw",
        "peak_to_mean",
        "outlier_share",
        "seasonality_strength",
        "n_customers",
    }


def test_the_refresh_that_sees_the_drift_flags_the_lead_times_of_all_products(monitored):
    ws, _, results = monitored
    overall = _rows(ws, results[2]).loc["ALL"]
    psi = json.loads(overall["psi"])
    flagged = {a for a, v in psi.items() if v > OPERATIONS.monitoring.thresholds.psi_max}
    assert flagged & LEAD_TIME, psi  # a fifth of the products' supplier slowed down
    before = json.loads(_rows(ws, results[1]).loc["ALL", "psi"])
    assert max(before[a] for a in LEAD_TIME) < 0.01


def _actions(ws, result) -> pd.DataFrame:
    log = read_actions(ws)
    return log[log["refresh_id"] == result.refresh_id].set_index("action")


def test_the_refreshes_before_the_drift_retrain_nothing(monitored):
    ws, _, results = monitored
    for result in results[:2]:
        acted = _actions(ws, result)
        assert list(acted.index) == ["none"] and acted.loc["none", "outcome"] == "none"
        assert next(s for s in result.stages if s.stage == "actions").model_version is None


def test_the_drift_retrains_on_the_new_snapshot_stages_and_shadows_it_and_waits(monitored):
    ws, _, results = monitored
    acted = _actions(ws, results[2])
    assert list(acted.index) == ["retrain", "staging", "shadow", "champion"], acted
    assert "drift" in acted.loc["retrain", "rule"].split(",")
    assert SEGMENT in acted.loc["retrain", "why"]
    version = acted.loc["retrain", C.MODEL_VERSION]
    assert (
        version == "2"
        and next(s for s in results[2].stages if s.stage == "actions").model_version == "2"
    )
    ref = RegistryRef("strata-segmenter", tracking_uri(ws))
    assert resolve_version(ref, version).trained_as_of == str(DAYS[2])
    assert alias_holders(ref) == {"champion": "1", "staging": "2"}
    assert (
        acted.loc["shadow", "outcome"] == "done"
        and "would change segment" in acted.loc["shadow", "why"]
    )
    assert acted.loc["champion", "outcome"] == "waiting"
    assert "strata promote 2 --to champion" in acted.loc["champion", "why"]


def test_runs_monitoring_prints_the_table_and_the_rules_fired(monitored):
    _, out, _ = monitored
    got = CliRunner().invoke(app, ["runs", "monitoring", "--config", str(out / "strata.yaml")])
    assert got.exit_code == 0, got.output
    assert str(DAYS[2]) in got.output and SEGMENT in got.output
    assert "rule fired" in got.output and "drift" in got.output


def test_schedule_once_runs_a_refresh_recorded_as_triggered_by_schedule(monitored, monkeypatch):
    ws, out, _ = monitored
    monkeypatch.chdir(REPO)  # the stage configs are the repository's
    got = CliRunner().invoke(app, ["schedule", "--config", str(out / "strata.yaml"), "--once"])
    assert got.exit_code == 0, got.output
    ledger = read_ledger(ws, limit=1)
    assert set(ledger["triggered_by"]) == {"schedule"}
    assert set(ledger["status"]) == {"succeeded"} and "monitoring" in set(ledger["stage"])


def test_runs_actions_prints_the_log(monitored):
    _, out, results = monitored
    got = CliRunner().invoke(app, ["runs", "actions", "--config", str(out / "strata.yaml")])
    assert got.exit_code == 0, got.output
    assert results[2].refresh_id in got.output and "waiting" in got.output
    got = CliRunner().invoke(
        app, ["runs", "actions", "--config", str(out / "strata.yaml"), "--format", "json"]
    )
    rows = json.loads(got.output)
    assert [r["action"] for r in rows if r["refresh_id"] == results[2].refresh_id] == [
        "retrain",
        "staging",
        "shadow",
        "champion",
    ]
