"""`strata train`, `strata runs list` and `strata runs compare` on a planted workspace."""

from __future__ import annotations

import re

import yaml
from planted import PLANTED_WORKSPACE, planted_catalogue, planted_config
from typer.testing import CliRunner

from strata.cli import app


def _write_configs(root, training: dict | None = None) -> str:
    configs = root / "configs"
    configs.mkdir(exist_ok=True)
    (configs / "strata.yaml").write_text(yaml.safe_dump(PLANTED_WORKSPACE))
    (configs / "segments.yaml").write_text(
        yaml.safe_dump(planted_catalogue().model_dump(mode="json", exclude_none=True))
    )
    cfg = planted_config().model_dump(mode="json")
    cfg.update(training or {})
    (configs / "training.yaml").write_text(yaml.safe_dump(cfg))
    return str(configs / "strata.yaml")


def test_train_then_list_and_compare_runs(trained):
    ws, first = trained
    config = _write_configs(ws.root)
    runner = CliRunner(env={"COLUMNS": "200"})
    out = runner.invoke(app, ["train", "--config", config, "--labels", "rules"])
    assert out.exit_code == 0, out.output
    run_id = re.search(r"run ([0-9a-f]{32})", out.output).group(1)
    assert re.search(r"model strata-segmenter version \d+ \(no alias\)", out.output)
    assert "cv_macro_f1" in out.output
    assert "Segment mix" in out.output and "smooth_sellers" in out.output

    listed = runner.invoke(app, ["runs", "list", "--config", config])
    assert listed.exit_code == 0, listed.output
    assert run_id[:8] in listed.output and first.run_id[:8] in listed.output
    assert "trial-" not in listed.output  # nested Optuna trials are not training runs

    compared = runner.invoke(
        app, ["runs", "compare", run_id, first.run_id[:10], "--config", config]
    )
    assert compared.exit_code == 0, compared.output
    for text in (
        "data",
        "params",
        "metrics",
        "labeller",
        "clusters",
        "rules",
        "as_of",
        "2026-11-02",
        "cv_macro_f1",
        "lgbm.num_leaves",
    ):
        assert text in compared.output, text


def test_train_with_a_bad_labeller_or_missing_attribute_exits_2(trained, tmp_path):
    ws, _ = trained
    config = _write_configs(ws.root)
    runner = CliRunner()
    out = runner.invoke(app, ["train", "--config", config, "--labels", "kmeans"])
    assert out.exit_code == 2
    assert "is not a labeller; use rules or clusters" in out.output

    config = _write_configs(ws.root, {"assigner": {"features": ["adi", "velocity"]}})
    out = runner.invoke(app, ["train", "--config", config])
    assert out.exit_code == 2
    assert "'velocity' (named in assigner.features)" in out.output
    _write_configs(ws.root)


def test_compare_needs_two_runs(trained):
    ws, first = trained
    config = _write_configs(ws.root)
    out = CliRunner().invoke(app, ["runs", "compare", first.run_id, "--config", config])
    assert out.exit_code == 2
    assert "at least two run ids" in out.output
