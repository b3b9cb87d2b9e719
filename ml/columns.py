"""Column names of the canonical tables, defined once and imported everywhere."""

__all__ = [
    "AS_OF",
    "BUSINESS_UNIT",
    "CATEGORY",
    "COST",
    "COUNTRY",
    "CURRENCY",
    "CUSTOMER_ID",
    "DATE",
    "DESCRIPTION",
    "DESTINATION_COUNTRY",
    "DOCUMENT_ID",
    "FACTOR_TO_BASE",
    "FAMILY",
    "FIELD",
    "KIND",
    "LAUNCH_DATE",
    "LOCATION_ID",
    "MONTH",
    "MOQ",
    "N_LINES",
    "ON_HAND",
    "ORDER_DATE",
    "PACK_SIZE",
    "PERIOD_START",
    "PO_ID",
    "PROMISED_DATE",
    "PROMO_FLAG",
    "PROMO_QTY",
    "QTY",
    "QTY_ORDERED",
    "QTY_RECEIVED",
    "RATE_TO_REPORTING",
    "REASON",
    "RECEIPT_DATE",
    "REGION",
    "REVENUE",
    "SHELF_LIFE_DAYS",
    "SKU_ID",
    "SOURCE",
    "SOURCE_FILE",
    "SOURCE_ROW",
    "SOURCE_SKU",
    "SUPPLIER_COUNTRY",
    "SUPPLIER_ID",
    "TABLE",
    "UNIT_COST",
    "UNIT_PRICE",
    "UOM",
    "VALUE",
]

# keys
SKU_ID = "sku_id"
LOCATION_ID = "location_id"
AS_OF = "as_of"
SUPPLIER_ID = "supplier_id"
CUSTOMER_ID = "customer_id"
DOCUMENT_ID = "document_id"  # invoice / order number in the source
SOURCE_SKU = "source_sku"  # the product code as the source spells it, before the cross-reference

# time
DATE = "date"
PERIOD_START = "period_start"

# measures
QTY = "qty"
REVENUE = "revenue"
COST = "cost"
PROMO_FLAG = "promo_flag"
KIND = "kind"  # sale | cancellation | return | write_off | adjustment

# hierarchy and geography
FAMILY = "family"
CATEGORY = "category"
REGION = "region"
BUSINESS_UNIT = "business_unit"
COUNTRY = "country"

# provenance
SOURCE = "source"
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"

# product master
DESCRIPTION = "description"
UNIT_PRICE = "unit_price"  # reporting currency per base unit
UNIT_COST = "unit_cost"  # reporting currency per base unit
UOM = "uom"
SHELF_LIFE_DAYS = "shelf_life_days"
LAUNCH_DATE = "launch_date"
MOQ = "moq"
PACK_SIZE = "pack_size"

# supply events
PO_ID = "po_id"
ORDER_DATE = "order_date"
PROMISED_DATE = "promised_date"
RECEIPT_DATE = "receipt_date"
QTY_ORDERED = "qty_ordered"
QTY_RECEIVED = "qty_received"
SUPPLIER_COUNTRY = "supplier_country"
DESTINATION_COUNTRY = "destination_country"

# inventory
ON_HAND = "on_hand"

# bucketed demand
PROMO_QTY = "promo_qty"
N_LINES = "n_lines"

# harmonisation reference tables (currency conversion, units)
CURRENCY = "currency"
MONTH = "month"
RATE_TO_REPORTING = "rate_to_reporting"
FACTOR_TO_BASE = "factor_to_base"

# quarantine
TABLE = "table"
FIELD = "field"
VALUE = "value"
REASON = "reason"
