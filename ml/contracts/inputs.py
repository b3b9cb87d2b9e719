"""Input table contracts: every canonical table's columns, types and row rules (pandera).

Two kinds of declaration live here:

- ``CONTRACTS``: the pandera schema of each table a stage writes or reads (demand_lines, demand,
  products, supply, inventory, the harmonisation references sku_xref, uom, fx, and quarantine).
  ``contract_failures`` checks a frame lazily and returns one row per failing row and field.
- ``SOURCE_FIELDS``: what a source feeding a table may map (canonical field -> value type) and
  what it must provide. Inputs such as ``unit_price`` or ``currency`` are not output columns:
  harmonisation turns them into revenue in the reporting currency.

Dtypes follow pandas 3 defaults: text is the ``str`` dtype (missing = NaN), dates are
``datetime64[us]`` (naive, local time of the source), measures are ``float64``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ml import columns as C
from ml.config import RowKind
from ml.contracts.base import column as _col
from ml.contracts.base import key as _key

__all__ = [
    "CONTRACTS",
    "KINDS",
    "QUARANTINE_COLUMNS",
    "SOURCE_FIELDS",
    "FieldType",
    "SourceFields",
    "contract_failures",
    "empty_table",
    "table_dtypes",
]

FieldType = Literal["id", "text", "number", "date", "flag"]
KINDS: tuple[str, ...] = get_args(RowKind)
# Row rules spanning several columns. pandera reports such a failure under every column of the
# row; the quarantine keeps it once, under the field named here.
ROW_RULE_FIELDS: dict[str, str] = {
    "sale_qty_positive": C.QTY,
    "sale_revenue_not_negative": C.REVENUE,
}


def _row_rule(name: str, fn) -> pa.Check:
    return pa.Check(fn, name=name, error=name)


_PROVENANCE = {
    C.SOURCE: _key("text"),
    C.SOURCE_FILE: _key("text"),
    C.SOURCE_ROW: _col("count", pa.Check.ge(1), nullable=False),
}

DEMAND_LINES = pa.DataFrameSchema(
    {
        C.SKU_ID: _key(),
        C.LOCATION_ID: _key(),
        C.DATE: _key("date"),
        C.DOCUMENT_ID: _col("id"),
        C.CUSTOMER_ID: _col("id"),
        C.COUNTRY: _col("text"),
        C.REGION: _col("text"),
        C.BUSINESS_UNIT: _col("text"),
        C.QTY: _col("number", nullable=False),
        C.REVENUE: _col("number", nullable=False),
        C.COST: _col("number"),
        C.PROMO_FLAG: _col("flag", nullable=False),
        C.KIND: _col("text", pa.Check.isin(KINDS, error="kind_known"), nullable=False),
        **_PROVENANCE,
    },
    checks=[
        _row_rule("sale_qty_positive", lambda d: (d[C.KIND] != "sale") | (d[C.QTY] > 0)),
        _row_rule(
            "sale_revenue_not_negative", lambda d: (d[C.KIND] != "sale") | (d[C.REVENUE] >= 0)
        ),
    ],
    strict=True,
    ordered=True,
    name="demand_lines",
)

DEMAND = pa.DataFrameSchema(
    {
        C.SKU_ID: _key(),
        C.LOCATION_ID: _key(),
        C.PERIOD_START: _key("date"),
        C.KIND: _col("text", pa.Check.isin(KINDS, error="kind_known"), nullable=False),
        C.QTY: _col("number", nullable=False),
        C.REVENUE: _col("number", nullable=False),
        C.COST: _col("number"),
        C.PROMO_QTY: _col("number", nullable=False),
        C.N_LINES: _col("count", pa.Check.ge(1), nullable=False),
    },
    unique=[C.SKU_ID, C.LOCATION_ID, C.PERIOD_START, C.KIND],
    report_duplicates="exclude_first",
    strict=True,
    ordered=True,
    name="demand",
)

PRODUCTS = pa.DataFrameSchema(
    {
        C.SKU_ID: _col("id", nullable=False, unique=True),
        C.DESCRIPTION: _col("text"),
        C.FAMILY: _key("text"),
        C.CATEGORY: _key("text"),
        C.REGION: _col("text"),
        C.BUSINESS_UNIT: _col("text"),
        C.UNIT_COST: _col("number", pa.Check.ge(0)),
        C.UNIT_PRICE: _col("number", pa.Check.ge(0)),
        C.UOM: _key("text"),
        C.SHELF_LIFE_DAYS: _col("number", pa.Check.gt(0)),
        C.LAUNCH_DATE: _col("date"),
        C.SUPPLIER_ID: _col("id"),
        C.MOQ: _col("number", pa.Check.ge(0)),
        C.PACK_SIZE: _col("number", pa.Check.gt(0)),
    },
    strict=True,
    ordered=True,
    name="products",
)

SUPPLY = pa.DataFrameSchema(
    {
        C.SKU_ID: _key(),
        C.SUPPLIER_ID: _key(),
        C.PO_ID: _col("id"),
        C.ORDER_DATE: _col("date"),
        C.PROMISED_DATE: _col("date"),
        C.RECEIPT_DATE: _col("date"),
        C.QTY_ORDERED: _col("number", pa.Check.ge(0)),
        C.QTY_RECEIVED: _col("number", pa.Check.ge(0)),
        C.SUPPLIER_COUNTRY: _col("text"),
        C.DESTINATION_COUNTRY: _col("text"),
    },
    strict=True,
    ordered=True,
    name="supply",
)

INVENTORY = pa.DataFrameSchema(
    {
        C.SKU_ID: _key(),
        C.LOCATION_ID: _key(),
        C.DATE: _key("date"),
        C.ON_HAND: _col("number", nullable=False),
    },
    unique=[C.SKU_ID, C.LOCATION_ID, C.DATE],
    report_duplicates="exclude_first",
    strict=True,
    ordered=True,
    name="inventory",
)

SKU_XREF = pa.DataFrameSchema(
    {C.REGION: _col("text"), C.SOURCE_SKU: _key(), C.SKU_ID: _key()},
    unique=[C.REGION, C.SOURCE_SKU],
    report_duplicates="exclude_first",
    strict=True,
    ordered=True,
    name="sku_xref",
)

UOM = pa.DataFrameSchema(
    {
        C.SKU_ID: _key(),
        C.UOM: _key("text"),
        C.FACTOR_TO_BASE: _col("number", pa.Check.gt(0), nullable=False),
    },
    unique=[C.SKU_ID, C.UOM],
    report_duplicates="exclude_first",
    strict=True,
    ordered=True,
    name="uom",
)

FX = pa.DataFrameSchema(
    {
        C.MONTH: _key("date"),
        C.CURRENCY: _key("text"),
        C.RATE_TO_REPORTING: _col("number", pa.Check.gt(0), nullable=False),
    },
    unique=[C.MONTH, C.CURRENCY],
    report_duplicates="exclude_first",
    strict=True,
    ordered=True,
    name="fx",
)

QUARANTINE_COLUMNS = (
    C.TABLE,
    C.SOURCE,
    C.SOURCE_FILE,
    C.SOURCE_ROW,
    C.FIELD,
    C.VALUE,
    C.REASON,
)
QUARANTINE = pa.DataFrameSchema(
    {
        C.TABLE: _key("text"),
        C.SOURCE: _key("text"),
        C.SOURCE_FILE: _key("text"),
        C.SOURCE_ROW: _col("count", pa.Check.ge(1), nullable=False),
        C.FIELD: _key("text"),
        C.VALUE: _key("text"),
        C.REASON: _key("text"),
    },
    strict=True,
    ordered=True,
    name="quarantine",
)

CONTRACTS: dict[str, pa.DataFrameSchema] = {
    "demand_lines": DEMAND_LINES,
    "demand": DEMAND,
    "products": PRODUCTS,
    "supply": SUPPLY,
    "inventory": INVENTORY,
    "sku_xref": SKU_XREF,
    "uom": UOM,
    "fx": FX,
    "quarantine": QUARANTINE,
}


@dataclass(frozen=True)
class SourceFields:
    """What a source feeding one table may map, and what it must provide."""

    types: dict[str, FieldType]
    required: tuple[str, ...]
    one_of: tuple[tuple[str, ...], ...] = ()  # each group: at least one must be provided


# A source gives global codes (sku_id) or its own (source_sku), which the cross-reference maps.
_PRODUCT_CODE = (C.SKU_ID, C.SOURCE_SKU)
_PRODUCT_TEXT = (C.DESCRIPTION, C.FAMILY, C.CATEGORY, C.REGION, C.BUSINESS_UNIT, C.UOM, C.CURRENCY)

SOURCE_FIELDS: dict[str, SourceFields] = {
    "demand": SourceFields(
        types={
            C.SKU_ID: "id",
            C.SOURCE_SKU: "id",
            C.LOCATION_ID: "id",
            C.DATE: "date",
            C.DOCUMENT_ID: "id",
            C.CUSTOMER_ID: "id",
            C.COUNTRY: "text",
            C.REGION: "text",
            C.BUSINESS_UNIT: "text",
            C.DESCRIPTION: "text",  # feeds the product master fallback
            C.QTY: "number",
            C.UNIT_PRICE: "number",  # revenue = qty * unit_price when revenue is not mapped
            C.REVENUE: "number",
            C.UNIT_COST: "number",  # cost = qty * unit_cost when cost is not mapped
            C.COST: "number",
            C.PROMO_FLAG: "flag",
            C.UOM: "text",
            C.CURRENCY: "text",
        },
        required=(C.LOCATION_ID, C.DATE, C.QTY),
        one_of=(_PRODUCT_CODE, (C.REVENUE, C.UNIT_PRICE)),
    ),
    "products": SourceFields(
        types={
            C.SKU_ID: "id",
            C.SOURCE_SKU: "id",
            C.SUPPLIER_ID: "id",
            **dict.fromkeys(_PRODUCT_TEXT, "text"),
            C.UNIT_COST: "number",
            C.UNIT_PRICE: "number",
            C.SHELF_LIFE_DAYS: "number",
            C.MOQ: "number",
            C.PACK_SIZE: "number",
            C.LAUNCH_DATE: "date",
        },
        required=(),
        one_of=(_PRODUCT_CODE,),
    ),
    "supply": SourceFields(
        types={
            C.SKU_ID: "id",
            C.SOURCE_SKU: "id",
            C.SUPPLIER_ID: "id",
            C.PO_ID: "id",
            C.ORDER_DATE: "date",
            C.PROMISED_DATE: "date",
            C.RECEIPT_DATE: "date",
            C.QTY_ORDERED: "number",
            C.QTY_RECEIVED: "number",
            C.SUPPLIER_COUNTRY: "text",
            C.DESTINATION_COUNTRY: "text",
            C.REGION: "text",  # only to look codes up in the sku cross-reference
            C.UOM: "text",
        },
        required=(C.SUPPLIER_ID,),
        one_of=(_PRODUCT_CODE,),
    ),
    "inventory": SourceFields(
        types={
            C.SKU_ID: "id",
            C.SOURCE_SKU: "id",
            C.LOCATION_ID: "id",
            C.DATE: "date",
            C.ON_HAND: "number",
            C.REGION: "text",
            C.UOM: "text",
        },
        required=(C.LOCATION_ID, C.DATE, C.ON_HAND),
        one_of=(_PRODUCT_CODE,),
    ),
    "sku_xref": SourceFields(
        types={C.REGION: "text", C.SOURCE_SKU: "id", C.SKU_ID: "id"},
        required=(C.SOURCE_SKU, C.SKU_ID),
    ),
    "uom": SourceFields(
        types={C.SKU_ID: "id", C.UOM: "text", C.FACTOR_TO_BASE: "number"},
        required=(C.SKU_ID, C.UOM, C.FACTOR_TO_BASE),
    ),
    "fx": SourceFields(
        types={C.MONTH: "date", C.CURRENCY: "text", C.RATE_TO_REPORTING: "number"},
        required=(C.MONTH, C.CURRENCY, C.RATE_TO_REPORTING),
    ),
}


def table_dtypes(table: str) -> dict[str, str]:
    """Column -> pandas dtype of a table, in contract order."""
    return {name: col.metadata["dtype"] for name, col in CONTRACTS[table].columns.items()}


def empty_table(table: str) -> pd.DataFrame:
    """A frame with no rows and exactly the contract's columns and dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=d) for name, d in table_dtypes(table).items()})


