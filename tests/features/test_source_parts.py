"""features.source_parts and features.ingest_cache: a source of monthly files ingests to the same
canonical tables as one file of the same rows; an unchanged file is read back from the ingest
cache, a new or changed file (or reference table) is harmonised again; a row repeating one of an
earlier file is quarantined as an exact duplicate; a pattern matching nothing is an error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import features.build as build
from features.build import build_features
from features.ingest import TABLES, ingest
from features.ingest_cache import CACHE_DIR
from ml.config.files import load_workspace
from ml.errors import StrataError
from synth.company import write_synthetic_company

VERSION = "abc1234"  # a clean checkout's code version


@pytest.fixture(scope="module")
def companies(tmp_path_factory) -> tuple[Path, Path]:
    """The same company (seed, size) written as single extracts and as monthly ones."""
    single, monthly = tmp_path_factory.mktemp("single"), tmp_path_factory.mktemp("monthly")
    write_synthetic_company(single, n_skus=80, n_weeks=20, seed=5)
    write_synthetic_company(monthly, n_skus=80, n_weeks=20, seed=5, monthly_extracts=True)
    return single, monthly


@pytest.fixture
def monthly(companies, tmp_path) -> Path:
    """A private copy of the monthly company (tests change its files)."""
    return Path(shutil.copytree(companies[1], tmp_path / "company"))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.drop(columns=[c for c in ("source_file", "source_row") if c in frame])
    return frame.sort_values(list(frame.columns), ignore_index=True)


def _by_reason(result) -> dict[str, int]:
    return result.quarantine[["source", "reason"]].value_counts().sort_index().to_dict()


def test_monthly_files_ingest_to_the_tables_of_one_file(companies):
    single = ingest(load_workspace(companies[0] / "strata.yaml"))
    monthly = ingest(load_workspace(companies[1] / "strata.yaml"))
    for name in TABLES:
        pd.testing.assert_frame_equal(_sorted(monthly.tables[name]), _sorted(single.tables[name]))
    assert _by_reason(monthly) == _by_reason(single)
    eu = [e for e in monthly.report if e["name"] == "erp_eu"]
    assert len(eu) == len(list((companies[1] / "erp_eu").glob("*.csv"))) > 3
    assert all(e["path"].startswith("erp_eu/") for e in eu)
    for entry in monthly.report:  # every file accounted for on its own
        assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]


def test_an_unchanged_file_is_read_back_and_a_new_month_is_harmonised(monthly):
    files = sorted((monthly / "erp_eu").glob("*.csv"))
    newest = files[-1].rename(monthly / "held_back.csv")
    ws = load_workspace(monthly / "strata.yaml")
    first = ingest(ws, VERSION)
    assert not any(e["cached"] for e in first.report)
    newest.rename(files[-1])  # the next month's extract arrives
    again = ingest(ws, VERSION)
    fresh = [e["path"] for e in again.report if not e["cached"]]
    assert fresh == [f"erp_eu/{files[-1].name}"]
    everything = ingest(ws)  # no cache: every file read and harmonised
    for name in TABLES:
        pd.testing.assert_frame_equal(again.tables[name], everything.tables[name])
    pd.testing.assert_frame_equal(again.quarantine, everything.quarantine)


def test_a_changed_reference_table_harmonises_every_file_mapped_by_it(monthly):
    ws = load_workspace(monthly / "strata.yaml")
    ingest(ws, VERSION)
    uom = monthly / "uom.csv"
    uom.write_text(uom.read_text(encoding="utf-8").replace(",12", ",24"), encoding="utf-8")
    again = ingest(ws, VERSION)
    cached = {e["name"] for e in again.report if e["cached"]}
    assert "erp_eu" not in cached and "erp_us" not in cached and "uom" not in cached
    assert cached == {"sku_xref"}  # declared before the unit table: not mapped by it
    pd.testing.assert_frame_equal(again.tables["demand"], ingest(ws).tables["demand"])


def test_a_row_repeating_an_earlier_file_is_quarantined_as_its_duplicate(monthly):
    first, second = sorted((monthly / "erp_eu").glob("*.csv"))[:2]
    lines = first.read_text(encoding="utf-8").splitlines(keepends=True)
    repeated = lines[3]  # data row 3 of the first month
    second.write_text(second.read_text(encoding="utf-8") + repeated, encoding="utf-8")
    result = ingest(load_workspace(monthly / "strata.yaml"))
    rows_in_second = len(second.read_text(encoding="utf-8").splitlines()) - 1
    found = result.quarantine[
        (result.quarantine["source_file"] == f"erp_eu/{second.name}")
        & (result.quarantine["source_row"] == rows_in_second)
    ]
    assert found[["reason", "value"]].to_dict("records") == [
        {"reason": "exact_duplicate", "value": f"same as row 3 of erp_eu/{first.name}"}
    ]
    entry = next(e for e in result.report if e["path"] == f"erp_eu/{second.name}")
    assert entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]


def test_a_pattern_matching_no_file_names_the_source_and_the_folder(monthly):
    shutil.rmtree(monthly / "erp_us")
    (monthly / "erp_us").mkdir()
    with pytest.raises(StrataError, match=r"source 'erp_us'.*no file matches erp_us/\*\.parquet"):
        ingest(load_workspace(monthly / "strata.yaml"))


def test_a_build_keeps_only_the_cache_entries_it_used(monthly, monkeypatch):
    monkeypatch.setattr(build, "code_version", lambda: VERSION)
    ws = load_workspace(monthly / "strata.yaml")
    build_features(ws)
    cache = ws.warehouse / CACHE_DIR
    entries = {p.name for p in cache.iterdir()}
    extracts = [*(monthly / "erp_eu").glob("*.csv"), *(monthly / "erp_us").glob("*.parquet")]
    assert len(entries) == len(extracts) + 6  # and products, supply, inventory, xref, uom, fx
    dropped = sorted((monthly / "erp_eu").glob("*.csv"))[0]
    dropped.unlink()  # an extract withdrawn: its entry goes with the next build
    build_features(ws)
    assert len({p.name for p in cache.iterdir()}) == len(entries) - 1
