"""The append-only audit trail (serving/audit.py) and the workspace lock (serving/locks.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import store.audit as audit
from ml.config import Workspace
from ml.errors import StrataError
from store.audit import (
    AUDIT_COLUMNS,
    append_audit,
    first_assignment_rows,
    read_audit,
    segment_change_rows,
)
from store.db import db_path
from store.locks import current_user, lock_path, workspace_lock

REPO = Path(__file__).resolve().parents[2]


def python(code: str, **kwargs) -> subprocess.Popen:
    """A real second Python process running `code` from the repo root."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_append_and_read_back_with_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATA_USER", "mlops-anna")
    stored = append_audit(
        tmp_path,
        [
            {
                "event": "promotion",
                "subject": "strata-segmenter",
                "from_value": 3,
                "to_value": 4,
                "why": "all champion gates passed",
                "model_version": 4,
                "run_id": "abc",
            }
        ],
    )
    assert stored.loc[0, "seq"] == 1 and stored.loc[0, "who"] == "mlops-anna"
    assert len(stored.loc[0, "event_id"]) == 32
    rows = read_audit(tmp_path)
    assert list(rows.columns) == AUDIT_COLUMNS
    row = rows.iloc[0]
    assert (row["event"], row["subject"], row["from_value"], row["to_value"]) == (
        "promotion",
        "strata-segmenter",
        "3",
        "4",
    )
    assert (row["model_version"], row["run_id"]) == ("4", "abc")
    age = pd.Timestamp.now(tz="UTC").tz_localize(None) - row["occurred_at"]
    assert pd.Timedelta(0) <= age < pd.Timedelta(minutes=1)  # stored in UTC


def test_the_file_lives_in_the_workspace_warehouse(tmp_path):
    ws = Workspace(
        name="t",
        root=tmp_path,
        sources=[{"name": "d", "table": "demand", "kind": "csv", "path": "x.csv", "columns": {}}],
    )
    append_audit(ws, [{"event": "rollback", "subject": "strata-segmenter"}])
    assert db_path(ws) == tmp_path / "warehouse" / "strata.duckdb"
    assert db_path(ws).is_file()
    assert len(read_audit(db_path(ws))) == 1


def test_rows_keep_their_order_and_filter_by_subject_and_event(tmp_path):
    append_audit(tmp_path, [{"event": "segment_change", "subject": s} for s in ("a", "b", "a")])
    append_audit(tmp_path, pd.DataFrame({"event": ["override_request"], "subject": ["a"]}))
    assert read_audit(tmp_path)["seq"].tolist() == [1, 2, 3, 4]
    assert read_audit(tmp_path, subject="a")["seq"].tolist() == [1, 3, 4]
    assert read_audit(tmp_path, subject="a", event="segment_change")["seq"].tolist() == [1, 3]


def test_reading_before_anything_was_written_is_empty(tmp_path):
    empty = read_audit(tmp_path / "nowhere")
    assert empty.empty and list(empty.columns) == AUDIT_COLUMNS


def test_bad_rows_are_all_reported_and_nothing_is_written(tmp_path):
    with pytest.raises(StrataError) as err:
        append_audit(
            tmp_path,
            [
                {"event": "segment_change", "subject": "a"},
                {"event": "deleted", "subject": "b", "colour": "red"},
                {"event": "promotion", "subject": " "},
            ],
        )
    assert str(err.value) == (
        "audit rows rejected:\n"
        "  - unknown column(s) colour; allowed: event_id, occurred_at, who, event, subject, "
        "from_value, to_value, why, model_version, run_id\n"
        "  - row 2: 'subject' is empty\n"
        "  - row 1: event 'deleted' is not one of first_assignment, segment_change, "
        "override_request, override_approve, override_reject, override_expire, promotion, "
        "auto_promotion, forced_promotion, rollback, score_rollback"
    )
    assert read_audit(tmp_path).empty


def test_read_rejects_an_unknown_event(tmp_path):
    with pytest.raises(
        StrataError, match="audit event 'promote' is not one of first_assignment, segment_change"
    ):
        read_audit(tmp_path, event="promote")


def test_the_api_only_appends():
    public = set(audit.__all__)
    assert not {name for name in public if any(w in name for w in ("update", "delete", "remove"))}


def test_current_user_prefers_strata_user(monkeypatch):
    monkeypatch.setenv("STRATA_USER", "  planner-bo ")
    assert current_user() == "planner-bo"
    monkeypatch.delenv("STRATA_USER")
    assert current_user()  # the OS user


