"""Harmonisation: regional sources with other codes, units and currencies end in one table."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.ingest import ingest
from ml.config import Workspace

XREF = "region,source_sku,sku_id\nEU,A-1,G1\nEU,A-2,G2\nEU,A-3,G3\nUS,US-1,G1\nUS,US-2,G2\n"
UOM = "sku_id,uom,factor_to_base\nG1,CASE,12\nG2,CASE,6\n"
FX = "month,currency,rate_to_reporting\n2024-01,EUR,0.85\n2024-02,EUR,0.86\n2024-01,USD,0.80\n2024-02,USD,0.79\n"
EU = (
    "Artikel;Menge;Datum;Umsatz;Lager\n"
    "A-1;2;03.01.2024;100;DE1\n"  # G1: 2 cases = 24 EA, 100 EUR x 0.85 = 85 GBP
    "A-2;1;15.02.2024;50;DE1\n"  # G2: 1 case = 6 EA, 50 EUR x 0.86 = 43 GBP
    "A-9;1;16.02.2024;10;DE1\n"  # unknown_sku
    "A-1;1;05.03.2024;40;DE1\n"  # missing_fx_rate (no EUR rate for March)
    "A-3;1;06.02.2024;10;DE1\n"  # unknown_uom (no CASE factor for G3)
)
US = (
    "item,units,ship_date,unit_price_usd,site\n"
    "US-1,10,2024-01-10,2.0,NY\n"  # G1: 10 EA, 10 x 2 USD x 0.80 = 16 GBP
    "US-2,5,2024-02-20,4.0,NY\n"  # G2: 5 EA, 5 x 4 USD x 0.79 = 15.8 GBP
    "A-1,1,2024-01-10,1.0,NY\n"  # unknown_sku: A-1 is an EU code
)


def reference(name: str, table: str, columns: list[str]) -> dict:
    return {
        "name": name,
        "table": table,
        "kind": "csv",
        "path": f"{name}.csv",
        "columns": {c: c for c in columns},
    }


EU_SOURCE = {
    "name": "eu",
    "table": "demand",
    "kind": "csv",
    "path": "eu.csv",
    "delimiter": ";",
    "columns": {
        "source_sku": "Artikel",
        "qty": "Menge",
        "date": "Datum",
        "revenue": "Umsatz",
        "location_id": "Lager",
    },
    "date_formats": {"date": "%d.%m.%Y"},
    "region": "EU",
    "currency": "EUR",
    "uom": "CASE",
}
US_SOURCE = {
    "name": "us",
    "table": "demand",
    "kind": "csv",
    "path": "us.csv",
    "columns": {
        "source_sku": "item",
        "qty": "units",
        "date": "ship_date",
        "unit_price": "unit_price_usd",
        "location_id": "site",
    },
    "region": "US",
    "currency": "USD",
}
REFERENCES = [
    reference("xref", "sku_xref", ["region", "source_sku", "sku_id"]),
    reference("units", "uom", ["sku_id", "uom", "factor_to_base"]),
    reference("rates", "fx", ["month", "currency", "rate_to_reporting"]),
]
HARMONISATION = {
    "reporting_currency": "GBP",
    "base_uom": "EA",
    "sku_xref": "xref",
    "uom": "units",
    "fx": "rates",
}


@pytest.fixture
def regional(tmp_path: Path) -> Workspace:
    for name, text in (("xref", XREF), ("units", UOM), ("rates", FX), ("eu", EU), ("us", US)):
        (tmp_path / f"{name}.csv").write_text(text)
    return Workspace.model_validate(
        {
            "name": "r",
            "root": tmp_path,
            "harmonisation": HARMONISATION,
            "sources": [EU_SOURCE, US_SOURCE, *REFERENCES],
        }
    )


def test_two_regional_sources_end_in_global_codes_base_units_and_reporting_currency(regional):
    lines = ingest(regional).tables["demand_lines"]
    totals = lines.groupby("sku_id")[["qty", "revenue"]].sum()
    assert totals["qty"].to_dict() == {"G1": 34.0, "G2": 11.0}
    assert totals["revenue"].round(6).to_dict() == {"G1": 101.0, "G2": 58.8}
    assert lines["region"].tolist() == ["EU", "EU", "US", "US"]
    assert lines["location_id"].tolist() == ["DE1", "DE1", "NY", "NY"]


def test_rows_that_cannot_be_harmonised_are_quarantined_with_reason(regional):
    result = ingest(regional)
    q = result.quarantine
    assert q[["source", "source_row", "field", "value", "reason"]].values.tolist() == [
        ["eu", 3, "source_sku", "A-9 (region EU)", "unknown_sku"],
        ["eu", 5, "uom", "CASE for G3", "unknown_uom"],
        ["eu", 4, "currency", "EUR 2024-03", "missing_fx_rate"],
        ["us", 3, "source_sku", "A-1 (region US)", "unknown_sku"],
    ]
    report = {e["name"]: e for e in result.report}
    assert {
        k: (v["rows_in"], v["rows_accepted"], v["rows_quarantined"]) for k, v in report.items()
    } == {
        "eu": (5, 2, 3),
        "us": (3, 2, 1),
        "xref": (5, 5, 0),
        "units": (2, 2, 0),
        "rates": (4, 4, 0),
        "product_master_fallback": (0, 0, 0),
    }
    assert report["eu"]["quarantined_by_reason"] == {
        "unknown_sku": 1,
        "unknown_uom": 1,
        "missing_fx_rate": 1,
    }


def test_regional_product_masters_merge_first_source_first(regional, tmp_path):
    (tmp_path / "us_products.csv").write_text("item,fam,price\nUS-1,mugs,3.0\n")
    (tmp_path / "eu_products.csv").write_text("code,fam,price\nA-1,Tassen,30\nA-2,Teller,60\n")
    us = {
        "name": "us_products",
        "table": "products",
        "kind": "csv",
        "path": "us_products.csv",
        "columns": {"source_sku": "item", "family": "fam", "unit_price": "price"},
        "region": "US",
        "currency": "USD",
    }
    eu = {
        **us,
        "name": "eu_products",
        "path": "eu_products.csv",
        "columns": {"source_sku": "code", "family": "fam", "unit_price": "price"},
        "region": "EU",
        "currency": "EUR",
        "uom": "CASE",
    }
    ws = regional.model_copy(
        update={
            "sources": [
                *regional.sources,
                *(type(regional.sources[0]).model_validate(s) for s in (us, eu)),
            ]
        }
    )
    result = ingest(ws)
    products = result.tables["products"].set_index("sku_id")
    # latest rates: USD 0.79, EUR 0.86; EU prices are per case of 6 (G2)
    assert products["unit_price"].round(6).to_dict() == {"G1": round(3.0 * 0.79, 6), "G2": 8.6}
    assert products["family"].to_dict() == {"G1": "mugs", "G2": "Teller"}
    dupes = result.quarantine[result.quarantine["source"] == "eu_products"]
    assert dupes[["source_row", "value", "reason"]].values.tolist() == [
        [1, "G1 (already in source 'us_products')", "duplicate_key"]
    ]


def test_products_read_from_order_lines_collapse_to_one_row_per_sku(tmp_path):
    (tmp_path / "lines.csv").write_text(
        "item,group,price,vendor,delivered,pack\n"
        "X,ARV,1.0,V1,02-Jan-20,30\n"
        "X,ARV,2.0,V2,15-Jan-19,30\n"
        "X,ARV,10.0,V1,20-Mar-21,30\n"
        "Y,HRDT,5.0,RDC,01-Feb-20,100\n"
    )
    source = {
        "name": "p",
        "table": "products",
        "kind": "csv",
        "path": "lines.csv",
        "collapse": True,
        "sku_case": "as_is",
        "columns": {
            "sku_id": "item",
            "category": "group",
            "unit_price": "price",
            "supplier_id": "vendor",
            "launch_date": "delivered",
            "pack_size": "pack",
        },
        "date_formats": {"launch_date": "%d-%b-%y"},
        "na_values": ["RDC"],
    }
    ws = Workspace.model_validate({"name": "c", "root": tmp_path, "sources": [source]})
    result = ingest(ws)
    products = result.tables["products"].set_index("sku_id")
    assert products["unit_price"].to_dict() == {"X": 2.0, "Y": 5.0}
    assert products["supplier_id"].fillna("none").to_dict() == {"X": "V1", "Y": "none"}
    assert products["launch_date"].dt.strftime("%Y-%m-%d").to_dict() == {
        "X": "2019-01-15",
        "Y": "2020-02-01",
    }
    assert products["family"].to_dict() == {"X": "unknown", "Y": "unknown"}
    assert result.report[0]["rows_accepted"] == 4 and result.report[0]["rows_out"] == 2


def test_extract_and_recode_turn_free_text_into_a_country(tmp_path):
    (tmp_path / "s.csv").write_text(
        'item,vendor,site\nX,V,"Cipla, Goa, India"\nX,V,Hetero Unit III Hyderabad IN\nX,V,Roche Basel\n'
    )
    source = {
        "name": "s",
        "table": "supply",
        "kind": "csv",
        "path": "s.csv",
        "columns": {"sku_id": "item", "supplier_id": "vendor", "supplier_country": "site"},
        "extract": {"supplier_country": r"(?i)(?:^|[\s,(])(india|in)[\s.)]*$"},
        "recode": {"supplier_country": {"in": "India", "india": "India"}},
    }
    ws = Workspace.model_validate({"name": "e", "root": tmp_path, "sources": [source]})
    supply = ingest(ws).tables["supply"]
    assert supply["supplier_country"].fillna("-").tolist() == ["India", "India", "-"]