def _reason(check: str) -> str:
    if check == "not_nullable":
        return "missing_value"
    if check in ("field_uniqueness", "multiple_fields_uniqueness"):
        return "duplicate_key"
    return f"contract:{check}"


def contract_failures(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Every failing (row, field) of `frame` under the table's contract, checked lazily.

    Returns columns ``index`` (the frame's index label of the row), ``field``, ``value``
    (the failing value as text) and ``reason`` (``missing_value``, ``duplicate_key`` or
    ``contract:<check>``); empty when the frame passes. For a duplicate key the first row is
    kept and the later ones fail. A failure that names no row (a wrong dtype or a missing
    column) is a bug in the caller, not bad data, and raises TypeError.
    """
    try:
        CONTRACTS[table].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return pd.DataFrame(
            {"index": pd.Series(dtype="int64"), "field": [], "value": [], "reason": []}
        )
    structural = cases["index"].isna()
    if structural.any():
        shown = cases.loc[structural, ["column", "check", "failure_case"]].to_dict("records")
        raise TypeError(f"{table}: frame does not have the contract's columns/dtypes: {shown}")
    row_rule_field = cases["check"].map(ROW_RULE_FIELDS)
    keep = row_rule_field.isna() | (cases["column"] == row_rule_field)
    # a multi-column key fails under each key column; report it once, under the first
    key_dupe = cases["check"] == "multiple_fields_uniqueness"
    first_key = cases["column"] == (CONTRACTS[table].unique or [None])[0]
    keep &= ~key_dupe | first_key
    cases = cases[keep]
    values = cases["failure_case"].astype(object)
    return pd.DataFrame(
        {
            "index": cases["index"].to_numpy(),
            "field": cases["column"].astype("str").to_numpy(),
            "value": np.where(pd.isna(values), "", values.astype(str)),
            "reason": cases["check"].map(_reason).astype("str").to_numpy(),
        }
    ).reset_index(drop=True)