def test_segment_change_rows_from_a_reclassification():
    reclassified = pd.DataFrame(
        {
            "sku_id": ["a", "b"],
            "segment": ["fast", "slow"],
            "previous_segment": ["slow", "slow"],
            "changed": [True, False],
            "change_reason": ["new segment 0.81 beats current 0.55 by ≥ 0.15", "unchanged"],
        }
    )
    rows = segment_change_rows(reclassified, model_version=7, run_id="r9")
    assert rows.to_dict("records") == [
        {
            "event": "segment_change",
            "subject": "a",
            "from_value": "slow",
            "to_value": "fast",
            "why": "new segment 0.81 beats current 0.55 by ≥ 0.15",
            "model_version": "7",
            "run_id": "r9",
        }
    ]


def test_first_assignment_rows_say_which_model_placed_each_new_product_when_and_why():
    assignments = pd.DataFrame(
        {
            "sku_id": ["a", "b", "c", "d"],
            "as_of": pd.to_datetime(["2026-11-02"] * 4),
            "segment": ["fast", "slow", "other", "slow"],
            "probability": [0.934, 0.5, float("nan"), 0.7],
            "method": ["model", "model", "override", "model"],
            "model_name": "strata-segmenter",
            "model_version": "3",
            "previous_segment": [None, "slow", None, None],
            "reasons": ["sells every week | high revenue", "x", None, ""],
            "change_reason": ["first assignment", "unchanged", "override 4 by al: clearance", ""],
        }
    )
    rows = first_assignment_rows(assignments, run_id="r1")
    assert rows["subject"].tolist() == ["a", "c", "d"]  # b had a segment before
    assert set(rows["event"]) == {"first_assignment"}
    assert rows["from_value"].isna().all()
    assert rows["to_value"].tolist() == ["fast", "other", "slow"]
    assert set(rows["model_version"]) == {"3"} and set(rows["run_id"]) == {"r1"}
    head = "first assignment as of 2026-11-02 by "
    assert rows["why"].tolist() == [
        head + "model (strata-segmenter v3), probability 0.93: sells every week | high revenue",
        head + "override (strata-segmenter v3), probability n/a: override 4 by al: clearance",
        head + "model (strata-segmenter v3), probability 0.70: no reasons recorded",
    ]


APPENDER = """
    import sys
    from store.audit import append_audit
    folder, tag = sys.argv[1], sys.argv[2]
    for i in range(15):
        append_audit(folder, [{"event": "segment_change", "subject": f"{tag}-{i}-{j}"} for j in range(4)])
"""


def test_two_processes_appending_at_once_lose_nothing(tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(APPENDER), str(tmp_path), tag],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("p", "q")
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    rows = read_audit(tmp_path)
    assert len(rows) == 2 * 15 * 4
    assert rows["seq"].tolist() == list(range(1, 121))
    assert rows["event_id"].is_unique
    assert set(rows["subject"]) == {
        f"{t}-{i}-{j}" for t in "pq" for i in range(15) for j in range(4)
    }


def test_lock_timeout_names_the_holder(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATA_USER", "holder-hal")
    holder = python(
        f"""
        import time
        from store.locks import workspace_lock
        with workspace_lock({str(tmp_path)!r}, "registry-alias"):
            print("HELD", flush=True)
            time.sleep(30)
        """
    )
    try:
        assert holder.stdout.readline().strip() == "HELD"
        start = time.monotonic()
        with (
            pytest.raises(StrataError) as err,
            workspace_lock(tmp_path, "registry-alias", timeout=0.3),
        ):
            pass
        assert time.monotonic() - start < 3
        message = str(err.value)
        assert message.startswith(
            f"another Strata process holds the lock {lock_path(tmp_path, 'registry-alias')}"
        )
        assert f"held by pid {holder.pid} of holder-hal" in message
        assert "waited 0.3 s" in message
    finally:
        holder.kill()
        holder.wait()
    # the kernel released the dead holder's lock
    with workspace_lock(tmp_path, "registry-alias", timeout=2):
        pass


def test_lock_is_reentrant_in_one_thread_and_shared_locks_coexist(tmp_path):
    with workspace_lock(tmp_path, "x"), workspace_lock(tmp_path, "x", timeout=0.1):
        pass
    with workspace_lock(tmp_path, "y", shared=True):
        reader = python(
            f"""
            from store.locks import workspace_lock
            with workspace_lock({str(tmp_path)!r}, "y", shared=True, timeout=2):
                print("READ", flush=True)
            """
        )
        out, err = reader.communicate(timeout=30)
        assert out.strip() == "READ", err
        with (
            pytest.raises(StrataError, match="held for reading by this thread"),
            workspace_lock(tmp_path, "y"),
        ):
            pass
