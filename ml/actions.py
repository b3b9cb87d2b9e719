"""What the actions stage of a refresh decides: which fired rules retrain, and a probation verdict.

Pure: fired rules, assignments and monitoring rows in, decisions out. A champion promoted
automatically is on probation until the first refresh it scores; that refresh is judged by how
many products the new champion proposes to move (whether hysteresis holds them back or not: a
held-back move is still the model's judgement) and by the KPI breaches against the refresh
before the promotion. Any breach rolls the champion back (strata.actions does it).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ml import columns as C
from ml.config.operations import Actions, Probation
from ml.monitoring import KPIS_BREACHED
from ml.triggers import FiredRule

__all__ = ["probation_breaches", "reclassified_share", "retrain_rules"]


def retrain_rules(fired: list[FiredRule], actions: Actions) -> list[FiredRule]:
    """The fired rules that start a retrain under `actions.retrain_on`, in the order fired."""
    return [f for f in fired if f.rule in actions.retrain_on]


def reclassified_share(assignments: pd.DataFrame) -> float:
    """Share of products whose model proposal differs from the segment they held before the run.

    A product counts when its visible segment changed, or when the model proposed another
    segment and hysteresis held it back (proposed segment != visible segment). First
    assignments (nothing held before) do not count. 0.0 for no products.
    """
    if assignments.empty:
        return 0.0
    changed = assignments[C.CHANGED].fillna(False).astype(bool).to_numpy()
    held = (
        (
            assignments[C.PROPOSED_SEGMENT].astype("object")
            != assignments[C.SEGMENT].astype("object")
        ).to_numpy()
        & assignments[C.PROPOSED_SEGMENT].notna().to_numpy()
        if C.PROPOSED_SEGMENT in assignments.columns
        else False
    )
    return float((changed | held).mean())


def probation_breaches(
    assignments: pd.DataFrame,
    now: Mapping[str, object],
    before: Mapping[str, object] | None,
    tolerances: Probation,
) -> list[str]:
    """Why the refresh an automatically promoted champion scored breaches its probation ([]: none).

    `now` and `before` are the all-products monitoring rows of this refresh and of the refresh
    before the promotion (None: no KPI comparison).
    """
    reasons = []
    share = reclassified_share(assignments)
    if share > tolerances.reclassified_share_max:
        reasons.append(
            f"it proposes to move {share:.1%} of the products, above reclassified_share_max "
            f"{tolerances.reclassified_share_max:.1%}"
        )
    if before is not None:
        grown = _count(now.get(KPIS_BREACHED)) - _count(before.get(KPIS_BREACHED))
        if grown > tolerances.kpis_breached_increase_max:
            reasons.append(
                f"KPI breaches went from {_count(before.get(KPIS_BREACHED))} to "
                f"{_count(now.get(KPIS_BREACHED))}, more than kpis_breached_increase_max "
                f"{tolerances.kpis_breached_increase_max} above the refresh before"
            )
    return reasons


def _count(value: object) -> int:
    return 0 if value is None or value != value else int(value)  # type: ignore[call-overload]
