"""The audit rows of a scoring run, and the repair of a run published without them.

A run is published to the sinks first and audited after (serving.scoring): a job killed between
the two leaves a current run with no audit rows. The next scoring run repairs that before it
starts: it rebuilds the newest current run's rows from its published assignments against what
that run replaced, with the same functions, and appends them marked as recorded late. Only the
newest run can be the gap (every run repairs the one before it), so the check is one count.
"""

from __future__ import annotations

import pandas as pd

from ml import columns as C
from ml.columns import SKU_ID
from ml.config import Workspace
from serving.runs import current_runs
from store.audit import (
    append_audit,
    audit_rows_of_run,
    first_assignment_rows,
    segment_change_rows,
)
from store.sinks import read_replaced, read_table

__all__ = ["LATE", "repair_unaudited_run", "run_audit_rows"]

LATE = " (recorded late: the scoring job ended between publishing the run and auditing it)"


def run_audit_rows(
    assignments: pd.DataFrame, visible: pd.DataFrame | None, model_version: str, run_id: str
) -> pd.DataFrame:
    """First-assignment and segment-change rows of a run; `visible` is what planners saw for the
    same snapshot before it (a re-run is audited against that, not against the past)."""
    against = assignments
    if visible is not None and not visible.empty:
        before = assignments[SKU_ID].map(visible.set_index(SKU_ID)[C.SEGMENT])
        against = assignments.assign(
            **{
                C.PREVIOUS_SEGMENT: before,
                C.CHANGED: (before.notna() & (before != assignments[C.SEGMENT])).to_numpy(),
            }
        )
    return pd.concat(
        [
            first_assignment_rows(against, run_id),
            segment_change_rows(against, model_version, run_id),
        ],
        ignore_index=True,
    )


def repair_unaudited_run(ws: Workspace, sink: object) -> int:
    """Audit the newest current run of `sink` when it has rows to audit and none were; the rows
    appended (0 when nothing was missing)."""
    current = current_runs(sink)
    if current.empty:
        return 0
    run = current.sort_values("written_at", kind="stable").iloc[-1]
    run_id = str(run[C.RUN_ID])
    if audit_rows_of_run(ws, run_id):
        return 0
    day = pd.Timestamp(run[C.AS_OF]).date()
    version = str(run[C.MODEL_VERSION])
    assignments = read_table(sink, C.ASSIGNMENTS, as_of=day, model_version=version)  # type: ignore[arg-type]
    assignments = assignments[assignments[C.RUN_ID] == run_id]
    replaced = read_replaced(sink, C.ASSIGNMENTS, run_id)  # type: ignore[arg-type]
    rows = run_audit_rows(assignments, replaced, version, run_id)
    if rows.empty:
        return 0
    append_audit(ws, rows.assign(**{C.WHY: rows[C.WHY].astype("str") + LATE}))
    return len(rows)
