"""Ingest: read every declared source, harmonise it, quarantine bad rows, build canonical tables.

``ingest(ws)`` returns the canonical tables, the quarantine and a per-source report;
``write_tables(ws, result)`` writes them under ``ws.warehouse / "tables"`` in one atomic swap.

Accounting: for every source ``rows_in == rows_accepted + rows_quarantined`` (checked; a
violation raises RuntimeError). ``source_row`` is the 1-based data row of the source: the
header is not counted, so source_row 1 is the first row under the header (for SQL, the first
row the query returned). Every row not accepted is in the quarantine with field, value and
reason; see ``features.harmonise`` for the reasons and their order. A problem with a whole
source (missing or empty file, bad encoding or delimiter, mapped column absent, SQL failing,
an unworkable declaration) raises one ``StrataError`` listing every such problem across all
sources; nothing is returned or written then.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from features.canonical import bucketed_demand, collapsed_products, products_from_lines
from features.harmonise import contract_table
from features.ingest_cache import FilePart
from features.quarantine import (
    ROW_FIELD,
    check_accounting,
    problems,
    quarantine_rows,
    source_report,
)
from features.source_parts import REFERENCE_TABLES, source_parts
from ml import columns as C
from ml.config import Source, Workspace
from ml.contracts import QUARANTINE_COLUMNS, contract_failures, empty_table

__all__ = ["TABLES", "IngestResult", "ingest", "write_tables"]

TABLES = ("demand_lines", "demand", "products", "supply", "inventory")


@dataclass(frozen=True)
class IngestResult:
    """Canonical tables, every quarantined row, and one report entry per source."""

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    report: list[dict[str, Any]] = field(default_factory=list)
    cache_keys: set[str] = field(default_factory=set)  # the ingest cache entries it used


def _ragged_quarantine(source: Source, part: FilePart) -> pd.DataFrame:
    if not part.ragged:
        return empty_table("quarantine")
    rows, texts = zip(*part.ragged, strict=True)
    n = len(rows)
    return pd.DataFrame(
        {
            C.TABLE: [source.table] * n,
            C.SOURCE: [source.name] * n,
            C.SOURCE_FILE: [part.path] * n,
            C.SOURCE_ROW: pd.array(rows, dtype="int64"),
            C.FIELD: [ROW_FIELD] * n,
            C.VALUE: [t[:200] for t in texts],
            C.REASON: ["wrong_field_count"] * n,
        }
    ).astype({c: "str" for c in QUARANTINE_COLUMNS if c != C.SOURCE_ROW})


def _products_once(
    sources: list[Source], parts: dict[str, list[FilePart]]
) -> tuple[dict[tuple[str, int], pd.DataFrame], dict[tuple[str, int], pd.DataFrame]]:
    """Product rows per (source, file) with a sku_id kept from the first file declaring it."""
    kept: dict[tuple[str, int], pd.DataFrame] = {}
    extra: dict[tuple[str, int], pd.DataFrame] = {}
    owner: dict[str, str] = {}
    for source in sources:
        for i, part in enumerate(parts[source.name]):
            rows = part.harmonised.rows
            earlier = rows[C.SKU_ID].map(owner).astype("str")
            taken = earlier.notna().to_numpy()
            shown = rows[C.SKU_ID] + " (already in " + earlier + ")"
            extra[source.name, i] = problems(rows.index[taken], C.SKU_ID, shown, "duplicate_key")
            kept[source.name, i] = rows[~taken]
            here = f"source '{source.name}'"
            if len(parts[source.name]) > 1:
                here += f" file {part.path}"
            owner.update(dict.fromkeys(kept[source.name, i][C.SKU_ID].unique(), here))
    return kept, extra


def ingest(ws: Workspace, code_version: str | None = None) -> IngestResult:
    """Every source read, harmonised and accounted for; the canonical tables built from them.

    With `code_version`, each harmonised file is kept in the warehouse's ingest cache and an
    unchanged file is read back from it (``features.ingest_cache``); the report's entries (one
    per source file) say which were (``cached``)."""
    found = source_parts(ws, code_version)
    parts = found.parts
    product_sources = [s for s in ws.sources if s.table == "products"]
    products_kept, products_extra = _products_once(product_sources, parts)

    report: list[dict[str, Any]] = []
    quarantine_parts: list[pd.DataFrame] = []
    by_table: dict[str, list[pd.DataFrame]] = {t: [] for t in (*TABLES, *REFERENCE_TABLES)}
    descriptions: list[pd.Series] = []
    for source in ws.sources:
        for i, part in enumerate(parts[source.name]):
            result = part.harmonised
            rows = products_kept.get((source.name, i), result.rows)
            quarantine = _source_quarantine(source, part, products_extra.get((source.name, i)))
            quarantine_parts.append(quarantine)
            accepted = pd.Series(part.source_rows.to_numpy()[rows.index.to_numpy()])
            if source.table == "demand":  # descriptions only feed the product master fallback
                descriptions.append(rows[C.DESCRIPTION])
                rows = rows.drop(columns=C.DESCRIPTION)
            if source.collapse:
                rows = collapsed_products(rows)
            by_table[contract_table(source.table)].append(rows)
            entry = source_report(
                name=source.name,
                table=source.table,
                path=part.path,
                sha256=part.sha256,
                rows_in=len(part.source_rows) + len(part.ragged),
                accepted_rows=accepted,
                quarantine=quarantine,
                duplicates_removed=result.duplicates_removed,
                rows_out=len(rows),
                cached=part.cached,
            )
            report.append(check_accounting(entry))

    tables = _canonical_tables(ws, by_table, descriptions, bool(product_sources), report)
    quarantine = pd.concat(quarantine_parts, ignore_index=True)[list(QUARANTINE_COLUMNS)]
    return IngestResult(tables=tables, quarantine=quarantine, report=report, cache_keys=found.keys)


def _source_quarantine(
    source: Source, part: FilePart, products_extra: pd.DataFrame | None
) -> pd.DataFrame:
    """Every quarantined row of one source file: ragged rows, then harmonisation's problems."""
    found = pd.concat([part.harmonised.problems, products_extra], ignore_index=True)
    return pd.concat(
        [
            _ragged_quarantine(source, part),
            quarantine_rows(found, source.table, source.name, part.path, part.source_rows),
        ],
        ignore_index=True,
    )


