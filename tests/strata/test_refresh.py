"""`strata refresh` end to end on a small synthetic company with a champion: the ledger, a planted
failure, a refresh killed with SIGKILL in a stage, and two refreshes at once."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fast_company import fast_training
from typer.testing import CliRunner

from features.build import build_features
from features.snapshots import load_features, read_manifest
from ml import columns as C
from ml.config.files import (
    load_catalogue,
    load_policy_config,
    load_scoring_config,
    load_workspace,
)
from ml.config.gates import GatesConfig
from ml.config.scoring import ParquetSink, ScoringConfig
from planning.kpis import read_alerts
from promotion.promote import promote
from store.registry import RegistryRef
from store.run_ledger import read_ledger, refresh_lock
from store.sinks import read_table
from strata.cli import app
from strata.refresh import STAGES, RefreshError, refresh
from synth.company import write_synthetic_company
from training.tracking import tracking_uri
from training.train import train

REPO = Path(__file__).resolve().parents[2]
MODEL = "strata-segmenter"
# columns that differ between two runs of the same data by design: ids and clocks
RUN_COLUMNS = {C.RUN_ID, "written_at", "raised_at", C.ALERT_ID}


@dataclass(frozen=True)
class Company:
    """A copy of the synthetic company's workspace, with its configs loaded."""

    root: Path
    config: Path
    ws: Any
    ref: RegistryRef


@pytest.fixture(scope="module")
def company_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 synthetic products x 60 weeks, features built, v1 trained and made champion (~10 s)."""
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    out = tmp_path_factory.mktemp("refresh") / "company"
    write_synthetic_company(out, n_skus=120, n_weeks=60, seed=11)
    ws = load_workspace(out / "strata.yaml")
    build_features(ws)
    config = fast_training(ws)
    train(ws, labels="rules", config=config, catalogue=load_catalogue(ws))
    ref = RegistryRef(MODEL, tracking_uri(ws))
    promote(ws, ref, "1", "champion", GatesConfig(), ScoringConfig(), force=True, reason="set-up")
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        os.environ.pop(key, None)
    return out


@pytest.fixture
def company(company_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Company:
    """A private copy of the company (its warehouse, ledger and registry)."""
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(key, "unset")
        monkeypatch.delenv(key)
    monkeypatch.setenv("STRATA_USER", "tester")
    monkeypatch.chdir(REPO)  # the stage configs (segments, scoring, policy) are the repository's
    root = tmp_path / "company"
    shutil.copytree(company_root, root)
    ws = load_workspace(root / "strata.yaml")
    return Company(root, root / "strata.yaml", ws, RegistryRef(MODEL, tracking_uri(ws)))


def _refresh(c: Company, **kwargs: Any):
    return refresh(
        c.ws,
        c.ref,
        catalogue=load_catalogue(c.ws),
        scoring=load_scoring_config(c.ws),
        policy=load_policy_config(c.ws),
        **kwargs,
    )


def _outputs_digest(c: Company) -> dict[str, str]:
    """Every output file of the scoring and policy runs by content, every link by its target."""
    outputs = c.ws.warehouse / "outputs"
    seen = {}
    for p in sorted(outputs.rglob("*")):
        if _unpublished(p.relative_to(outputs)):
            continue
        if p.is_symlink():  # the sinks publish a run by swapping a link
            seen[str(p.relative_to(outputs))] = "-> " + os.readlink(p)
        elif p.is_file():
            seen[str(p.relative_to(outputs))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return seen


def _unpublished(rel: Path) -> bool:
    """Lock files and a run's staging folder (never read; the next write clears it)."""
    return rel.parts[0] == ".locks" or any(".tmp-" in part for part in rel.parts)


def _tables(c: Company) -> dict[str, pd.DataFrame]:
    """The visible assignments, explanations and policies, without the per-run ids and clocks."""
    sink = ParquetSink(kind="parquet", path=c.ws.warehouse / "outputs")
    out = {}
    for name in (C.ASSIGNMENTS, C.EXPLANATIONS, C.POLICIES, C.POLICY_FLAGS):
        frame = read_table(sink, name)
        keep = [col for col in frame.columns if col not in RUN_COLUMNS]
        out[name] = frame[keep].sort_values(keep[:2], kind="stable").reset_index(drop=True)
    return out


