"""What every table contract shares: the dtype of each value kind and the column builders."""

from __future__ import annotations

import pandera.pandas as pa

__all__ = ["DATE_DTYPE", "DTYPES", "column", "key"]

DATE_DTYPE = "datetime64[us]"
#: value kind -> the pandas dtype a stage must produce (pandas 3: text is the str dtype)
DTYPES: dict[str, str] = {
    "id": "str",
    "text": "str",
    "number": "float64",
    "date": DATE_DTYPE,
    "flag": "bool",
    "count": "int64",
    "optional_count": "Int64",
}


def column(
    kind: str,
    *checks: pa.Check,
    nullable: bool = True,
    unique: bool = False,
    description: str = "",
) -> pa.Column:
    """A contract column of a value kind (see DTYPES) with row checks and a one-line meaning."""
    # pandera normalises dtypes (datetime64[us] reads back as ns), so the pandas dtype a
    # builder must produce is kept in the column's metadata
    extra = {"unique": True, "report_duplicates": "exclude_first"} if unique else {}
    return pa.Column(
        DTYPES[kind],
        checks=list(checks),
        nullable=nullable,
        metadata={"dtype": DTYPES[kind], "kind": kind},
        description=description or None,
        **extra,
    )


def key(kind: str = "id", *checks: pa.Check, description: str = "") -> pa.Column:
    """A column that is never missing (part of a table's key, or always known)."""
    return column(kind, *checks, nullable=False, description=description)
