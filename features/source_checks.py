"""What in a workspace's source declarations cannot work, found before any file is read."""

from __future__ import annotations

import re

from features.connectors import source_label
from features.fields import field_inputs
from features.harmonise import default_date_field
from features.rules import condition_problems
from ml.config import Source, Workspace
from ml.contracts import SOURCE_FIELDS, SourceFields

__all__ = ["source_problems"]

_MONEY_TABLES = ("demand", "products")


def source_problems(ws: Workspace) -> list[str]:
    """One message per problem, each naming the source, the key and the fix."""
    out: list[str] = []
    tables = {s.name: s.table for s in ws.sources}
    h = ws.harmonisation
    for key, ref, table in (
        ("sku_xref", h.sku_xref, "sku_xref"),
        ("uom", h.uom, "uom"),
        ("fx", h.fx, "fx"),
    ):
        if ref is not None and tables.get(ref) != table:
            out.append(
                f"harmonisation.{key} names source '{ref}', whose table is {tables.get(ref)}; "
                f"name a source with table: {table}"
            )
    for position, source in enumerate(ws.sources):
        label = source_label(source, position)
        out += [f"{label}: {p}" for p in _problems(ws, source)]
    return out


def _problems(ws: Workspace, source: Source) -> list[str]:
    spec = SOURCE_FIELDS[source.table]
    provided = set(field_inputs(source))
    return [
        *_field_problems(source, spec, provided),
        *_mapping_problems(source, spec, provided),
        *_date_range_problems(source, spec, provided),
        *_xref_problems(ws, provided),
        *_conversion_problems(ws, source),
    ]


def _field_problems(source: Source, spec: SourceFields, provided: set[str]) -> list[str]:
    """Fields the table does not have, or that the option cannot apply to."""
    known = ", ".join(sorted(spec.types))
    out = []
    for key in ("columns", "constants", "date_formats", "extract", "recode"):
        for field in getattr(source, key):
            if field not in spec.types:
                out.append(f"{key}.{field} is not a field of table {source.table}; fields: {known}")
    for field in source.date_formats:
        if field in spec.types and spec.types[field] != "date":
            out.append(f"date_formats.{field}: '{field}' is a {spec.types[field]}, not a date")
    for key in ("extract", "recode"):
        for field in getattr(source, key):
            if field in spec.types and field not in provided:
                out.append(f"{key}.{field}: '{field}' is not mapped; add it to 'columns'")
            elif field in spec.types and spec.types[field] not in ("id", "text"):
                out.append(
                    f"{key}.{field}: only text fields can be {key}ed; '{field}' is a "
                    f"{spec.types[field]}"
                )
    for field, pattern in source.extract.items():
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            out.append(f"extract.{field}: {pattern!r} is not a valid regex ({exc})")
            continue
        if groups < 1:
            out.append(f"extract.{field}: {pattern!r} has no group; wrap the part to keep in (...)")
    return out


def _mapping_problems(source: Source, spec: SourceFields, provided: set[str]) -> list[str]:
    """Required fields not mapped, options for another table, bad rule conditions."""
    out = []
    missing = [f for f in spec.required if f not in provided]
    if missing:
        out.append(
            f"table {source.table} needs {', '.join(missing)}; map each in 'columns' "
            f"or give it in 'constants'"
        )
    for group in spec.one_of:
        if not provided.intersection(group):
            out.append(f"table {source.table} needs one of {' or '.join(group)} in 'columns'")
    if source.kind_rules and source.table != "demand":
        out.append(f"kind_rules apply to demand sources only; this source feeds {source.table}")
    if source.collapse and source.table != "products":
        out.append(f"collapse applies to products sources only; this source feeds {source.table}")
    for rule in [*source.kind_rules, *source.exclude]:
        for cond in rule.when:
            out += condition_problems(cond, spec.types, provided)
    return out


def _date_range_problems(source: Source, spec: SourceFields, provided: set[str]) -> list[str]:
    """A date field that is not a date, or a date range with no date to test."""
    out = []
    if source.date_field is not None and spec.types.get(source.date_field) != "date":
        dates = [f for f, t in spec.types.items() if t == "date"]
        out.append(
            f"date_field '{source.date_field}' is not a date field of {source.table}; "
            f"date fields: {', '.join(dates) or 'none'}"
        )
    ranged = source.date_from is not None or source.date_to is not None
    by = source.date_field or default_date_field(source.table)
    if ranged and (by is None or by not in provided):
        out.append(
            f"date_from/date_to need a date to test: map {by or 'a date field'} in 'columns' "
            f"or name a mapped one in 'date_field'"
        )
    return out


def _xref_problems(ws: Workspace, provided: set[str]) -> list[str]:
    out = []
    if "source_sku" in provided and "sku_id" not in provided and ws.harmonisation.sku_xref is None:
        out.append(
            "source_sku needs a cross-reference to global codes, and none is declared; add a "
            "source with table: sku_xref and name it in harmonisation.sku_xref (or map sku_id)"
        )
    return out


def _conversion_problems(ws: Workspace, source: Source) -> list[str]:
    h = ws.harmonisation
    out = []
    if (
        source.table in _MONEY_TABLES
        and source.currency is not None
        and source.currency.upper() != h.reporting_currency.upper()
        and h.fx is None
    ):
        out.append(
            f"amounts are in {source.currency} but the reporting currency is "
            f"{h.reporting_currency} and no fx source is declared; add a source with table: fx "
            f"and name it in harmonisation.fx"
        )
    if (
        source.uom is not None
        and source.uom.upper() != h.base_uom.upper()
        and h.uom is None
        and source.table in ("demand", "products", "supply", "inventory")
    ):
        out.append(
            f"quantities are in {source.uom} but the base unit is {h.base_uom} and no uom source "
            f"is declared; add a source with table: uom and name it in harmonisation.uom"
        )
    return out
