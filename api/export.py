"""The ERP/WMS feed: assignments or policies changed since a scoring run, paged, JSON or CSV."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import HTTPException
from fastapi.responses import Response

from api.views import records
from ml import columns as C
from ml.columns import AS_OF

__all__ = ["changed_since", "export_feed"]


def changed_since(outputs: Any, table: str, since: str | None) -> pd.DataFrame:
    """The current rows of `table` written after run `since` (all rows without it).

    Assignments count as changed when their segment was assigned after that run's snapshot, or
    the row says it changed, or an override placed it; policies when a later run wrote them.
    """
    frame = outputs.assignments if table == "assignments" else outputs.policies
    if since is None or frame.empty:
        return frame
    runs = outputs.runs
    hit = runs[runs[C.RUN_ID].astype("str") == since] if len(runs) else runs
    if hit.empty:
        newest = ", ".join(runs[C.RUN_ID].astype("str").tail(5)) if len(runs) else "none"
        raise HTTPException(404, f"no scoring run {since!r} in the sink; newest runs: {newest}")
    written = pd.Timestamp(hit.iloc[0]["written_at"])
    day = pd.Timestamp(hit.iloc[0][AS_OF])
    later = set(runs[pd.to_datetime(runs["written_at"]) > written][C.RUN_ID].astype("str"))
    newer = frame[C.RUN_ID].astype("str").isin(later)
    if table == "policies":
        return frame[newer.to_numpy()]
    moved = (pd.to_datetime(frame["since"]) > day) | frame[C.CHANGED].astype(bool)
    moved |= frame[C.METHOD].astype("str") == "override"
    return frame[(newer & moved).to_numpy()]


def export_feed(
    service: Any, table: str, since: str | None, page: int, page_size: int, fmt: str
) -> Any:
    """One page of the feed; JSON carries total and next page, CSV carries them in headers."""
    rows = changed_since(service.outputs(), table, since)
    start = (page - 1) * page_size
    chunk = rows.iloc[start : start + page_size]
    more = start + page_size < len(rows)
    if fmt == "csv":
        headers = {"X-Total-Count": str(len(rows))}
        if more:
            headers["X-Next-Page"] = str(page + 1)
        return Response(chunk.to_csv(index=False), media_type="text/csv", headers=headers)
    return {
        "table": table,
        "since": since,
        "total": len(rows),
        "page": page,
        "page_size": page_size,
        "next_page": page + 1 if more else None,
        "rows": records(chunk),
    }
