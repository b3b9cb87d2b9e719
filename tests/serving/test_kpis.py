"""Segment KPIs: hand-computed history, breach streaks and proposals, both sources, alerts, CLI."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from policy_ws import make_workspace, week
from typer.testing import CliRunner

from ml import policy_columns as P
from ml.kpis import judge_kpis, kpi_history, longest_run, plan_targets
from ml.policy_config import KpiTolerance
from serving.kpis import read_alerts, segment_kpis
from serving.policy_data import load_catalogue_for, load_policy_config, load_scoring_config
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
    assert h.loc[1, P.FILL_RATE] == pytest.approx(1.0)
    assert h.loc[1, "inventory_value"] == pytest.approx(6.5)
    assert h.loc[1, P.TURNS] == pytest.approx(120.0)
    assert h.loc[2, P.FILL_RATE] == pytest.approx(2 / 3)
    assert h.loc[2, "inventory_value"] == pytest.approx(2.0)
    assert h.loc[2, P.TURNS] == pytest.approx(390.0)
    assert (h.loc[2, P.STOCKOUT_PERIODS], h.loc[2, P.LONGEST_STOCKOUT]) == (1.0, 2.0)
    # one spell of two periods at end 2, one of one period at end 1
    assert (h.loc[1, P.STOCKOUT_DURATION], h.loc[2, P.STOCKOUT_DURATION]) == (1.0, 2.0)


def _history(fills):
    return pd.DataFrame(
        {
            "period_end_index": range(len(fills)),
            "segment": "s",
            P.FILL_RATE: fills,
            P.TURNS: 5.0,
            "inventory_value": 100.0,
            P.STOCKOUT_DURATION: 0.0,
        }
    )


def test_a_breach_alerts_and_a_persistent_one_proposes_resegmentation():
    targets = pd.DataFrame(
        {
            P.FILL_RATE: [0.95],
            P.TURNS: [5.0],
            "inventory_value": [100.0],
            P.STOCKOUT_DURATION: [0.0],
        },
        index=["s"],
    )
    tol = lambda _s: KpiTolerance(fill_rate=0.02)  # noqa: E731
    once = judge_kpis(_history([0.96, 0.99, 0.90]), targets, tol, persist=2).set_index("kpi")
    assert once.loc[P.FILL_RATE, P.BREACHED] and once.loc[P.FILL_RATE, "periods_breached"] == 1
    assert once.loc[P.FILL_RATE, P.PROPOSAL] == ""
    assert not once.loc[P.TURNS, P.BREACHED]
    twice = judge_kpis(_history([0.99, 0.92, 0.90]), targets, tol, persist=2).set_index("kpi")
    assert twice.loc[P.FILL_RATE, "periods_breached"] == 2
    assert twice.loc[P.FILL_RATE, P.PROPOSAL].startswith("re-segment: fill_rate has breached")
    edge = judge_kpis(_history([0.93]), targets, tol, persist=1).set_index("kpi")
    assert not edge.loc[P.FILL_RATE, P.BREACHED]  # 0.95 - 0.02 = 0.93 is within tolerance


def test_plan_targets_use_the_catalogue_target_for_fill_rate_segments():
    pol = pd.DataFrame(
        {
            "segment": ["a", "a", "b"],
            P.DEMAND_MEAN: [10.0, 30.0, 5.0],
            P.UNIT_VALUE: [1.0, 2.0, 4.0],
            P.SAFETY_STOCK: [5.0, -1.0, 2.0],
            P.ORDER_QTY: [20.0, 40.0, 10.0],
            P.EXPECTED_FILL_RATE: [0.99, 0.97, 0.9],
            P.PERIODS_PER_YEAR: 52.0,
            P.SERVICE_LEVEL_TYPE: ["fill_rate", "fill_rate", "csl"],
            P.TARGET_SERVICE_LEVEL: [0.98, 0.98, 0.9],
        }
    )
    t = plan_targets(pol)
    assert t.loc["a", P.FILL_RATE] == 0.98 and t.loc["b", P.FILL_RATE] == pytest.approx(0.9)
    # held: (5 + 10) x 1 + (0 + 20) x 2 = 55; annual sales value 10 x 52 + 30 x 52 x 2 = 3640
    assert t.loc["a", "inventory_value"] == pytest.approx(55.0)
    assert t.loc["a", P.TURNS] == pytest.approx(3640 / 55)


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
        "catalogue": load_catalogue_for(t.ws, t.catalogue),
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
    assert got.loc[("fast", P.STOCKOUT_DURATION), P.VALUE] == 3.0
    assert got.loc[("fast", P.STOCKOUT_DURATION), P.BREACHED]
    assert not got.loc[("slow", P.STOCKOUT_DURATION), P.BREACHED]
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
        P.FILL_RATE,
        P.TURNS,
        "inventory_value",
        P.STOCKOUT_DURATION,
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
