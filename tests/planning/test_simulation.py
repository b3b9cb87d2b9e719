"""The replay service: window arithmetic, point in time, baselines, report, CLI."""

from datetime import date, timedelta

import numpy as np
import pytest
from policy_ws import make_workspace, week
from typer.testing import CliRunner

from ml import columns as C
from ml.config import Calendar, Source, Workspace
from ml.config.files import load_catalogue, load_policy_config, load_scoring_config
from ml.errors import StrataError
from planning.replay import simulation_window
from planning.simulation import simulate_policies
from planning.simulation_report import write_simulation_report
from strata.cli import app

WEEKS = 80
NEWEST = week(75) + timedelta(days=6)  # Sunday: week 75 is the last complete one
BEFORE = week(68) - timedelta(days=1)  # the day before the 8-week window (weeks 68..75)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    i = np.arange(WEEKS)
    demand = {
        # 10 a week until the window, then 200 a week: policies set before it cannot know
        "JUMP": np.where(i < 68, 10.0, 200.0),
        "STEADY": np.full(WEEKS, 20.0),
        "RARE": np.where(i % 5 == 0, 8.0, 0.0),
    }
    root = tmp_path_factory.mktemp("sim") / "ws"
    return make_workspace(root, demand, [BEFORE, NEWEST])


def configs(t):
    return {
        "catalogue": load_catalogue(t.ws, t.catalogue),
        "config": load_policy_config(t.ws, t.policy),
    }


def test_window_is_the_last_complete_periods_and_policies_date_from_the_day_before():
    ws = Workspace(
        name="w", sources=[Source(name="s", table="demand", kind="csv", path="x", columns={})]
    )
    w = simulation_window(ws, 52, 13, data_as_of=date(2011, 12, 9))  # a Friday
    assert (w.first, w.policy_as_of) == (date(2010, 12, 6), date(2010, 12, 5))
    assert w.last == date(2011, 11, 28)
    monthly = ws.model_copy(update={"calendar": Calendar(bucket="month", window_periods=36)})
    m = simulation_window(monthly, 12, 3, data_as_of=date(2015, 9, 14))
    assert (m.first, m.policy_as_of, m.last) == (
        date(2014, 9, 1),
        date(2014, 8, 31),
        date(2015, 8, 1),
    )


def test_policies_use_only_what_was_known_before_the_window(tiny):
    report = simulate_policies(
        tiny.ws, scoring=load_scoring_config(tiny.ws, tiny.scoring), **configs(tiny)
    )
    assert report.window.policy_as_of == BEFORE and report.window.first == week(68)
    planned = report.segmented.policies.set_index("sku_id")
    assert planned.loc["JUMP", C.DEMAND_MEAN] == pytest.approx(10.0)  # not the window's 200
    outcome = report.segmented.outcomes.set_index("sku_id")
    assert outcome.loc["JUMP", C.DEMAND_UNITS] == pytest.approx(8 * 200.0)
    assert outcome.loc["JUMP", C.FILL_RATE] < 0.5  # stocked for 10 a week, hit by 200
    assert outcome.loc["STEADY", C.FILL_RATE] == pytest.approx(1.0)


def test_report_compares_with_both_uniform_rules_and_is_written(tiny):
    report = simulate_policies(
        tiny.ws, scoring=load_scoring_config(tiny.ws, tiny.scoring), **configs(tiny)
    )
    assert set(report.baselines) == {"csl", "fill_rate"}
    # the best rule, recomputed from the per-product outcomes: the uniform type whose sweep needs
    # the least inventory at the segmented fill rate (linear interpolation along its curve)
    seg = report.segmented.outcomes
    target = seg[C.SALES_UNITS].sum() / seg[C.DEMAND_UNITS].sum()
    at_target = {}
    for kind, base in report.baselines.items():
        curve = sorted(
            (
                p.outcomes[C.SALES_UNITS].sum() / p.outcomes[C.DEMAND_UNITS].sum(),
                p.outcomes[C.AVG_INVENTORY_VALUE].sum(),
            )
            for p in base.sweep
        )
        rates, values = zip(*curve, strict=True)
        if rates[0] <= target <= rates[-1]:
            at_target[kind] = float(np.interp(target, rates, np.maximum.accumulate(values)))
    assert at_target, "the tiny workspace's sweep must bracket the segmented fill rate"
    assert report.best == min(at_target, key=at_target.get)
    assert report.baselines[report.best].equal_fill_inventory == pytest.approx(
        at_target[report.best]
    )
    # the uniform level defaults to the demand-weighted average target of the segmented rows
    pol = report.segmented.policies
    expected = float(
        (pol[C.DEMAND_MEAN] * pol[C.TARGET_SERVICE_LEVEL]).sum() / pol[C.DEMAND_MEAN].sum()
    )
    assert report.uniform.level == pytest.approx(expected)
    comp = report.comparison()
    assert ("segmented", C.AVG_INVENTORY_VALUE) in comp.columns and "all" in comp.index
    paths = write_simulation_report(tiny.ws, report)
    text = paths["markdown"].read_text(encoding="utf-8")
    assert report.headline in text and paths["chart"].stat().st_size > 10_000
    assert paths["markdown"].parent == tiny.ws.warehouse / "reports"


def test_without_the_point_in_time_snapshot_the_error_says_how_to_build_it(tmp_path):
    t = make_workspace(tmp_path / "ws", {"A": np.full(WEEKS, 5.0)}, [NEWEST])
    with pytest.raises(StrataError, match=f"--as-of {BEFORE.isoformat()}"):
        simulate_policies(
            t.ws, periods=8, **configs(t), scoring=load_scoring_config(t.ws, t.scoring)
        )


def test_cli_simulate_prints_the_verdict_and_writes_the_report(tiny):
    r = CliRunner().invoke(
        app,
        [
            "simulate",
            "--weeks",
            "8",
            "--config",
            str(tiny.config),
            "--catalogue",
            str(tiny.catalogue),
            "--scoring-config",
            str(tiny.scoring),
            "--policy-config",
            str(tiny.policy),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "segments" in r.output and "report:" in r.output
    assert (tiny.ws.warehouse / "reports" / f"simulation_{BEFORE.isoformat()}.md").is_file()


def test_fill_rate_stays_a_share_when_sales_exceed_demand_by_rounding():
    import pandas as pd

    from planning.replay import totals

    frame = pd.DataFrame(
        {
            C.DEMAND_UNITS: [0.1 + 0.2],
            C.SALES_UNITS: [0.30000000000000016],  # 0.1 + 0.2 summed in another order
            C.CYCLES: [1],
            C.CYCLE_SERVICE_LEVEL: [1.0],
            C.AVG_INVENTORY_VALUE: [1.0],
            C.SALES_VALUE: [1.0],
            C.STOCKOUT_PERIODS: [0],
            C.LONGEST_STOCKOUT: [0],
        }
    )
    assert totals(frame, 1, 52.0)[C.FILL_RATE] == 1.0
