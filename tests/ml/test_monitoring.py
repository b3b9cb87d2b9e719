"""ml.monitoring on hand-made tables: mix, its change, churn, provisional / imputed shares, PSI
per segment and the thresholds breached, each worked out by hand in the test."""

from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import pytest

from ml.config.operations import MonitoringConfig, MonitoringThresholds
from ml.monitoring import ALL, monitoring_rows

EPS = 1e-4  # ml.drift's share for an empty bin
CONFIG = MonitoringConfig(min_segment_products=1)


def _snapshot(classes: list[str], imputed: list[bool]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sku_id": ["p1", "p2", "p3", "p4"],
            "demand_pattern": classes,
            "lead_time_mean_days_imputed": imputed,
        }
    )


ASSIGNMENTS = pd.DataFrame(
    {
        "sku_id": ["p1", "p2", "p3", "p4"],
        "segment": ["a", "a", "a", "b"],
        "changed": [True, False, False, False],
        "provisional": [False, False, True, True],
    }
)
KPIS = pd.DataFrame(
    {
        "segment": ["a", "a", "b"],
        "kpi": ["fill_rate", "turns", "fill_rate"],
        "breached": [True, True, False],
        "cause": ["fit", "policy", ""],
    }
)


def _rows(previous: pd.DataFrame | None, previous_mix: pd.Series | None, config=CONFIG):
    current = _snapshot(["smooth", "smooth", "smooth", "lumpy"], [True, False, False, False])
    rows = monitoring_rows(
        "refresh-2",
        date(2026, 12, 7),
        current=current,
        previous=previous,
        previous_as_of=None if previous is None else date(2026, 11, 30),
        previous_mix=previous_mix,
        assignments=ASSIGNMENTS,
        kpis=KPIS,
        attributes=["demand_pattern"],
        config=config,
    )
    return rows.set_index("segment")


def test_mix_and_its_change_against_the_previous_refresh():
    rows = _rows(
        _snapshot(["smooth"] * 3 + ["lumpy"], [False] * 4), pd.Series({"a": 0.5, "b": 0.5})
    )
    assert list(rows.index) == [ALL, "a", "b"]
    assert rows.loc["a", "products"] == 3 and rows.loc["a", "share"] == pytest.approx(0.75)
    assert rows.loc["a", "share_change"] == pytest.approx(0.25)
    assert rows.loc["b", "share_change"] == pytest.approx(-0.25)
    assert rows.loc[ALL, "share_change"] == pytest.approx(0.25)  # the largest move
    assert "mix_change_max" in rows.loc["b", "breaches"].split(",")


def test_change_provisional_imputed_shares_and_kpi_breaches_per_segment():
    rows = _rows(None, None)
    assert rows.loc[ALL, "changed_share"] == pytest.approx(1 / 4)
    assert rows.loc["a", "changed_share"] == pytest.approx(1 / 3)
    assert rows.loc["b", "changed_share"] == 0
    assert rows.loc[ALL, "provisional_share"] == pytest.approx(2 / 4)
    assert rows.loc["b", "provisional_share"] == 1
    assert rows.loc["a", "imputed_share"] == pytest.approx(1 / 3)
    assert rows.loc[ALL, "kpis_breached"] == 2 and rows.loc["a", "kpis_breached"] == 2
    assert rows.loc[ALL, "kpis_breached_fit"] == 1 and rows.loc["b", "kpis_breached_fit"] == 0
    assert rows.loc["b", "breaches"] == "provisional_share_max"  # 1.0 > 0.30; its KPI held
    # a: 1/3 changed > 0.15, 1/3 provisional > 0.30, two KPIs breached > 0
    assert set(rows.loc["a", "breaches"].split(",")) == {
        "change_share_max",
        "provisional_share_max",
        "kpi_breaches_max",
    }


def test_psi_per_segment_sees_a_segment_that_moved_while_another_did_not():
    # segment a was all lumpy, is all smooth: two categories, shares (1, eps) -> (eps, 1)
    previous = _snapshot(["lumpy", "lumpy", "lumpy", "lumpy"], [False] * 4)
    rows = _rows(previous, pd.Series({"a": 0.75, "b": 0.25}))
    by_hand = 2 * (1 - EPS) * math.log((1 - EPS) / EPS)
    assert rows.loc["a", "psi_max"] == pytest.approx(by_hand, rel=1e-4)
    assert rows.loc["a", "psi_max_attribute"] == "demand_pattern"
    assert rows.loc["b", "psi_max"] == pytest.approx(0.0)
    assert json.loads(rows.loc["b", "psi"]) == {"demand_pattern": 0.0}
    assert "psi_max" in rows.loc["a", "breaches"].split(",")
    assert "psi_max" not in rows.loc["b", "breaches"].split(",")


def test_first_refresh_has_no_psi_and_no_mix_change_and_breaches_neither():
    rows = _rows(None, None)
    assert rows["psi_max"].isna().all() and rows["psi"].isna().all()
    assert rows["share_change"].isna().all()
    assert not any("psi_max" in b or "mix_change" in b for b in rows["breaches"])


def test_a_segment_below_the_minimum_size_gets_no_psi():
    previous = _snapshot(["lumpy"] * 4, [False] * 4)
    rows = _rows(
        previous, pd.Series({"a": 0.75, "b": 0.25}), MonitoringConfig(min_segment_products=2)
    )
    assert pd.isna(rows.loc["b", "psi_max"])  # one product
    assert rows.loc["a", "psi_max"] > 0


def test_thresholds_come_from_config():
    loose = MonitoringConfig(
        min_segment_products=1,
        thresholds=MonitoringThresholds(provisional_share_max=1.0, kpi_breaches_max=5),
    )
    rows = _rows(None, None, loose)
    assert rows.loc["b", "breaches"] == ""
