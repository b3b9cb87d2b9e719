"""Ingesting the synthetic two-region company reproduces its ground truth."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.derive import derive_attributes
from features.ingest import ingest
from ml.catalogue import assign_by_rules
from ml.config.files import load_catalogue, load_workspace
from synth.company import write_synthetic_company

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthco")
    write_synthetic_company(out, n_skus=300, n_weeks=80, seed=11)
    ws = load_workspace(out / "strata.yaml")
    truth = pd.read_csv(out / "ground_truth.csv", dtype={"sku_id": str}).set_index("sku_id")
    counts = json.loads((out / "truth_counts.json").read_text())
    return ws, ingest(ws), truth, counts


def test_every_planted_bad_row_is_quarantined_under_its_reason(company):
    _, result, _, counts = company
    report = {s["name"]: s for s in result.report}
    for planted in counts["files"].values():
        if "quarantined" not in planted:
            continue
        got = report[planted["source"]]
        expected = {**planted["quarantined"], **planted["excluded"]}
        assert got["quarantined_by_reason"] == {k: v for k, v in expected.items() if v}
        assert got["rows_in"] == planted["rows"]
        assert got["rows_accepted"] == sum(planted["accepted"].values())


def test_units_currencies_and_codes_harmonise_to_the_true_totals(company):
    _, result, truth, _ = company
    lines = result.tables["demand_lines"]
    sales = lines[lines["kind"] == "sale"].groupby("sku_id")[["qty", "revenue"]].sum()
    joined = truth.join(sales, how="left").fillna({"qty": 0.0, "revenue": 0.0})
    assert (joined["qty"] == joined["expected_total_qty"]).all()
    # ground truth rounds revenue to 4 decimals
    assert joined["revenue"].to_numpy() == pytest.approx(
        joined["expected_total_revenue_gbp"].to_numpy(), abs=1e-3
    )


def test_rule_patterns_recover_the_planted_demand_patterns(company):
    ws, result, truth, counts = company
    as_of = date.fromisoformat(counts["history_end"])
    frame = derive_attributes(result.tables, as_of, ws.calendar, ws.features).frame
    classes = assign_by_rules(frame, load_catalogue(REPO / "configs" / "segments.yaml"))
    got = classes.set_index("sku_id")["pattern"]
    established = truth[~truth["is_new"].astype(bool)]
    agree = (got.reindex(established.index) == established["realised_pattern"]).mean()
    assert agree >= 0.95