def _canonical_tables(
    ws: Workspace,
    by_table: dict[str, list[pd.DataFrame]],
    descriptions: list[pd.Series],
    has_product_source: bool,
    report: list[dict[str, Any]],
) -> dict[str, pd.DataFrame]:
    """The canonical tables from the accepted rows (appends the product fallback to `report`)."""
    tables = {name: _concat(name, by_table[name]) for name in TABLES if name != "demand"}
    tables["demand"] = bucketed_demand(tables["demand_lines"], ws.calendar.bucket)
    fallback = ws.harmonisation.product_master
    if not has_product_source and fallback.enabled and len(tables["demand_lines"]):
        tables["products"] = products_from_lines(
            tables["demand_lines"],
            pd.concat(descriptions, ignore_index=True),
            fallback,
            ws.harmonisation.base_uom,
        )
        report.append(_fallback_entry(ws, tables["products"]))
    tables = {name: tables[name].reset_index(drop=True) for name in TABLES}
    for name in ("demand", "products"):
        _assert_contract(name, tables[name])
    return tables


def _concat(table: str, parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_table(table)
    return pd.concat(parts, ignore_index=True)


def _fallback_entry(ws: Workspace, products: pd.DataFrame) -> dict[str, Any]:
    fallback = ws.harmonisation.product_master
    return {
        "name": "product_master_fallback",
        "table": "products",
        "path": None,
        "sha256": None,
        "rows_in": 0,
        "rows_accepted": 0,
        "rows_quarantined": 0,
        "quarantined_by_reason": {},
        "duplicates_removed": 0,
        "rows_out": len(products),
        "products_without_price": int(products[C.UNIT_PRICE].isna().sum()),
        "products_without_description": int(products[C.DESCRIPTION].isna().sum()),
        "derived_from": [s.name for s in ws.sources if s.table == "demand"],
        "note": (
            "no products source: the product master was built from accepted demand lines "
            f"(family = group 1 of {fallback.family_regex!r} on sku_id, category = group 1 of "
            f"{fallback.category_regex!r}, else '{fallback.default_family}'/"
            f"'{fallback.default_category}'; unit_price = median sale price; description = most "
            "frequent; launch_date = first sale)"
        ),
    }


def _assert_contract(table: str, frame: pd.DataFrame) -> None:
    failures = contract_failures(table, frame)
    if len(failures):
        raise RuntimeError(
            f"built table {table} breaks its contract (a bug in features/): "
            f"{failures.head(5).to_dict('records')}"
        )


def _restore_retired_tables(warehouse: Path, target: Path) -> None:
    """Put back the tables a process killed between the two renames below had moved aside."""
    if target.exists():
        return
    retired = sorted(warehouse.glob(".tables-old-*"), key=lambda p: p.stat().st_mtime)
    if retired:
        retired[-1].rename(target)


def write_tables(ws: Workspace, result: IngestResult, fingerprint: str | None = None) -> Path:
    """Write tables, quarantine and report to ``ws.warehouse/tables``, replacing it atomically;
    `fingerprint` (features.ingest_reuse) is recorded beside them when given.

    Everything is written into a temporary folder beside the target, which then replaces the
    old folder by rename: a failure leaves the previous tables in place, never a half-written
    folder.
    """
    target = ws.warehouse / "tables"
    ws.warehouse.mkdir(parents=True, exist_ok=True)
    _restore_retired_tables(ws.warehouse, target)
    staging = Path(tempfile.mkdtemp(prefix=".tables-new-", dir=ws.warehouse))
    retired: Path | None = None
    try:
        for name in TABLES:
            result.tables[name].to_parquet(staging / f"{name}.parquet", index=False)
        result.quarantine.to_parquet(staging / "quarantine.parquet", index=False)
        (staging / "ingest_report.json").write_text(
            json.dumps(result.report, indent=2, default=str) + "\n", encoding="utf-8"
        )
        if fingerprint is not None:
            (staging / "ingest_fingerprint.json").write_text(
                json.dumps({"fingerprint": fingerprint}) + "\n", encoding="utf-8"
            )
        if target.exists():
            retired = ws.warehouse / f".tables-old-{uuid.uuid4().hex[:8]}"
            target.rename(retired)
        staging.rename(target)
    except BaseException:
        if retired is not None and not target.exists():
            retired.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
    return target
