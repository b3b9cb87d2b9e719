"""The policy job on a tiny hand-made workspace: rules fallback, assignments, sinks, flags, CLI."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from policy_ws import make_workspace
from typer.testing import CliRunner

from ml import columns as C
from ml.config.files import load_catalogue, load_policy_config, load_scoring_config
from ml.config.scoring import ParquetSink
from ml.policy import inventory_policy
from planning.policy_job import build_policies
from store.sinks import read_table, write_run
from strata.cli import app

AS_OF = date(2024, 12, 29)  # a Sunday: week 51 (from 2024-12-23) is complete


@pytest.fixture
def tiny(tmp_path):
    rng = np.random.default_rng(0)
    weeks = 60
    demand = {
        "F1": rng.poisson(40, weeks).astype(float),  # every week: segment fast
        "F2": rng.poisson(15, weeks).astype(float),
        "S1": np.where(np.arange(weeks) % 4 == 0, 6.0, 0.0),  # every 4th week: slow
        "NOLT": rng.poisson(20, weeks).astype(float),
    }
    products = {"NOLT": {"lead_time_mean_days": 0.0}}  # a zero lead time: flagged
    return make_workspace(tmp_path / "ws", demand, [AS_OF], products=products)


def configs(t):
    return {
        "catalogue": load_catalogue(t.ws, t.catalogue),
        "scoring": load_scoring_config(t.ws, t.scoring),
        "config": load_policy_config(t.ws, t.policy),
    }


def sink(t):
    return ParquetSink(kind="parquet", path=t.ws.warehouse / "outputs")


def test_without_assignments_the_rules_decide_and_the_result_says_so(tiny):
    result = build_policies(tiny.ws, **configs(tiny))
    assert result.source.fallback and "NO ASSIGNMENTS" in result.source.detail
    assert set(result.policies["assignment_method"]) == {"rule"}
    seg = dict(zip(result.policies["sku_id"], result.policies["segment"], strict=True))
    assert seg == {"F1": "fast", "F2": "fast", "S1": "slow"}
    written = read_table(sink(tiny), "policies")
    assert sorted(written["sku_id"]) == ["F1", "F2", "S1"]
    assert written[C.MODEL_VERSION].unique().tolist() == ["policy-rules"]
    assert "adi=" in written.set_index("sku_id").loc["F1", "segment_reasons"]
    summary = read_table(sink(tiny), "policy_segments").set_index("segment")
    assert summary.loc["slow", C.REVIEW_FREQUENCY] == "every 2 weeks"
    assert summary.loc["fast", C.REVIEW_FREQUENCY] == "continuous"


def test_bad_rows_go_to_policy_flags_with_their_reason_never_a_nan(tiny):
    build_policies(tiny.ws, **configs(tiny))
    policies = read_table(sink(tiny), "policies")
    flags = read_table(sink(tiny), "policy_flags")
    assert flags["sku_id"].tolist() == ["NOLT"]
    assert "lead_time (snapshot lead_time_mean_days) = 0 is outside (0, inf)" in flags["reason"][0]
    cols = [C.SAFETY_STOCK, C.REORDER_POINT, C.ORDER_QTY, C.EXPECTED_FILL_RATE]
    assert np.isfinite(policies[cols].to_numpy(dtype=float)).all()


def test_rows_carry_what_a_planner_needs_to_recompute_them(tiny):
    """Weekly workspace: a 14-day lead time with sd 0 is L = 2 periods; continuous review R = 0."""
    result = build_policies(tiny.ws, write=False, **configs(tiny))
    row = result.policies.set_index("sku_id").loc["F1"]
    assert (row[C.LEAD_TIME], row[C.LEAD_TIME_SD], row[C.REVIEW_PERIOD]) == (2.0, 0.0, 0.0)
    assert row[C.PERIOD] == "week" and row[C.LTD_METHOD] == "normal"
    again = inventory_policy(
        row[C.SERVICE_LEVEL],
        row[C.DEMAND_MEAN],
        row[C.DEMAND_SD],
        row[C.LEAD_TIME],
        row[C.LEAD_TIME_SD],
        row[C.REVIEW_PERIOD],
        service_type=row[C.SERVICE_LEVEL_TYPE],
        order_qty=row[C.ORDER_QTY],
    )
    assert row[C.REORDER_POINT] == pytest.approx(float(again.reorder_point))
    assert row[C.EXPECTED_FILL_RATE] == pytest.approx(float(again.expected_fill_rate))


def _assignments(segments: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku_id": list(segments),
            "segment": list(segments.values()),
            "probability": 0.9,
            "method": "model",
            "model_name": "strata-segmenter",
            "previous_segment": None,
            "changed": False,
            "reasons": "sells every week (adi 1.0)",
        }
    )


def test_assignments_in_the_sink_decide_and_stay_readable(tiny):
    a = _assignments({"F1": "slow", "F2": "fast", "S1": "slow", "NOLT": "fast"})
    write_run(sink(tiny), {"assignments": a}, as_of=AS_OF, model_version="3", run_id="score-1")
    result = build_policies(tiny.ws, **configs(tiny))
    assert not result.source.fallback and "model version 3" in result.source.detail
    got = result.policies.set_index("sku_id")
    assert got.loc["F1", "segment"] == "slow" and got.loc["F1", "assignment_method"] == "model"
    assert got.loc["F1", "segment_reasons"] == "sells every week (adi 1.0)"
    # the policy run has its own partition: the scoring run's assignments are still there
    assert len(read_table(sink(tiny), "assignments", model_version="3")) == 4
    assert read_table(sink(tiny), "policies")[C.MODEL_VERSION].iloc[0] == "policy-3"


def test_a_segment_missing_from_the_catalogue_is_flagged_by_name(tiny):
    a = _assignments({"F1": "retired_segment", "F2": "fast", "S1": "slow", "NOLT": "fast"})
    write_run(sink(tiny), {"assignments": a}, as_of=AS_OF, model_version="4", run_id="score-2")
    result = build_policies(tiny.ws, **configs(tiny))
    flags = result.flagged.set_index("sku_id")
    assert "segment 'retired_segment' has no policy in the catalogue" in flags.loc["F1", "reason"]


def cli(t, *args):
    return CliRunner().invoke(
        app,
        [
            *args,
            "--config",
            str(t.config),
            "--scoring-config",
            str(t.scoring),
        ],
    )


def test_cli_build_then_show(tiny):
    r = cli(
        tiny,
        "policy",
        "build",
        "--catalogue",
        str(tiny.catalogue),
        "--policy-config",
        str(tiny.policy),
    )
    assert r.exit_code == 0, r.output
    assert "segments from the RULES" in r.output and "1 product(s) flagged" in r.output
    show = cli(tiny, "policy", "show", "F1")
    assert show.exit_code == 0, show.output
    assert "reorder point" in show.output and "why fast" in show.output
    flagged = cli(tiny, "policy", "show", "NOLT")
    assert flagged.exit_code == 0 and "no policy" in flagged.output
    missing = cli(tiny, "policy", "show", "F1X")
    assert missing.exit_code == 2
    assert "product 'F1X' has no policy" in missing.output and "did you mean F1" in missing.output


def test_policies_plan_with_the_last_backtests_shortage_ratios(tiny):
    import json

    # no backtest yet: the calibrated fill rate stays empty
    before = build_policies(tiny.ws, write=False, **configs(tiny)).policies.set_index("sku_id")
    assert before[C.CALIBRATED_FILL_RATE].isna().all()
    assert before[C.SHORTAGE_RATIO].isna().all()
    reports = tiny.ws.warehouse / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    body = {"ratios": {"fast": 3.0}, "windows": ["2024-10-07"], "segments_from": "rules"}
    (reports / "service_calibration.json").write_text(json.dumps(body), encoding="utf-8")
    build_policies(tiny.ws, **configs(tiny))
    after = read_table(sink(tiny), "policies").set_index("sku_id")
    for sku in ("F1", "F2"):  # fast: 3x the planned shortage
        want = max(0.0, 1 - 3.0 * (1 - after.loc[sku, C.EXPECTED_FILL_RATE]))
        assert after.loc[sku, C.CALIBRATED_FILL_RATE] == pytest.approx(want)
        assert after.loc[sku, C.SHORTAGE_RATIO] == 3.0
    assert np.isnan(after.loc["S1", C.CALIBRATED_FILL_RATE])  # slow was not learned
    # the rest of the policy is the formulas', untouched by the calibration
    cols = [C.REORDER_POINT, C.ORDER_QTY, C.EXPECTED_FILL_RATE]
    assert np.allclose(after.loc[before.index, cols], before[cols])


def test_a_broken_calibration_file_names_itself_and_the_fix(tiny):
    from ml.errors import StrataError

    reports = tiny.ws.warehouse / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "service_calibration.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StrataError) as err:
        build_policies(tiny.ws, write=False, **configs(tiny))
    assert "service_calibration.json is not a service calibration" in str(err.value)
    assert "rerun `strata simulate --backtest`" in str(err.value)
