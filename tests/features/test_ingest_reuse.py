"""features.ingest_reuse: a build whose sources, settings and code are unchanged reads the last
build's canonical tables back instead of ingesting again, and derives the same snapshot; any
change to a source file or a setting means a full ingest."""

from __future__ import annotations

import pandas as pd
import pytest

import features.build as build
from features.build import build_features
from features.ingest import TABLES
from features.ingest_reuse import ingest_fingerprint, reused_ingest
from features.snapshots import load_features, read_manifest
from ml.config.files import load_workspace
from synth.company import write_synthetic_company


@pytest.fixture
def company(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "code_version", lambda: "abc1234")  # a clean checkout's version
    write_synthetic_company(tmp_path, n_skus=60, n_weeks=30, seed=3)
    return load_workspace(tmp_path / "strata.yaml")


def _build(ws) -> tuple[list[str], pd.DataFrame, dict]:
    said: list[str] = []
    done = build_features(ws, progress=said.append)
    day = pd.Timestamp(next(iter(done.products))).date()
    return said, load_features(day, workspace=ws), read_manifest(ws, day)


def test_an_unchanged_rebuild_reuses_the_tables_and_derives_the_same_snapshot(company):
    said, first, manifest = _build(company)
    assert "reading and validating sources" in said
    tables = {n: pd.read_parquet(company.warehouse / "tables" / f"{n}.parquet") for n in TABLES}
    said, again, manifest_again = _build(company)
    assert "sources unchanged since the last build: canonical tables reused" in said
    assert "reading and validating sources" not in said
    pd.testing.assert_frame_equal(first, again)
    assert manifest_again["sources"] == manifest["sources"]
    assert manifest_again["rows_in"] == manifest["rows_accepted"] + manifest["rows_quarantined"]
    for name, frame in tables.items():  # the tables were not rewritten differently
        got = pd.read_parquet(company.warehouse / "tables" / f"{name}.parquet")
        pd.testing.assert_frame_equal(got, frame)


def test_a_changed_source_file_or_setting_means_a_full_ingest(company):
    _build(company)
    print_before = ingest_fingerprint(company, "abc1234")
    supply = company.resolve(next(s.path for s in company.sources if s.name == "supply"))
    supply.write_bytes(supply.read_bytes() + supply.read_bytes().splitlines(True)[-1])
    assert ingest_fingerprint(company, "abc1234") != print_before
    said, _, manifest = _build(company)
    assert "reading and validating sources" in said
    assert manifest["rows_in"] == manifest["rows_accepted"] + manifest["rows_quarantined"]
    other = company.model_copy(
        update={"calendar": company.calendar.model_copy(update={"window_periods": 20})}
    )
    assert reused_ingest(other, ingest_fingerprint(other, "abc1234")) is None


def test_uncommitted_code_or_a_sql_source_is_never_reused(company):
    assert ingest_fingerprint(company, "abc1234-dirty") is None
    assert reused_ingest(company, None) is None
