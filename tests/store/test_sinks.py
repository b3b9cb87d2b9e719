"""Sinks (store/sinks.py): atomic, idempotent runs on parquet, DuckDB, SQLite and a real
PostgreSQL (its own fresh database per test, schema strata); history, rollback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from ml.config.scoring import DuckDBSink, ParquetSink, SqlSink
from ml.errors import StrataError
from store.sinks import (
    list_runs,
    read_replaced,
    read_table,
    rollback_run,
    write_run,
)

REPO = Path(__file__).resolve().parents[2]
D1, D2 = date(2024, 1, 1), date(2024, 1, 8)
KINDS = ["parquet", "duckdb", "sqlite"]
WITH_POSTGRES = [*KINDS, "postgres"]


def make_sink(kind: str, folder: Path, keep_history: int = 5, url: str | None = None):
    if kind == "postgres":
        assert url, "a postgres sink needs the postgres_db fixture's URL"
        return SqlSink(kind="sql", url=url, db_schema="strata", keep_history=keep_history)
    if kind == "parquet":
        return ParquetSink(kind="parquet", path=folder / "outputs", keep_history=keep_history)
    if kind == "duckdb":
        return DuckDBSink(kind="duckdb", path=folder / "strata.duckdb", keep_history=keep_history)
    return SqlSink(kind="sql", url=f"sqlite:///{folder}/outputs.db", keep_history=keep_history)


@pytest.fixture(params=WITH_POSTGRES)
def sink(request, tmp_path):
    url = request.getfixturevalue("postgres_db") if request.param == "postgres" else None
    return make_sink(request.param, tmp_path, url=url)


def assignments(segment: str, n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku_id": pd.Series([f"s{i}" for i in range(n)], dtype="str"),
            "segment": pd.Series([segment] * n, dtype="str"),
            "probability": [0.5 + i / 10 for i in range(n)],
            "method": pd.Series(["model"] * n, dtype="str"),
            "previous_segment": pd.Series([None] * n, dtype="str"),
            "changed": [i % 2 == 0 for i in range(n)],
            "tenure": list(range(1, n + 1)),
            "since": pd.to_datetime(["2023-12-25"] * n).astype("datetime64[us]"),
        }
    )


def explanations(segment: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku_id": ["s0", "s0"],
            "segment": [segment] * 2,
            "feature": ["cv", "adi"],
            "value": [0.4, 1.1],
            "shap": [0.2, -0.1],
        }
    )


def run(segment: str) -> dict[str, pd.DataFrame]:
    return {"assignments": assignments(segment), "explanations": explanations(segment)}


def segments(sink, table="assignments", **kw) -> list[str]:
    return sorted(set(read_table(sink, table, **kw)["segment"]))


# ---------------------------------------------------------------- round trip and replacement


def test_round_trip_keeps_values_types_and_adds_provenance(sink):
    result = write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    assert result.rows == {"assignments": 3, "explanations": 2}
    assert result.replaced_run_id is None
    back = read_table(sink, "assignments")
    expected = assignments("A").assign(
        as_of=pd.Timestamp(D1).as_unit("us"), model_version="3", run_id="r1"
    )
    pd.testing.assert_frame_equal(
        back.sort_values("sku_id").reset_index(drop=True),
        expected,
        check_dtype=False,
    )
    assert back["changed"].dtype == bool
    assert back["tenure"].dtype == "int64"
    assert str(back["as_of"].dtype) == "datetime64[us]"
    assert pd.api.types.is_datetime64_any_dtype(back["since"])
    assert read_table(sink, "explanations")["shap"].tolist() == [0.2, -0.1]


def test_a_rerun_replaces_its_partition_and_keeps_what_it_replaced(sink):
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    result = write_run(sink, run("B"), as_of=D1, model_version=3, run_id="r2")
    assert result.replaced_run_id == "r1"
    back = read_table(sink, "assignments")
    assert len(back) == 3 and set(back["segment"]) == {"B"} and set(back["run_id"]) == {"r2"}
    assert segments(sink, "explanations") == ["B"]
    replaced = read_replaced(sink, "assignments", "r2")
    assert sorted(replaced["sku_id"]) == ["s0", "s1", "s2"] and set(replaced["segment"]) == {"A"}
    assert set(read_replaced(sink, "explanations", "r2")["segment"]) == {"A"}
    assert read_replaced(sink, "assignments", "r1").empty  # r1 replaced nothing
    runs = list_runs(sink)
    assert runs[["run_id", "status", "replaced_run_id"]].fillna("-").values.tolist() == [
        ["r1", "superseded", "-"],
        ["r2", "current", "r1"],
    ]


def test_writing_the_same_run_again_is_idempotent(sink):
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    write_run(sink, run("B"), as_of=D1, model_version=3, run_id="r2")
    write_run(sink, run("B"), as_of=D1, model_version=3, run_id="r2")  # a retried job
    assert len(read_table(sink, "assignments")) == 3
    runs = list_runs(sink)
    assert runs["run_id"].tolist() == ["r1", "r2"]
    assert set(read_replaced(sink, "assignments", "r2")["segment"]) == {"A"}


def test_newest_partition_by_default_and_filters(sink):
    write_run(sink, run("old"), as_of=D1, model_version=3, run_id="r1")
    write_run(sink, run("new"), as_of=D2, model_version=3, run_id="r2")
    write_run(sink, run("v4"), as_of=D1, model_version=4, run_id="r3")
    assert segments(sink) == ["new"]  # newest as_of wins over newest written
    assert segments(sink, as_of=D1) == ["v4"]  # same as_of: the newest written
    assert segments(sink, as_of=D1, model_version=3) == ["old"]
    assert segments(sink, model_version="3") == ["new"]
    with pytest.raises(StrataError) as err:
        read_table(sink, "assignments", as_of=D2, model_version=4)
    assert "has no complete assignments partition for as_of 2024-01-08 model_version 4" in str(
        err.value
    )
    assert "2024-01-01/v3, 2024-01-01/v4, 2024-01-08/v3" in str(err.value)


def test_a_run_replaces_the_partition_as_a_whole(sink):
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    write_run(sink, {"assignments": assignments("B")}, as_of=D1, model_version=3, run_id="r2")
    assert segments(sink) == ["B"]
    with pytest.raises(StrataError, match="no complete explanations partition"):
        read_table(sink, "explanations", as_of=D1)
    rollback_run(sink, "r2")
    assert segments(sink) == ["A"] and segments(sink, "explanations") == ["A"]


def test_reading_an_empty_sink_says_what_to_do(sink):
    with pytest.raises(
        StrataError, match=r"has no complete assignments partition; .*Run `strata score` first"
    ):
        read_table(sink, "assignments")


# ---------------------------------------------------------------- rollback and history


def test_rollback_restores_what_the_run_replaced(sink):
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    write_run(sink, run("B"), as_of=D1, model_version=3, run_id="r2")
    result = rollback_run(sink, "r2")
    assert (result.run_id, result.restored_run_id, result.as_of) == ("r2", "r1", D1)
    back = read_table(sink, "assignments")
    assert set(back["segment"]) == {"A"} and set(back["run_id"]) == {"r1"} and len(back) == 3
    assert segments(sink, "explanations") == ["A"]
    statuses = list_runs(sink).set_index("run_id")["status"].to_dict()
    assert statuses == {"r1": "current", "r2": "rolled_back"}
    # what r2 replaced is r1's output, live again
    assert set(read_replaced(sink, "assignments", "r2")["segment"]) == {"A"}
    # a new run after the rollback replaces r1
    assert write_run(sink, run("C"), as_of=D1, model_version=3, run_id="r3").replaced_run_id == "r1"
    assert segments(sink) == ["C"]


def test_rolling_back_the_first_run_removes_the_partition(sink):
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    write_run(sink, run("X"), as_of=D2, model_version=3, run_id="r2")
    assert rollback_run(sink, "r2").restored_run_id is None
    assert segments(sink) == ["A"]


def test_rollback_errors(sink):
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    write_run(sink, run("B"), as_of=D1, model_version=3, run_id="r2")
    with pytest.raises(
        StrataError,
        match=r"run r1 in .* is no longer current: run r2 replaced it; roll back r2 first",
    ):
        rollback_run(sink, "r1")
    rollback_run(sink, "r2")
    with pytest.raises(StrataError, match=r"run r2 in .* was already rolled back"):
        rollback_run(sink, "r2")
    with pytest.raises(StrataError, match=r"no run r9 in .*; runs there: .*r1"):
        rollback_run(sink, "r9")


def test_history_is_pruned_beyond_keep_history(tmp_path, request):
    for kind in KINDS:
        sink = make_sink(kind, tmp_path / kind, keep_history=1)
        for i, seg in enumerate("ABC", start=1):
            write_run(sink, run(seg), as_of=D1, model_version=3, run_id=f"r{i}")
        assert set(read_replaced(sink, "assignments", "r3")["segment"]) == {"B"}
        with pytest.raises(StrataError, match=r"no longer kept .* keep_history was exceeded"):
            read_replaced(sink, "assignments", "r2")
        rollback_run(sink, "r3")
        assert segments(sink) == ["B"], kind
        with pytest.raises(
            StrataError, match=r"the outputs run r2 replaced \(run r1\) are no longer kept"
        ):
            rollback_run(sink, "r2")


# ---------------------------------------------------------------- validation


def test_provenance_columns_must_match_the_run(sink):
    with pytest.raises(
        StrataError, match="rows have as_of 2023-12-31, but the run writes as_of 2024-01-01"
    ):
        write_run(
            sink,
            {"assignments": assignments("A").assign(as_of=date(2023, 12, 31))},
            as_of=D1,
            model_version=3,
            run_id="r1",
        )
    with pytest.raises(
        StrataError, match="rows have model_version 2, but the run writes model_version 3"
    ):
        write_run(
            sink,
            {"assignments": assignments("A").assign(model_version="2")},
            as_of=D1,
            model_version=3,
            run_id="r1",
        )
    # matching provenance columns are fine
    write_run(
        sink,
        {
            "assignments": assignments("A").assign(
                as_of=pd.Timestamp(D1), model_version=3, run_id="r1"
            )
        },
        as_of=D1,
        model_version=3,
        run_id="r1",
    )


def test_a_run_id_writes_one_partition(sink):
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    with pytest.raises(
        StrataError, match="run r1 already wrote as_of 2024-01-01 model_version 3 to"
    ):
        write_run(sink, run("A"), as_of=D2, model_version=3, run_id="r1")


@pytest.mark.parametrize(
    ("tables", "version", "message"),
    [
        (
            {"Assignments": assignments("A")},
            "3",
            "sink table name\\(s\\) 'Assignments' not allowed",
        ),
        ({"assignments_history": assignments("A")}, "3", "not allowed"),
        ({"audit": assignments("A")}, "3", "'audit' not allowed"),
        ({}, "3", "write_run needs at least one table"),
        (
            {"assignments": assignments("A")},
            "3/../x",
            "model_version '3/../x' cannot name a partition",
        ),
    ],
)
def test_bad_names_are_rejected(tmp_path, tables, version, message):
    with pytest.raises(StrataError, match=message):
        write_run(
            make_sink("parquet", tmp_path), tables, as_of=D1, model_version=version, run_id="r"
        )


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_sql_sinks_reject_a_changed_table_shape(tmp_path, kind):
    sink = make_sink(kind, tmp_path)
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    changed = {"assignments": assignments("B").drop(columns=["tenure"]).assign(extra=1)}
    with pytest.raises(
        StrataError,
        match=r"table assignments has columns .*; the run's frame lacks tenure; adds extra",
    ):
        write_run(sink, changed, as_of=D1, model_version=3, run_id="r2")
    assert segments(sink) == ["A"]  # the failed run left nothing behind


def test_sql_sink_with_a_bad_url(tmp_path):
    with pytest.raises(
        StrataError, match=r"sinks in configs/scoring.yaml: 'not a url' is not a database URL"
    ):
        write_run(
            SqlSink(kind="sql", url="not a url"), run("A"), as_of=D1, model_version=3, run_id="r"
        )


def test_parquet_layout_is_a_published_symlink_with_a_manifest(tmp_path):
    sink = make_sink("parquet", tmp_path)
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    link = tmp_path / "outputs" / "as_of=2024-01-01" / "model_version=3"
    assert link.is_symlink() and not Path(os.readlink(link)).is_absolute()
    manifest = json.loads((link / "_SUCCESS").read_text())
    assert manifest["run_id"] == "r1" and manifest["tables"] == {
        "assignments": 3,
        "explanations": 2,
    }
    assert (link / "assignments" / "part.parquet").is_file()
    # a plain parquet reader sees the partition too
    assert len(pd.read_parquet(link / "assignments")) == 3


# ---------------------------------------------------------------- a crash mid-write

CRASHER = """
    import sys, time
    from datetime import date
    import pandas as pd
    sys.path.insert(0, sys.argv[3])
    from tests.store.test_sinks import make_sink, run
    from store.sinks import write_run
    from pathlib import Path

    def stall(table):
        print("STAGED", table, flush=True)
        time.sleep(120)  # killed here, after the first table, before anything is published

    sink = make_sink(sys.argv[1], Path(sys.argv[2]), url=sys.argv[4] or None)
    write_run(sink, run("NEW"), as_of=date(2024, 1, 1), model_version=3, run_id="crash",
              on_table_written=stall)
