"""ml.actions: which fired rules retrain, the reclassified share, the probation verdict."""

from __future__ import annotations

import pandas as pd

from ml import columns as C
from ml.actions import probation_breaches, reclassified_share, retrain_rules
from ml.config.operations import Actions, Probation
from ml.triggers import FiredRule


def _assignments(rows: list[tuple[str, str | None, bool]]) -> pd.DataFrame:
    """(visible segment, model proposal, changed) per product."""
    return pd.DataFrame(rows, columns=[C.SEGMENT, C.PROPOSED_SEGMENT, C.CHANGED])


FOUR = _assignments(
    [
        ("a", "a", False),  # stays
        ("b", "b", True),  # moved to b
        ("a", "c", False),  # proposed c, held back by hysteresis
        ("c", None, False),  # an override: no proposal
    ]
)


def test_the_reclassified_share_counts_moves_and_held_back_proposals():
    assert reclassified_share(FOUR) == 0.5
    assert reclassified_share(FOUR.iloc[:0]) == 0.0
    assert reclassified_share(FOUR.drop(columns=[C.PROPOSED_SEGMENT])) == 0.25


def test_only_the_rules_in_retrain_on_start_a_retrain():
    fired = [FiredRule("mix_change", "r", "a", "x"), FiredRule("drift", "r", "b", "y")]
    assert retrain_rules(fired, Actions()) == fired
    assert retrain_rules(fired, Actions(retrain_on=["drift"])) == fired[1:]
    assert retrain_rules(fired, Actions(retrain_on=[])) == []


def test_probation_breaches_name_each_tolerance_exceeded():
    tolerances = Probation(reclassified_share_max=0.4, kpis_breached_increase_max=1)
    now, before = {"kpis_breached": 5}, {"kpis_breached": 3}
    reasons = probation_breaches(FOUR, now, before, tolerances)
    assert len(reasons) == 2
    assert "50.0% of the products" in reasons[0] and "40.0%" in reasons[0]
    assert "from 3 to 5" in reasons[1]
    assert probation_breaches(FOUR, {"kpis_breached": 4}, before, tolerances)[1:] == []
    within = Probation(reclassified_share_max=0.5, kpis_breached_increase_max=2)
    assert probation_breaches(FOUR, now, before, within) == []
    assert probation_breaches(FOUR, now, None, within) == []  # no refresh before: no KPI test
