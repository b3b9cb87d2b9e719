"""Quarantine: every row a source could not give, with field, value and reason, and the accounting.

Inside a source's harmonisation a problem is ``(row, field, value, reason)``, where ``row`` is
the 0-based position of the row in the source as read. ``quarantine_rows`` turns problems into
quarantine-table rows with provenance; ``source_report`` counts them. A row with several
problems has one quarantine row per problem; the report counts it once, under its first reason
(pipeline order: duplicates, parsing, date range, exclusions, cross-reference, units,
currency, contract), so ``sum(quarantined_by_reason) == rows_quarantined``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ml import columns as C
from ml.contracts import empty_table

__all__ = [
    "ROW_FIELD",
    "as_text",
    "check_accounting",
    "no_problems",
    "problems",
    "quarantine_rows",
    "source_report",
]

ROW_FIELD = "(row)"  # the field of a problem that concerns the whole row
PROBLEM_COLUMNS = ("row", C.FIELD, C.VALUE, C.REASON)


def no_problems() -> pd.DataFrame:
    """An empty problem list."""
    return pd.DataFrame(
        {
            "row": pd.Series(dtype="int64"),
            C.FIELD: pd.Series(dtype="str"),
            C.VALUE: pd.Series(dtype="str"),
            C.REASON: pd.Series(dtype="str"),
        }
    )


def problems(
    rows: pd.Index | np.ndarray, field: str, value: pd.Series | str, reason: str | pd.Series
) -> pd.DataFrame:
    """One problem per row: the field, the value as the source wrote it, and the reason."""
    rows = pd.Index(rows, dtype="int64")
    if not len(rows):
        return no_problems()
    shown = value.reindex(rows) if isinstance(value, pd.Series) else pd.Series(value, index=rows)
    why = reason.reindex(rows) if isinstance(reason, pd.Series) else pd.Series(reason, index=rows)
    return pd.DataFrame(
        {
            "row": rows.to_numpy(),
            C.FIELD: field,
            C.VALUE: as_text(shown).to_numpy(),
            C.REASON: why.astype("str").to_numpy(),
        }
    ).astype({C.FIELD: "str", C.VALUE: "str", C.REASON: "str"})


def as_text(values: pd.Series) -> pd.Series:
    """Values as the quarantine shows them: text as read, whole floats without '.0', '' if none."""
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if len(finite) and bool((finite % 1 == 0).all()):
            values = values.astype("Int64")
    return values.astype("str").fillna("")


def quarantine_rows(
    found: pd.DataFrame, table: str, source: str, source_file: str, source_rows: pd.Series
) -> pd.DataFrame:
    """Problems of one source as quarantine-table rows (source_row from the row position)."""
    if found.empty:
        return empty_table("quarantine")
    n = len(found)
    return pd.DataFrame(
        {
            C.TABLE: pd.Series([table] * n, dtype="str"),
            C.SOURCE: pd.Series([source] * n, dtype="str"),
            C.SOURCE_FILE: pd.Series([source_file] * n, dtype="str"),
            C.SOURCE_ROW: source_rows.to_numpy(dtype="int64")[found["row"].to_numpy()],
            C.FIELD: found[C.FIELD].astype("str").to_numpy(),
            C.VALUE: found[C.VALUE].astype("str").to_numpy(),
            C.REASON: found[C.REASON].astype("str").to_numpy(),
        }
    )


def source_report(
    *,
    name: str,
    table: str,
    path: str,
    sha256: str,
    rows_in: int,
    accepted_rows: pd.Series,
    quarantine: pd.DataFrame,
    duplicates_removed: int,
    rows_out: int,
    **extra: Any,
) -> dict[str, Any]:
    """The report entry of one source; counts read from the rows actually kept and quarantined."""
    first = quarantine.drop_duplicates(C.SOURCE_ROW)
    by_reason = first[C.REASON].value_counts()
    return {
        "name": name,
        "table": table,
        "path": path,
        "sha256": sha256,
        "rows_in": int(rows_in),
        "rows_accepted": int(accepted_rows.nunique()),
        "rows_quarantined": len(first),
        "quarantined_by_reason": {str(k): int(v) for k, v in by_reason.items()},
        "duplicates_removed": int(duplicates_removed),
        "rows_out": int(rows_out),
        **extra,
        "_accepted_rows": accepted_rows,
        "_quarantined_rows": first[C.SOURCE_ROW],
    }


def check_accounting(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry without its row lists, after checking that every row is counted exactly once.

    Raises RuntimeError (a bug in the pipeline, not bad data) when rows_in differs from
    rows_accepted + rows_quarantined, a row is both accepted and quarantined, or the reasons
    do not add up.
    """
    accepted = entry.pop("_accepted_rows").to_numpy()
    quarantined = entry.pop("_quarantined_rows").to_numpy()
    size = int(max([entry["rows_in"], *(a.max() for a in (accepted, quarantined) if len(a))])) + 1
    seen = np.bincount(accepted, minlength=size) + np.bincount(quarantined, minlength=size)
    both = np.flatnonzero(seen > 1)
    ok = (
        entry["rows_in"] == entry["rows_accepted"] + entry["rows_quarantined"]
        and len(both) == 0
        and sum(entry["quarantined_by_reason"].values()) == entry["rows_quarantined"]
    )
    if not ok:
        raise RuntimeError(
            f"ingest accounting broken for source '{entry['name']}': rows_in {entry['rows_in']}, "
            f"accepted {entry['rows_accepted']}, quarantined {entry['rows_quarantined']}, "
            f"both {len(both)} (e.g. rows {both[:5].tolist()}), by reason "
            f"{entry['quarantined_by_reason']}; this is a bug in features/, please report it"
        )
    return entry