"""


@pytest.mark.parametrize("kind", WITH_POSTGRES)
def test_a_killed_writer_leaves_the_previous_outputs_intact(tmp_path, kind, request):
    url = request.getfixturevalue("postgres_db") if kind == "postgres" else ""
    sink = make_sink(kind, tmp_path, url=url)
    write_run(sink, run("OLD"), as_of=D1, model_version=3, run_id="r1")
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CRASHER), kind, str(tmp_path), str(REPO), url],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line == "STAGED assignments", proc.stderr.read()
    finally:
        proc.kill()  # SIGKILL: no cleanup, no finally blocks, no commit
        proc.wait(timeout=30)
    assert segments(sink) == ["OLD"] and segments(sink, "explanations") == ["OLD"]
    assert len(read_table(sink, "assignments")) == 3
    assert list_runs(sink)[["run_id", "status"]].values.tolist() == [["r1", "current"]]
    # the next write works (locks released, leftovers cleaned) and replaces r1 as usual
    assert (
        write_run(sink, run("NEXT"), as_of=D1, model_version=3, run_id="r2").replaced_run_id == "r1"
    )
    assert segments(sink) == ["NEXT"]
    if kind == "parquet":
        leftovers = [
            p.name for p in (tmp_path / "outputs" / "_runs").iterdir() if p.name.startswith(".")
        ]
        assert leftovers == []


def test_duckdb_sink_shares_the_workspace_file_with_audit_and_overrides(tmp_path):
    from serving.overrides import list_overrides, request_override
    from store.audit import append_audit, read_audit

    sink = make_sink("duckdb", tmp_path)  # <folder>/strata.duckdb, the audit's default file
    write_run(sink, run("A"), as_of=D1, model_version=3, run_id="r1")
    append_audit(tmp_path, [{"event": "score_rollback", "subject": "r1"}])
    request_override(tmp_path, "s0", "B", "test", date(2099, 1, 1), "alice")
    write_run(sink, run("B"), as_of=D1, model_version=3, run_id="r2")
    assert segments(sink) == ["B"]
    assert read_audit(tmp_path)["event"].tolist() == ["score_rollback", "override_request"]
    assert len(list_overrides(tmp_path)) == 1
