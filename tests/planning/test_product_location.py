"""Product x location grain end to end: one policy per series, replayed and measured."""

import pytest
from typer.testing import CliRunner

from features.snapshots import load_features
from ml import columns as C
from ml.config.files import load_workspace
from ml.config.scoring import ParquetSink
from store.sinks import read_table
from strata.cli import app


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    out = tmp_path_factory.mktemp("pl") / "data"
    run = CliRunner().invoke(app, ["synth", "--skus", "60", "--weeks", "40", "--out", str(out)])
    assert run.exit_code == 0, run.output
    config = out / "strata.yaml"
    text = config.read_text(encoding="utf-8")
    assert "grain:" not in text and "\nfeatures:" not in text
    config.write_text(text + "\nfeatures:\n  grain: product_location\n", encoding="utf-8")
    for args in (["features", "build"],):
        r = CliRunner().invoke(app, [*args, "--config", str(config)])
        assert r.exit_code == 0, r.output
    return config


def test_every_product_location_series_gets_one_policy_and_the_replay_runs(company):
    build = CliRunner().invoke(app, ["policy", "build", "--config", str(company)])
    assert build.exit_code == 0, build.output
    ws = load_workspace(company)
    features = load_features(None, workspace=ws)
    policies = read_table(ParquetSink(kind="parquet", path=ws.warehouse / "outputs"), C.POLICIES)
    flags = read_table(ParquetSink(kind="parquet", path=ws.warehouse / "outputs"), C.POLICY_FLAGS)
    assert policies[C.SKU_ID].is_unique and "@" in str(policies[C.SKU_ID].iloc[0])
    assert len(policies) + len(flags) == len(features)  # one row per product x location
    sim = CliRunner().invoke(app, ["simulate", "--config", str(company), "--periods", "13"])
    assert sim.exit_code == 0, sim.output
    report = next((ws.warehouse / "reports").glob("simulation_*.md")).read_text(encoding="utf-8")
    compared = int(report.split("Products compared: ")[1].split(".")[0].replace(",", ""))
    assert compared > features[C.SKU_ID].nunique()  # series, not products
