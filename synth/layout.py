"""The synthetic company's file layout: column names of its files and its workspace config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ml.columns import (
    CATEGORY,
    COUNTRY,
    CURRENCY,
    CUSTOMER_ID,
    DATE,
    DESCRIPTION,
    DESTINATION_COUNTRY,
    DOCUMENT_ID,
    FACTOR_TO_BASE,
    FAMILY,
    LAUNCH_DATE,
    LOCATION_ID,
    MONTH,
    MOQ,
    ON_HAND,
    ORDER_DATE,
    PACK_SIZE,
    PO_ID,
    PROMISED_DATE,
    QTY,
    QTY_ORDERED,
    QTY_RECEIVED,
    RATE_TO_REPORTING,
    RECEIPT_DATE,
    REGION,
    SHELF_LIFE_DAYS,
    SKU_ID,
    SOURCE_SKU,
    SUPPLIER_COUNTRY,
    SUPPLIER_ID,
    UNIT_COST,
    UNIT_PRICE,
    UOM,
)
from synth.styles import EU_STYLE, US_STYLE, RegionStyle

__all__ = [
    "FX_COLUMNS",
    "INVENTORY_COLUMNS",
    "PRODUCT_COLUMNS",
    "REPORTING_CURRENCY",
    "SUPPLY_COLUMNS",
    "UOM_COLUMNS",
    "XREF_COLUMNS",
    "synthetic_workspace_config",
]

REPORTING_CURRENCY = "GBP"
BASE_UOM = "EA"

PRODUCT_COLUMNS = (
    SKU_ID,
    DESCRIPTION,
    FAMILY,
    CATEGORY,
    UNIT_COST,
    UNIT_PRICE,
    UOM,
    SHELF_LIFE_DAYS,
    LAUNCH_DATE,
    SUPPLIER_ID,
    MOQ,
    PACK_SIZE,
)
SUPPLY_COLUMNS = (
    SKU_ID,
    SUPPLIER_ID,
    PO_ID,
    ORDER_DATE,
    PROMISED_DATE,
    RECEIPT_DATE,
    QTY_ORDERED,
    QTY_RECEIVED,
    SUPPLIER_COUNTRY,
    DESTINATION_COUNTRY,
)
INVENTORY_COLUMNS = (SKU_ID, LOCATION_ID, DATE, ON_HAND)
XREF_COLUMNS = (REGION, SOURCE_SKU, SKU_ID)
UOM_COLUMNS = (SKU_ID, UOM, FACTOR_TO_BASE)
FX_COLUMNS = (MONTH, CURRENCY, RATE_TO_REPORTING)

_ISO = "%Y-%m-%d"


def _demand_source(style: RegionStyle, monthly: bool) -> dict[str, Any]:
    """A regional extract (one file, or with `monthly` a folder of monthly files): its own
    column names, date format, unit, currency and row rules."""
    doc, date_col, customer, _state, country, sku, qty, price = style.columns
    _sale, cancel, credit = style.doc_prefix
    is_csv = style.delimiter is not None
    return {
        "name": style.source,
        "table": "demand",
        "kind": "csv" if is_csv else "parquet",
        "path": f"{Path(style.file_name).stem}/*{Path(style.file_name).suffix}"
        if monthly
        else style.file_name,
        **({"delimiter": style.delimiter} if is_csv else {}),
        "columns": {
            DOCUMENT_ID: doc,
            DATE: date_col,
            CUSTOMER_ID: customer,
            COUNTRY: country,
            SOURCE_SKU: sku,
            QTY: qty,
            UNIT_PRICE: price,
        },
        "date_formats": {DATE: style.date_format},
        "constants": {LOCATION_ID: style.location_id},
        "uom": style.uom,
        "currency": style.currency,
        "region": style.region,
        "business_unit": style.business_unit,
        "kind_rules": [
            {"kind": "cancellation", "when": [{"field": DOCUMENT_ID, "startswith": cancel}]},
            {"kind": "return", "when": [{"field": DOCUMENT_ID, "startswith": credit}]},
        ],
        "exclude": [
            {"reason": "freight", "when": [{"field": SOURCE_SKU, "matches": style.freight_code}]},
            {"reason": "fee", "when": [{"field": SOURCE_SKU, "matches": style.fee_code}]},
        ],
    }


def _table_source(
    name: str, table: str, columns: tuple[str, ...], date_formats: dict[str, str] | None = None
) -> dict[str, Any]:
    """A master-data csv whose columns already carry the canonical names."""
    source: dict[str, Any] = {
        "name": name,
        "table": table,
        "kind": "csv",
        "path": f"{name}.csv",
        "columns": {c: c for c in columns},
    }
    if date_formats:
        source["date_formats"] = date_formats
    return source


def synthetic_workspace_config(n_weeks: int, monthly: bool = False) -> dict[str, Any]:
    """The strata.yaml content for the generated files (`monthly`: the extracts as monthly
    files); paths relative to the yaml's folder."""
    window = min(52, n_weeks)
    return {
        "name": "synthetic-company",
        "root": ".",
        "paths": {"data_dir": ".", "warehouse_dir": "warehouse", "mlruns_dir": "mlruns"},
        "calendar": {
            "bucket": "week",
            "window_periods": window,
            "recent_periods": min(13, window // 2),
        },
        "harmonisation": {
            "reporting_currency": REPORTING_CURRENCY,
            "base_uom": BASE_UOM,
            "sku_xref": "sku_xref",
            "uom": "uom",
            "fx": "fx",
        },
        "sources": [
            _demand_source(EU_STYLE, monthly),
            _demand_source(US_STYLE, monthly),
            {
                **_table_source("products", "products", PRODUCT_COLUMNS, {LAUNCH_DATE: _ISO}),
                "currency": REPORTING_CURRENCY,
            },
            _table_source(
                "supply",
                "supply",
                SUPPLY_COLUMNS,
                {ORDER_DATE: _ISO, PROMISED_DATE: _ISO, RECEIPT_DATE: _ISO},
            ),
            _table_source("inventory", "inventory", INVENTORY_COLUMNS, {DATE: _ISO}),
            _table_source("sku_xref", "sku_xref", XREF_COLUMNS),
            _table_source("uom", "uom", UOM_COLUMNS),
            _table_source("fx", "fx", FX_COLUMNS, {MONTH: "%Y-%m"}),
        ],
    }
