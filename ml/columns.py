"""Column names of the canonical tables, defined once and imported everywhere."""

__all__ = [
    "AS_OF",
    "BUSINESS_UNIT",
    "CATEGORY",
    "COST",
    "COUNTRY",
    "CUSTOMER_ID",
    "DATE",
    "DOCUMENT_ID",
    "FAMILY",
    "KIND",
    "LOCATION_ID",
    "PERIOD_START",
    "PROMO_FLAG",
    "QTY",
    "REGION",
    "REVENUE",
    "SKU_ID",
    "SOURCE",
    "SOURCE_FILE",
    "SOURCE_ROW",
    "SOURCE_SKU",
    "SUPPLIER_ID",
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
