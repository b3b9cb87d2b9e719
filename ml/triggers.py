"""Trigger rules over the monitoring rows: which fired on the newest refresh, and why.

Pure: rows in (ml.monitoring's columns, any number of refreshes), rules from
configs/operations.yaml (``rules:``), fired rules out. Three rules: drift (a PSI beyond the
limit), a KPI breached in the same segment N refreshes in a row, a segment mix change beyond the
limit. The KPI rule counts only breaches whose products no longer fit the segment (ml.kpis cause
"fit"): a policy that misses its target with unchanged products asks for a policy review, not a
retrain. strata.actions acts on the rules that fire.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ml import columns as C
from ml.config.operations import TriggerRules
from ml.monitoring import (
    ALL,
    KPIS_BREACHED_FIT,
    PSI_MAX,
    PSI_MAX_ATTRIBUTE,
    REFRESH_ID,
    SHARE_CHANGE,
)

__all__ = ["FiredRule", "fired_rules", "kpi_streaks"]


@dataclass(frozen=True)
class FiredRule:
    """One rule that fired: its name, the refresh and segment it fired on, and why in words."""

    rule: str
    refresh_id: str
    segment: str
    why: str


def kpi_streaks(rows: pd.DataFrame) -> pd.Series:
    """Per segment: refreshes in a row, newest backwards, with a KPI breached for lack of fit."""
    seg = rows[rows[C.SEGMENT] != ALL]
    order = sorted(set(rows[REFRESH_ID]), reverse=True)
    out = {}
    for name, part in seg.groupby(C.SEGMENT):
        breached = part.set_index(REFRESH_ID)[KPIS_BREACHED_FIT].astype(float)
        streak = 0
        for rid in order:  # a refresh without the segment ends its streak
            if rid not in breached.index or not breached[rid] > 0:
                break
            streak += 1
        out[name] = streak
    return pd.Series(out, dtype="int64")


def fired_rules(rows: pd.DataFrame, rules: TriggerRules) -> list[FiredRule]:
    """The rules that fire on the newest refresh in `rows` (none when `rows` is empty)."""
    if rows.empty:
        return []
    newest = max(rows[REFRESH_ID])
    last = rows[rows[REFRESH_ID] == newest]
    fired: list[FiredRule] = []
    for row in last.to_dict("records"):
        psi = row[PSI_MAX]
        if psi is not None and psi == psi and float(psi) > rules.drift_psi_max:
            fired.append(
                FiredRule(
                    "drift",
                    newest,
                    row[C.SEGMENT],
                    f"{row[C.SEGMENT]}: PSI of {row[PSI_MAX_ATTRIBUTE]} is {float(psi):.3f}, "
                    f"above drift_psi_max {rules.drift_psi_max}",
                )
            )
        move = row[SHARE_CHANGE]
        measured = row[C.SEGMENT] != ALL and move is not None and move == move
        if measured and abs(float(move)) > rules.mix_change_max:
            fired.append(
                FiredRule(
                    "mix_change",
                    newest,
                    row[C.SEGMENT],
                    f"{row[C.SEGMENT]}: share moved {float(move):+.1%} since the previous "
                    f"refresh, beyond mix_change_max {rules.mix_change_max:.1%}",
                )
            )
    for name, streak in kpi_streaks(rows).items():
        if streak >= rules.kpi_breached_refreshes:
            fired.append(
                FiredRule(
                    "kpi_breached",
                    newest,
                    str(name),
                    f"{name}: a KPI breached because its products no longer fit the segment, "
                    f"in {streak} refreshes in a row (kpi_breached_refreshes "
                    f"{rules.kpi_breached_refreshes})",
                )
            )
    return fired
