"""`strata score rollback RUN_ID`: restore what a scoring run replaced, in every sink, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from ml import columns as C
from ml.columns import AS_OF, SKU_ID
from ml.config import Workspace
from ml.config.scoring import ScoringConfig
from ml.errors import StrataError
from serving.runs import main_sinks, previous_assignments
from store.audit import append_audit
from store.sinks import list_runs, read_replaced, read_table, rollback_run

__all__ = ["ScoringRollback", "rollback_scoring_run"]


@dataclass(frozen=True)
class ScoringRollback:
    """What `strata score rollback` did."""

    run_id: str
    as_of: date
    model_version: str
    restored_run_id: str | None
    sinks: list[str]
    segment_changes: int


def rollback_scoring_run(
    ws: Workspace, config: ScoringConfig, run_id: str, model_name: str, reason: str = ""
) -> ScoringRollback:
    """Restore, in every sink, the outputs run `run_id` replaced; audit it and each product moved.

    Products whose visible segment changes back get a ``segment_change`` audit row; the
    rollback itself one ``score_rollback`` row.
    """
    sinks = main_sinks(ws, config)
    shadow = main_sinks(ws, config, shadow=True)
    holding = [s for s in sinks if (list_runs(s)[C.RUN_ID] == run_id).any()]
    if not holding:
        holding = [s for s in shadow if (list_runs(s)[C.RUN_ID] == run_id).any()]
        if not holding:
            known = list_runs(sinks[0])
            shown = ", ".join(known[C.RUN_ID].tail(5)) if not known.empty else "none"
            raise StrataError(
                f"no scoring run {run_id} in the configured sinks; newest runs: {shown} "
                f"(`strata score` prints each run's id)"
            )
    first = holding[0]
    runs = list_runs(first)
    run = runs[runs[C.RUN_ID] == run_id].iloc[-1]
    day = pd.Timestamp(run[AS_OF]).date()
    version = str(run[C.MODEL_VERSION])
    undone = (
        read_table(first, C.ASSIGNMENTS, as_of=day, model_version=version)
        if (run[C.STATUS] == "current")
        else pd.DataFrame()
    )
    restored = read_replaced(first, C.ASSIGNMENTS, run_id) if run[C.STATUS] == "current" else None
    results = [rollback_run(s, run_id) for s in holding]
    if restored is None or restored.empty:
        restored, _ = previous_assignments(first, day)
    moved = pd.DataFrame()
    if len(undone) and len(restored):
        pair = undone[[SKU_ID, C.SEGMENT]].merge(
            restored[[SKU_ID, C.SEGMENT]], on=SKU_ID, suffixes=("_undone", "_restored")
        )
        moved = pair[pair[f"{C.SEGMENT}_undone"] != pair[f"{C.SEGMENT}_restored"]]
    why = f"score run {run_id} rolled back" + (f": {reason}" if reason else "")
    restored_id = results[0].restored_run_id
    audit = [
        {
            C.EVENT: "score_rollback",
            C.SUBJECT: model_name,
            C.FROM_VALUE: run_id,
            C.TO_VALUE: restored_id or "none",
            C.WHY: why + (f"; restored run {restored_id}" if restored_id else "; nothing restored"),
            C.MODEL_VERSION: version,
            C.RUN_ID: run_id,
        }
    ]
    rows = pd.DataFrame(
        {
            C.EVENT: "segment_change",
            C.SUBJECT: moved[SKU_ID].astype("str") if len(moved) else pd.Series(dtype="str"),
            C.FROM_VALUE: moved.get(f"{C.SEGMENT}_undone"),
            C.TO_VALUE: moved.get(f"{C.SEGMENT}_restored"),
            C.WHY: why,
            C.MODEL_VERSION: version,
            C.RUN_ID: run_id,
        }
    )
    append_audit(ws, pd.concat([pd.DataFrame(audit), rows], ignore_index=True))
    return ScoringRollback(run_id, day, version, restored_id, [r.sink for r in results], len(moved))
