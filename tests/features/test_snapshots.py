"""Snapshots: atomic replacement, newest-by-default reads, clear errors when absent."""

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.snapshots import list_snapshots, load_features, read_manifest, write_snapshot
from ml.config import Source, Workspace
from ml.errors import StrataError


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    src = Source(name="s", table="demand", kind="csv", path=Path("x.csv"), columns={"qty": "q"})
    return Workspace(name="t", root=tmp_path, sources=[src])


def frame(as_of: str, value: float) -> pd.DataFrame:
    return pd.DataFrame({"sku_id": ["a", "b"], "as_of": pd.Timestamp(as_of), "adi": [value, 2.0]})


def manifest(as_of: str) -> dict:
    return {"as_of": as_of, "feature_set": "v1"}


def test_newest_snapshot_is_read_when_no_date_given(ws):
    write_snapshot(ws, frame("2011-01-03", 1.0), manifest("2011-01-03"))
    write_snapshot(ws, frame("2011-02-07", 3.0), manifest("2011-02-07"))
    assert list_snapshots(ws) == [date(2011, 1, 3), date(2011, 2, 7)]
    assert load_features(workspace=ws)["adi"].tolist() == [3.0, 2.0]
    assert load_features(date(2011, 1, 3), workspace=ws)["adi"].tolist() == [1.0, 2.0]
    assert read_manifest(ws)["as_of"] == "2011-02-07"


def test_rebuilding_an_as_of_replaces_it(ws):
    write_snapshot(ws, frame("2011-01-03", 1.0), manifest("2011-01-03"))
    write_snapshot(ws, frame("2011-01-03", 9.0), manifest("2011-01-03"))
    assert load_features(workspace=ws)["adi"].tolist() == [9.0, 2.0]
    assert list_snapshots(ws) == [date(2011, 1, 3)]


def test_a_failed_write_leaves_the_previous_snapshot_intact(ws):
    write_snapshot(ws, frame("2011-01-03", 1.0), manifest("2011-01-03"))
    bad = frame("2011-01-03", 5.0).assign(adi=[object(), object()])  # not writable as parquet
    with pytest.raises(Exception):  # noqa: B017 - any pyarrow error
        write_snapshot(ws, bad, manifest("2011-01-03"))
    assert load_features(workspace=ws)["adi"].tolist() == [1.0, 2.0]
    leftovers = [p.name for p in (ws.warehouse / "features").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_a_crash_between_the_two_renames_is_recovered(ws):
    final = write_snapshot(ws, frame("2011-01-03", 1.0), manifest("2011-01-03"))
    trash = final.parent / f".trash-deadbeef--{final.name}"
    final.rename(trash)  # as if the process died after moving the old snapshot aside
    assert load_features(workspace=ws)["adi"].tolist() == [1.0, 2.0]


def test_columns_subset_and_unknown_column_error(ws):
    write_snapshot(ws, frame("2011-01-03", 1.0), manifest("2011-01-03"))
    assert list(load_features(columns=["sku_id", "adi"], workspace=ws).columns) == ["sku_id", "adi"]
    with pytest.raises(StrataError, match=r"has no column.*nope.*strata features list"):
        load_features(columns=["nope"], workspace=ws)


def test_no_snapshot_and_unknown_date_errors_name_what_to_run(ws):
    with pytest.raises(StrataError, match=r"no feature snapshot.*run `strata features build`"):
        load_features(workspace=ws)
    write_snapshot(ws, frame("2011-01-03", 1.0), manifest("2011-01-03"))
    with pytest.raises(StrataError, match="no snapshot as of 2011-05-02; available: 2011-01-03"):
        load_features(date(2011, 5, 2), workspace=ws)
