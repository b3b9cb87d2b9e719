"""The serving CLI on a planted workspace: gates check, promote, rollback, models, overrides,
score (and score rollback), explain, audit — and every bad-input path's message and exit code."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from store.audit import read_audit
from store.registry import alias_holders
from strata.cli import app

SKU = "SKU000001"


@pytest.fixture
def cli(serving_ws):
    """(invoke(args, user=...), ws, ref) on a private copy of the registered workspace."""
    ws, ref = serving_ws
    config = str(ws.root / "configs" / "strata.yaml")
    runner = CliRunner()

    def invoke(*args: str, user: str = "tester"):
        env = {"STRATA_USER": user, "COLUMNS": "250", "MLFLOW_DISABLE_TELEMETRY": "true"}
        return runner.invoke(app, [*args, "-c", config], env=env)

    return invoke, ws, ref


def _error(result) -> str:
    """The one-line error the CLI printed, without the 'error:' prefix."""
    return re.sub(r"\s+", " ", result.output.split("error:", 1)[1]).strip()


def test_gates_check_prints_and_stores_the_report(cli):
    invoke, _ws, _ref = cli
    r = invoke("gates", "check", "1", "--to", "staging")
    assert r.exit_code == 0, r.output
    assert "# strata-segmenter v1 → `staging`" in r.output
    assert "## Gates for `staging`: **PASS**" in r.output
    assert "| quality_floor | `cv_macro_f1` |" in r.output
    assert "stored as artifacts gates/staging.md, gates/staging.json of v1's run" in r.output


def test_promote_models_rollback_round_trip(cli):
    invoke, ws, ref = cli
    r = invoke("promote", "1", "--to", "champion")
    assert r.exit_code == 0, r.output
    assert "champion of strata-segmenter: none → v1 (promotion by tester: all gates pass" in (
        r.output
    )
    r = invoke("promote", "2", "--to", "champion", "--force", "--reason", "try v2", user="ops")
    assert r.exit_code == 0, r.output
    assert alias_holders(ref) == {"champion": "2"}
    r = invoke("models")
    assert r.exit_code == 0, r.output
    assert re.search(r"│ 2 +│ champion +│ 2026-11-02 .*│ champion by ops ", r.output)
    assert "forced: try v2" in r.output
    r = invoke("rollback", "--reason", "v2 too jumpy")
    assert r.exit_code == 0, r.output
    assert "champion of strata-segmenter: v2 → v1 (rollback by tester" in r.output
    assert alias_holders(ref) == {"champion": "1"}
    assert read_audit(ws)["event"].tolist() == ["promotion", "forced_promotion", "rollback"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("promote", "9", "--to", "champion"),
            "model 'strata-segmenter' has no version 9; versions: 1, 2 (`strata models` lists "
            "them)",
        ),
        (
            ("promote", "1", "--to", "champions"),
            "unknown alias 'champions' (did you mean champion?); Strata promotes to: staging, "
            "champion. Use --to staging or --to champion",
        ),
        (
            ("promote", "1", "--to", "champion", "--force"),
            "--force needs --reason: say why the gates are overridden; it goes to the audit",
        ),
        (
            ("gates", "check", "1", "--to", "production"),
            "unknown alias 'production'; Strata promotes to: staging, champion. Use --to "
            "staging or --to champion",
        ),
        (
            ("rollback",),
            "no version of strata-segmenter holds champion; nothing to roll back",
        ),
        (
            ("override", "request", "XYZ", "--segment", "dormant_itemz", "--reason", "x"),
            "override rejected: product 'XYZ' is not in the newest snapshot; segment "
            "'dormant_itemz' is not in the "
            "catalogue (configs/segments.yaml); close matches: dormant_items; segments: "
            "new_products, dormant_items, seasonal_sellers, smooth_sellers, erratic_sellers, "
            "intermittent_sellers, lumpy_sellers, other",
        ),
        (
            ("score", "--engine", "dask"),
            "--engine 'dask' is not an engine; use pandas or spark",
        ),
        (
            ("score", "--model", "staging"),
            "no version of 'strata-segmenter' holds the alias 'staging' yet (aliases: none); "
            "promote one first (`strata promote VERSION --to staging`) or give a version number",
        ),
    ],
)
def test_bad_input_is_one_clear_error_exit_2_and_no_audit(cli, args, message):
    invoke, ws, ref = cli
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert _error(r) == message
    assert read_audit(ws).empty and alias_holders(ref) == {}


def test_overrides_four_eyes_then_score_explain_audit_and_score_rollback(cli, tmp_path):
    invoke, ws, _ref = cli
    assert invoke("promote", "1", "--to", "champion").exit_code == 0
    first = invoke("score", "--as-of", "2026-11-02")
    assert first.exit_code == 0, first.output
    first_run = re.search(r"run (score-\S+)", first.output).group(1)

    r = invoke(
        "override",
        "request",
        SKU,
        "--segment",
        "other",
        "--reason",
        "clearance sale",
        "--until",
        "2027-01-31",
        user="alice",
    )
    assert r.exit_code == 0, r.output
    oid = re.search(r"override (\d+) requested", r.output).group(1)
    before = read_audit(ws)
    r = invoke("override", "approve", oid, user="alice")
    assert r.exit_code == 2
    assert _error(r) == (
        f"four-eyes rule: override {oid} ({SKU} -> other) was requested by alice, so "
        f"alice cannot approve it; ask another planner to approve it"
    )
    assert read_audit(ws).equals(before)
    r = invoke("override", "approve", oid, user="bob")
    assert r.exit_code == 0, r.output
    r = invoke("override", "list")
    assert re.search(rf"│ {oid} +│ {SKU} +│ other +│ approved +│ 2027-01-31 ", r.output)

    second = invoke("score", "--as-of", "2026-11-02")
    assert second.exit_code == 0, second.output
    assert "overrides applied 1" in second.output
    second_run = re.search(r"run (score-\S+)", second.output).group(1)

    png = tmp_path / "why.png"
    r = invoke("explain", SKU, "--plot", str(png))
    assert r.exit_code == 0, r.output
    # "other" is a catalogue segment the model never learned: no model probability for it
    assert (
        f"Product {SKU}, as of 2026-11-02: Other (other), the model's probability n/a" in r.output
    )
    assert "assigned by override" in r.output
    assert png.read_bytes()[:4] == b"\x89PNG"

    r = invoke("audit", SKU)
    assert r.exit_code == 0, r.output
    for event in ("first_assignment", "override_request", "override_approve", "segment_change"):
        assert event in r.output
    assert "clearance sale" in r.output and "v1" in r.output
    # a product that never moved answers with its one row: which model placed it, when, why
    r = invoke("audit", "SKU000002")
    assert r.exit_code == 0, r.output
    assert r.output.count("first_assignment") == 1 and "segment_change" not in r.output
    assert "first assignment as of 2026-11-02 by model" in " ".join(r.output.split())

    r = invoke("score", "rollback", second_run)
    assert r.exit_code == 0, r.output
    assert f"run {first_run} is visible again; 1 product(s) moved back (audited)" in r.output
    r = invoke("score", "rollback", "score-nope")
    assert r.exit_code == 2
    assert _error(r).startswith("no scoring run score-nope in the configured sinks; newest runs: ")


def test_shadow_scoring_prints_the_comparison(cli):
    invoke, _ws, _ref = cli
    assert invoke("promote", "1", "--to", "champion").exit_code == 0
    assert invoke("promote", "2", "--to", "staging").exit_code == 0
    assert invoke("score").exit_code == 0
    r = invoke("score", "--shadow")
    assert r.exit_code == 0, r.output
    assert re.search(
        r"shadow: staging v2 against champion v1 \(its written assignments\): \d+ of 2,000 "
        r"products would move",
        r.output,
    )
    assert "Changes by segment" in r.output


def test_audit_answers_for_a_product_scored_before_first_assignments_were_audited(cli, monkeypatch):
    import store.audit

    invoke, ws, _ref = cli
    assert invoke("promote", "1", "--to", "champion").exit_code == 0
    assert invoke("score", "--as-of", "2026-11-02").exit_code == 0
    empty = store.audit.read_audit(ws).iloc[0:0]
    monkeypatch.setattr(store.audit, "read_audit", lambda *_a, **_k: empty)
    r = invoke("audit", SKU)
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert text.startswith(
        f"no audit rows for {SKU}: it was scored before first assignments were audited and has "
        f"not changed segment since. Newest assignment: Product {SKU}, as of 2026-11-02: "
    )
    r = invoke("audit", "NOPE")
    assert " ".join(r.output.split()) == "no audit rows for NOPE, and no scored assignment either"
