"""Segment KPIs: hand-computed history, breach streaks and proposals, both sources, alerts, CLI."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from policy_ws import make_workspace, week
from typer.testing import CliRunner

from ml import columns as C
from ml.config.files import load_catalogue, load_policy_config, load_scoring_config
from ml.config.policy import KpiTolerance
from ml.kpis import judge_kpis, kpi_history, longest_run, plan_targets
from planning.kpis import read_alerts, segment_kpis
from strata.cli import app

WEEKS = 60
NEWEST = week(57) + timedelta(days=6)  # Sunday of week 57


def test_longest_run_per_row():
    flags = np.array([[1, 1, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 1, 0]], dtype=bool)
    assert longest_run(flags).tolist() == [3, 0, 1]


def test_kpi_history_by_hand():
    """Two products, three periods, a window of two, evaluated at periods 1 and 2.

    End 1: demand 25, served 25 -> fill 1; stock (5 + 0) x 1 + (2 + 2) x 2 = 13 over 2 periods
    = 6.5; served value 20 + 10 = 30 a 2-period window -> 30 x 52 / 2 / 6.5 = 120 turns.
    End 2: demand 30, served 20 -> 2/3; stock 0 + 2 x 2 (the NaN count skipped) = 4 over 2
    periods = 2; served value 30 -> 390 turns; product 1 out both periods: longest 2."""
    h = kpi_history(
        ["s", "s"],
        demand=np.array([[10.0, 10, 10], [0, 5, 5]]),
        served=np.array([[10.0, 10, 0], [0, 5, 5]]),
        on_hand=np.array([[5.0, 0, 0], [2, 2, np.nan]]),
        stocked_out=np.array([[False, True, True], [False, False, False]]),
        unit_value=np.array([1.0, 2.0]),
        window=2,
        periods_per_year=52.0,
        ends=[1, 2],
    ).set_index("period_end_index")
    assert h.loc[1, C.FILL_RATE] == pytest.approx(1.0)
    assert h.loc[1, "inventory_value"] == pytest.approx(6.5)
    assert h.loc[1, C.TURNS] == pytest.approx(120.0)
    assert h.loc[2, C.FILL_RATE] == pytest.approx(2 / 3)
    assert h.loc[2, "inventory_value"] == pytest.approx(2.0)
    assert h.loc[2, C.TURNS] == pytest.approx(390.0)
    assert (h.loc[2, C.STOCKOUT_PERIODS], h.loc[2, C.LONGEST_STOCKOUT]) == (1.0, 2.0)
    # one spell of two periods at end 2, one of one period at end 1
    assert (h.loc[1, C.STOCKOUT_DURATION], h.loc[2, C.STOCKOUT_DURATION]) == (1.0, 2.0)


def _history(fills):
    return pd.DataFrame(
        {
            "period_end_index": range(len(fills)),
            "segment": "s",
            C.FILL_RATE: fills,
            C.TURNS: 5.0,
            "inventory_value": 100.0,
            C.STOCKOUT_DURATION: 0.0,
        }
    )


def test_a_breach_alerts_and_a_persistent_one_proposes_resegmentation():
    targets = pd.DataFrame(
        {
            C.FILL_RATE: [0.95],
            C.TURNS: [5.0],
            "inventory_value": [100.0],
            C.STOCKOUT_DURATION: [0.0],
        },
        index=["s"],
    )
    tol = lambda _s: KpiTolerance(fill_rate=0.02)  # noqa: E731
    once = judge_kpis(_history([0.96, 0.99, 0.90]), targets, tol, persist=2).set_index("kpi")
    assert once.loc[C.FILL_RATE, C.BREACHED] and once.loc[C.FILL_RATE, "periods_breached"] == 1
    assert once.loc[C.FILL_RATE, C.PROPOSAL] == ""
    assert not once.loc[C.TURNS, C.BREACHED]
    twice = judge_kpis(_history([0.99, 0.92, 0.90]), targets, tol, persist=2).set_index("kpi")
    assert twice.loc[C.FILL_RATE, "periods_breached"] == 2
    assert twice.loc[C.FILL_RATE, C.PROPOSAL].startswith("re-segment: fill_rate has breached")
    edge = judge_kpis(_history([0.93]), targets, tol, persist=1).set_index("kpi")
    assert not edge.loc[C.FILL_RATE, C.BREACHED]  # 0.95 - 0.02 = 0.93 is within tolerance


def test_plan_targets_use_the_catalogue_target_for_fill_rate_segments():
    pol = pd.DataFrame(
        {
            "segment": ["a", "a", "b"],
            C.DEMAND_MEAN: [10.0, 30.0, 5.0],
            C.UNIT_VALUE: [1.0, 2.0, 4.0],
            C.SAFETY_STOCK: [5.0, -1.0, 2.0],
            C.ORDER_QTY: [20.0, 40.0, 10.0],
            C.EXPECTED_FILL_RATE: [0.99, 0.97, 0.9],
            C.PERIODS_PER_YEAR: 52.0,
            C.SERVICE_LEVEL_TYPE: ["fill_rate", "fill_rate", "csl"],
            C.TARGET_SERVICE_LEVEL: [0.98, 0.98, 0.9],
        }
    )
    t = plan_targets(pol)
    assert t.loc["a", C.FILL_RATE] == 0.98 and t.loc["b", C.FILL_RATE] == pytest.approx(0.9)
    # held: (5 + 10) x 1 + (0 + 20) x 2 = 55; annual sales value 10 x 52 + 30 x 52 x 2 = 3640
    assert t.loc["a", "inventory_value"] == pytest.approx(55.0)
    assert t.loc["a", C.TURNS] == pytest.approx(3640 / 55)


@pytest.fixture
def demand():
    rng = np.random.default_rng(4)
    return {
        "F1": rng.poisson(30, WEEKS).astype(float),
        "S1": np.where(np.arange(WEEKS) % 3 == 0, 9.0, 0.0),
    }


def _inventory(skus, weeks, level):
    return pd.DataFrame(
        [
            {
                "sku_id": s,
                "location_id": "L1",
                "date": pd.Timestamp(week(i) + timedelta(days=6)),
                "on_hand": level(s, i),
            }
            for s in skus
            for i in weeks
        ]
    )


def kw(t):
    return {
        "catalogue": load_catalogue(t.ws, t.catalogue),
        "scoring": load_scoring_config(t.ws, t.scoring),
        "config": load_policy_config(t.ws, t.policy),
    }


def test_with_on_hand_history_kpis_come_from_the_inventory_table(tmp_path, demand):
    # F1 is empty for the last three weeks: one stockout of 3 weeks > the tolerance of 2
    inv = _inventory(
        ["F1", "S1"], range(40, 58), lambda s, i: 0.0 if s == "F1" and i >= 55 else 50.0
    )
    t = make_workspace(tmp_path / "ws", demand, [NEWEST], inventory=inv)
    report = segment_kpis(t.ws, **kw(t))
    assert report.source == "inventory" and "inventory table" in report.source_detail
    got = report.table.set_index(["segment", "kpi"])
    assert got.loc[("fast", C.STOCKOUT_DURATION), C.VALUE] == 3.0
    assert got.loc[("fast", C.STOCKOUT_DURATION), C.BREACHED]
    assert not got.loc[("slow", C.STOCKOUT_DURATION), C.BREACHED]
    alerts = read_alerts(t.ws)
    assert len(alerts) == len(report.alerts) > 0 and set(alerts["kpi_source"]) == {"inventory"}
    segment_kpis(t.ws, **kw(t))  # a re-run replaces the same evaluation's alerts
    assert len(read_alerts(t.ws)) == len(alerts)


def test_without_on_hand_history_kpis_are_simulated_and_say_so(tmp_path, demand):
    t = make_workspace(tmp_path / "ws", demand, [NEWEST])
    report = segment_kpis(t.ws, write=False, **kw(t))
    assert report.source == "simulation" and report.source_detail.startswith("SIMULATED")
    assert set(report.table["segment"]) == {"fast", "slow"}
    assert set(report.table["kpi"]) == {
        C.FILL_RATE,
        C.TURNS,
        "inventory_value",
        C.STOCKOUT_DURATION,
    }
    assert "computed in memory" in report.policies_detail
    assert read_alerts(t.ws).empty


def test_cli_kpis_labels_the_source(tmp_path, demand):
    t = make_workspace(tmp_path / "ws", demand, [NEWEST])
    r = CliRunner().invoke(
        app,
        [
            "kpis",
            "--config",
            str(t.config),
            "--catalogue",
            str(t.catalogue),
            "--scoring-config",
            str(t.scoring),
            "--policy-config",
            str(t.policy),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "SIMULATED" in r.output and "Segment KPIs" in r.output


def test_only_products_that_moved_propose_resegmentation_else_the_policy_is_reviewed():
    from ml.kpis import drifted_share

    targets = pd.DataFrame(
        {
            C.FILL_RATE: [0.95],
            C.TURNS: [5.0],
            "inventory_value": [100.0],
            C.STOCKOUT_DURATION: [0.0],
        },
        index=["s"],
    )
    tol = lambda _s: KpiTolerance(fill_rate=0.02)  # noqa: E731
    # 3 products planned at 10 a week, every week (ADI 1): one doubled, one turned intermittent
    window = np.array([[10.0] * 8, [20.0] * 8, [40.0, 0, 0, 0, 40.0, 0, 0, 0]])
    share = drifted_share(
        ["s"] * 3, [10.0] * 3, [2.0] * 3, [1.0] * 3, window, mean_change=0.5, adi_cutoff=1.32
    )
    # the same doubling is noise for a product planned at 10 +- 30 a week
    assert drifted_share(
        ["s"], [10.0], [30.0], [1.0], window[1:2], mean_change=0.5, adi_cutoff=1.32
    ) == {"s": 0.0}
    assert share == {"s": pytest.approx(2 / 3)}  # the doubled one and the one now every 4 weeks
    moved = judge_kpis(
        _history([0.9, 0.9]), targets, tol, persist=2, drifted=share, fit_share=0.3
    ).set_index("kpi")
    assert moved.loc[C.FILL_RATE, "cause"] == "fit"
    assert moved.loc[C.FILL_RATE, C.PROPOSAL].startswith("re-segment: fill_rate")
    steady = judge_kpis(
        _history([0.9, 0.9]), targets, tol, persist=2, drifted={"s": 0.1}, fit_share=0.3
    ).set_index("kpi")
    assert steady.loc[C.FILL_RATE, "cause"] == "policy"
    assert steady.loc[C.FILL_RATE, C.PROPOSAL].startswith("review the policy: fill_rate")
