"""ml.triggers on hand-made monitoring rows: each rule fires exactly when its condition holds."""

from __future__ import annotations

import pandas as pd

from ml.config.operations import TriggerRules
from ml.triggers import fired_rules, kpi_streaks

RULES = TriggerRules(drift_psi_max=0.25, kpi_breached_refreshes=3, mix_change_max=0.10)


def _row(rid: str, seg: str, psi=None, move=None, kpis=0) -> dict:
    attr = None if psi is None else "adi_weeks"
    return {
        "refresh_id": rid,
        "segment": seg,
        "psi_max": psi,
        "psi_max_attribute": attr,
        "share_change": move,
        "kpis_breached": kpis + 1,  # breaches for other causes do not count
        "kpis_breached_fit": kpis,
    }


def test_kpi_streak_counts_refreshes_in_a_row_newest_backwards():
    rows = pd.DataFrame(
        [_row(f"r{i}", "a", kpis=k) for i, k in enumerate([1, 0, 2, 1, 3])]
        + [_row(f"r{i}", "b", kpis=1) for i in range(5)]
    )
    assert kpi_streaks(rows).to_dict() == {"a": 3, "b": 5}


def test_each_rule_fires_on_the_newest_refresh_only():
    rows = pd.DataFrame(
        [
            _row("r1", "a", psi=0.9, move=0.5),  # older refresh: not judged
            _row("r2", "ALL", psi=0.1, move=0.12),
            _row("r2", "a", psi=0.30, move=0.12, kpis=1),
            _row("r2", "b", psi=0.25, move=-0.12),
        ]
    )
    fired = {(f.rule, f.segment) for f in fired_rules(rows, RULES)}
    assert fired == {("drift", "a"), ("mix_change", "a"), ("mix_change", "b")}


def test_kpi_rule_fires_at_the_configured_streak():
    rows = pd.DataFrame([_row(f"r{i}", "a", kpis=1) for i in range(3)])
    assert [f.rule for f in fired_rules(rows, RULES)] == ["kpi_breached"]
    assert fired_rules(rows, TriggerRules(kpi_breached_refreshes=4)) == []


def test_no_rows_no_rules():
    assert fired_rules(pd.DataFrame(), RULES) == []


def test_a_policy_breach_streak_does_not_ask_for_a_retrain():
    # three refreshes in a row with KPIs breached, none for lack of fit (ml.kpis cause "policy")
    rows = pd.DataFrame([_row(f"r{i}", "a", kpis=0) for i in range(3)])
    assert (rows["kpis_breached"] > 0).all()
    assert fired_rules(rows, RULES) == []
