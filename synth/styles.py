"""How each regional ERP of the synthetic company spells its extract: the EU and US styles."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EU_STYLE", "US_STYLE", "RegionStyle"]


@dataclass(frozen=True)
class RegionStyle:
    """How one regional ERP spells its extract: column names, prefixes, codes, formats."""

    source: str
    # document_id, date, customer_id, state (None: no such column), country, source_sku, qty,
    # unit_price
    columns: tuple[str, str, str, str | None, str, str, str, str]
    doc_prefix: tuple[str, str, str]  # sale, cancellation, return
    doc_base: int
    freight_code: str
    fee_code: str
    unknown_codes: tuple[str, ...]
    bad_dates: tuple[str, ...]
    bad_qtys: tuple[str, ...] | None  # None: qty is numeric in the file, a bad qty is missing
    date_format: str
    lowercase_codes: bool
    file_name: str
    delimiter: str | None  # csv delimiter; None: a parquet file
    customer_prefix: str
    geography: tuple[tuple[str | None, str, float], ...]  # (state, country, share of customers)
    uom: str
    currency: str
    region: str
    business_unit: str
    location_id: str


EU_STYLE = RegionStyle(
    source="erp_eu",
    columns=("Belegnr", "Datum", "Kunde", None, "Land", "Artikel", "Menge", "Preis"),
    doc_prefix=("", "ST", "GS"),  # Storno = cancellation, Gutschrift = credit note (return)
    doc_base=10_000_000,
    freight_code="FRACHT",
    fee_code="GEBUEHR",
    unknown_codes=("9900001", "9900002", "9900003"),
    bad_dates=("31.02.2026", "2026-03-14", "32.13.2025", "00.00.0000"),
    bad_qtys=("zwölf", "1O", "12 KAR", "ca. 5"),
    date_format="%d.%m.%Y",
    lowercase_codes=False,
    file_name="erp_eu.csv",
    delimiter=";",
    customer_prefix="K",
    geography=(
        (None, "DE", 0.30),
        (None, "FR", 0.18),
        (None, "NL", 0.12),
        (None, "IT", 0.10),
        (None, "ES", 0.10),
        (None, "BE", 0.06),
        (None, "AT", 0.05),
        (None, "PL", 0.05),
        (None, "SE", 0.04),
    ),
    uom="CS",
    currency="EUR",
    region="EU",
    business_unit="Europe",
    location_id="DC-EU",
)
US_STYLE = RegionStyle(
    source="erp_us",
    columns=(
        "order_no",
        "order_date",
        "customer",
        "ship_state",
        "ship_country",
        "item_code",
        "qty_each",
        "unit_price_usd",
    ),
    doc_prefix=("SO", "CX", "RMA"),
    doc_base=5_000_000,
    freight_code="FREIGHT",
    fee_code="FEE-HANDLING",
    unknown_codes=("IT-099001", "IT-099002", "IT-099003"),
    bad_dates=("2026-02-30", "2025-13-05", "12/31/2025", "0000-00-00"),
    bad_qtys=None,
    date_format="%Y-%m-%d",
    lowercase_codes=True,
    file_name="erp_us.parquet",
    delimiter=None,
    customer_prefix="C",
    geography=(
        ("CA", "US", 0.1),
        ("TX", "US", 0.1),
        ("NY", "US", 0.1),
        ("FL", "US", 0.1),
        ("IL", "US", 0.1),
        ("PA", "US", 0.1),
        ("OH", "US", 0.1),
        ("GA", "US", 0.1),
        ("WA", "US", 0.1),
        ("ON", "CA", 0.05),
        ("BC", "CA", 0.05),
    ),
    uom="EA",
    currency="USD",
    region="US",
    business_unit="North America",
    location_id="DC-US",
)