def test_a_refresh_records_one_succeeded_row_per_stage_with_counts_and_versions(company):
    result = _refresh(company, triggered_by="schedule")
    ledger = read_ledger(company.ws)
    assert list(ledger["stage"]) == list(STAGES)
    assert set(ledger["status"]) == {"succeeded"}
    assert set(ledger["refresh_id"]) == {result.refresh_id}
    assert set(ledger["triggered_by"]) == {"schedule"}
    assert (ledger["ended_at"] >= ledger["started_at"]).all()
    assert ledger["error"].isna().all()
    rows = ledger.set_index("stage")
    # the counts agree with what each stage's outputs hold, read back independently
    manifest = read_manifest(company.ws)
    snapshot = load_features(None, workspace=company.ws)
    assert rows.loc["features", "rows_in"] == manifest["rows_in"]
    assert rows.loc["features", "rows_out"] == len(snapshot) == 120
    assert rows.loc["features", "snapshot_as_of"].isoformat() == manifest["as_of"]
    sink = ParquetSink(kind="parquet", path=company.ws.warehouse / "outputs")
    assignments = read_table(sink, C.ASSIGNMENTS)
    assert rows.loc["score", "rows_in"] == len(snapshot)
    assert rows.loc["score", "rows_out"] == len(assignments) == 120
    assert rows.loc["score", "model_version"] == "1"
    assert set(assignments[C.MODEL_VERSION].astype(str)) == {"1"}
    policies = read_table(sink, C.POLICIES)
    flags = read_table(sink, C.POLICY_FLAGS)
    assert rows.loc["policies", "rows_out"] == len(policies)
    assert rows.loc["policies", "rows_in"] == len(policies) + len(flags) == 120
    assert rows.loc["policies", "model_version"] == "1"
    assert rows.loc["kpis", "rows_out"] == len(read_alerts(company.ws))

    out = CliRunner().invoke(
        app, ["runs", "history", "--config", str(company.config), "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert [r["stage"] for r in shown] == list(STAGES)
    assert shown[1]["rows_out"] == 120 and shown[1]["model_version"] == "1"
    assert shown[0]["snapshot_as_of"] == manifest["as_of"]
    table = CliRunner().invoke(app, ["runs", "history", "--config", str(company.config)])
    assert table.exit_code == 0 and result.refresh_id in table.output


def test_a_failing_middle_stage_leaves_outputs_as_they_were_and_a_rerun_succeeds(
    company, monkeypatch
):
    first = _refresh(company)
    before, tables_before = _outputs_digest(company), _tables(company)
    alerts_before = read_alerts(company.ws)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("planted: the model server fell over")

    monkeypatch.setattr("serving.scoring.scoring_tables", broken)
    with pytest.raises(RefreshError, match=r"failed in stage 'score'.*planted: the model server"):
        _refresh(company)
    assert _outputs_digest(company) == before
    pd.testing.assert_frame_equal(read_alerts(company.ws), alerts_before)
    ledger = read_ledger(company.ws)
    failed = ledger[ledger["refresh_id"] != first.refresh_id].set_index("stage")
    assert list(failed.index) == ["features", "score"]  # nothing after the failure ran
    assert failed.loc["features", "status"] == "succeeded"
    assert failed.loc["score", "status"] == "failed"
    assert "RuntimeError: planted: the model server fell over" in failed.loc["score", "error"]

    monkeypatch.undo()
    again = _refresh(company)
    ledger = read_ledger(company.ws, limit=1)
    assert set(ledger["refresh_id"]) == {again.refresh_id}
    assert list(ledger["status"]) == ["succeeded"] * len(STAGES)
    for name, frame in _tables(company).items():
        pd.testing.assert_frame_equal(frame, tables_before[name], obj=name)


# `strata refresh` in a subprocess whose scoring write stalls after staging its first table
# (the hook the sinks call per staged table), so the test can kill it mid-publish
_STALLING_REFRESH = """
import sys, time
from pathlib import Path
import serving.scoring as scoring
marker = Path(sys.argv[1])
real = scoring.write_runs
def stalling(*args, **kwargs):
    def stall(_table):
        marker.write_text("staged")
        time.sleep(120)
    return real(*args, on_table_written=stall, **kwargs)
scoring.write_runs = stalling
from strata.cli import app
sys.argv = ["strata", "refresh", "--config", sys.argv[2]]
app()
"""


def _wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def _stalled_refresh(c: Company, marker: Path) -> subprocess.Popen:
    """`strata refresh` in a subprocess, returned once its scoring write has staged a table."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "STRATA_USER": "tester"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _STALLING_REFRESH, str(marker), str(c.config)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    _wait_for(lambda: marker.exists() or proc.poll() is not None, 60, "scoring to stage")
    if proc.poll() is not None:
        out = proc.stdout.read().decode() if proc.stdout else ""
        raise AssertionError(f"the refresh ended before scoring staged a table:\n{out}")
    return proc


def test_a_refresh_killed_in_a_stage_leaves_outputs_intact_and_the_next_one_matches(
    company, tmp_path
):
    _refresh(company)
    before, tables_before = _outputs_digest(company), _tables(company)
    proc = _stalled_refresh(company, tmp_path / "staged")
    try:
        running = read_ledger(company.ws, limit=1).set_index("stage")
        assert running.loc["score", "status"] == "running"

        # while it runs, a second refresh refuses and names it
        refused = CliRunner().invoke(app, ["refresh", "--config", str(company.config)])
        assert refused.exit_code == 2
        words = " ".join(refused.output.split())
        assert "another refresh of this workspace is running" in words
        assert f"refresh {running['refresh_id'].iloc[0]} (pid {proc.pid}" in words
        assert "--wait" in words
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert _outputs_digest(company) == before  # the staged run never became visible

    outputs = company.ws.warehouse / "outputs"
    assert any(_unpublished(p.relative_to(outputs)) for p in outputs.rglob("*.parquet"))

    after = _refresh(company)
    assert after.abandoned == 1
    assert not any(_unpublished(p.relative_to(outputs)) for p in outputs.rglob("*.parquet"))
    ledger = read_ledger(company.ws, limit=2)
    killed = ledger[ledger["refresh_id"] != after.refresh_id].set_index("stage")
    assert killed.loc["score", "status"] == "abandoned"
    assert f"process {proc.pid} ended while the stage was running" in killed.loc["score", "error"]
    assert "policies" not in killed.index
    assert set(ledger.loc[ledger["refresh_id"] == after.refresh_id, "status"]) == {"succeeded"}
    for name, frame in _tables(company).items():
        pd.testing.assert_frame_equal(frame, tables_before[name], obj=name)


def test_a_second_refresh_refuses_while_one_runs_and_waits_with_wait(company):
    holder = "refresh-20261207T000000-abcdef"
    with refresh_lock(company.ws.warehouse, holder, "ops"):
        refused = CliRunner().invoke(app, ["refresh", "--config", str(company.config)])
    assert refused.exit_code == 2
    words = " ".join(refused.output.split())
    assert f"another refresh of this workspace is running: refresh {holder} (pid {os.getpid()}" in (
        words
    )
    assert "by ops" in words
    assert read_ledger(company.ws).empty  # refused before anything ran

    released = threading.Event()

    def hold() -> None:
        with refresh_lock(company.ws.warehouse, holder, "ops"):
            released.wait(1.0)

    holding = threading.Thread(target=hold)
    holding.start()
    time.sleep(0.2)
    waited = CliRunner().invoke(app, ["refresh", "--config", str(company.config), "--wait"])
    holding.join()
    assert waited.exit_code == 0, waited.output
    assert list(read_ledger(company.ws)["status"]) == ["succeeded"] * len(STAGES)


def test_tables_a_killed_build_had_moved_aside_are_put_back_by_the_next_build(company, monkeypatch):
    # a build killed between its two renames leaves the old tables under .tables-old-*
    tables = company.ws.warehouse / "tables"
    demand_before = pd.read_parquet(tables / "demand.parquet")
    tables.rename(company.ws.warehouse / ".tables-old-deadbeef")

    def disk_full(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("planted: no space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", disk_full)
    with pytest.raises(OSError, match="planted"):
        build_features(company.ws)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(pd.read_parquet(tables / "demand.parquet"), demand_before)


def test_a_refresh_terminated_in_a_stage_closes_its_row_failed_and_cleans_its_staging(
    company, tmp_path
):
    _refresh(company)
    before = _outputs_digest(company)
    proc = _stalled_refresh(company, tmp_path / "staged")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert _outputs_digest(company) == before
    outputs = company.ws.warehouse / "outputs"
    assert not any(_unpublished(p.relative_to(outputs)) for p in outputs.rglob("*.parquet"))
    ledger = read_ledger(company.ws, limit=1).set_index("stage")
    assert list(ledger["status"]) == ["succeeded", "failed"]
    assert "terminated (exit status 143)" in ledger.loc["score", "error"]


def test_refresh_as_of_an_earlier_date_runs_every_stage_on_that_snapshot(company):
    newest = date.fromisoformat(read_manifest(company.ws)["as_of"])
    day = newest - timedelta(days=28)
    out = CliRunner().invoke(
        app, ["refresh", "--config", str(company.config), "--as-of", day.isoformat()]
    )
    assert out.exit_code == 0, out.output
    ledger = read_ledger(company.ws)
    assert list(ledger["status"]) == ["succeeded"] * len(STAGES)
    assert set(ledger["snapshot_as_of"]) == {day}
    assert set(ledger["triggered_by"]) == {"tester"}  # STRATA_USER
    sink = ParquetSink(kind="parquet", path=company.ws.warehouse / "outputs")
    assignments = read_table(sink, C.ASSIGNMENTS, as_of=day)
    assert len(assignments) == ledger.set_index("stage").loc["score", "rows_out"]
    assert set(pd.to_datetime(read_table(sink, C.POLICIES)[C.AS_OF]).dt.date) == {day}


def test_a_shared_database_keeps_each_workspaces_ledger_apart(company):
    from ml.config.workspace import Database
    from store.run_ledger import abandon_stale, start_stage

    shared = Database(url=f"sqlite:///{company.root / 'shared.db'}")
    mine = company.ws.model_copy(update={"database": shared})
    other = company.ws.model_copy(update={"name": "other", "database": shared})
    start_stage(other, "refresh-other", "features", 1, "ops")  # alive, in its own workspace
    start_stage(mine, "refresh-mine", "features", 1, "ops")  # left by a dead process
    assert abandon_stale(mine) == 1
    assert list(read_ledger(mine)["status"]) == ["abandoned"]
    assert list(read_ledger(other)["status"]) == ["running"]
