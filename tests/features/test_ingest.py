"""Ingest: quarantine accounting, kind rules and exclusions, bucketing, product master, writing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from features.ingest import TABLES, ingest, write_tables
from ml.config import Workspace
from ml.contracts import QUARANTINE_COLUMNS, table_dtypes

HEADER = "invoice,sku,desc,qty,when,price,customer\n"
# One row per situation; the comment is the outcome expected for that data row (1-based).
ROWS = [
    "1001,85123A,HEART HOLDER,6,2011-01-03 08:00:00,2.55,17850",  # 1 sale
    "1001,85123A,HEART HOLDER,6,2011-01-03 08:00:00,2.55,17850",  # 2 exact_duplicate of 1
    "C1002,85123a,HEART HOLDER,-2,2011-01-04 09:00:00,2.55,17850",  # 3 cancellation (upper-cased)
    "1003,POST,POSTAGE,1,2011-01-04 10:00:00,18.00,17850",  # 4 non_product_code
    "1004,22423,CAKE STAND,abc,2011-01-05 10:00:00,12.75,",  # 5 bad_number
    "1005,22423,CAKE STAND,3,05/01/2011,12.75,",  # 6 bad_date
    "1006,22423,,-5,2011-01-06 10:00:00,0,",  # 7 write_off
    "1007,22423,CAKE STAND,4,2011-02-01 10:00:00,12.75,12583",  # 8 out_of_range
    "1008,,CAKE STAND,4,2011-01-07 10:00:00,12.75,12583",  # 9 missing_value (sku)
    "1009,22423,CAKE STAND,2,2011-01-10 10:00:00,12.50,12583",  # 10 sale
    "A1010,B,ADJUST BAD DEBT,1,2011-01-11 10:00:00,-100.0,",  # 11 non_product_code
]

SOURCE = {
    "name": "shop",
    "table": "demand",
    "kind": "csv",
    "path": "shop.csv",
    "columns": {
        "document_id": "invoice",
        "sku_id": "sku",
        "description": "desc",
        "qty": "qty",
        "date": "when",
        "unit_price": "price",
        "customer_id": "customer",
    },
    "date_formats": {"date": "%Y-%m-%d %H:%M:%S"},
    "constants": {"location_id": "UK"},
    "currency": "GBP",
    "date_to": "2011-01-31",
    "kind_rules": [
        {"kind": "cancellation", "when": [{"field": "document_id", "startswith": "C"}]},
        {"kind": "adjustment", "when": [{"field": "document_id", "startswith": "A"}]},
        {
            "kind": "write_off",
            "when": [{"field": "qty", "lt": 0}, {"field": "unit_price", "eq": 0}],
        },
    ],
    "exclude": [
        {"reason": "non_product_code", "when": [{"field": "sku_id", "not_matches": r"\d{5}.*"}]}
    ],
}


def workspace(root: Path, sources: list[dict], **settings) -> Workspace:
    return Workspace.model_validate(
        {
            "name": "t",
            "root": root,
            "paths": {"warehouse_dir": "wh"},
            "sources": sources,
            **settings,
        }
    )


@pytest.fixture
def shop(tmp_path: Path) -> Workspace:
    (tmp_path / "shop.csv").write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    return workspace(
        tmp_path,
        [SOURCE],
        harmonisation={
            "reporting_currency": "GBP",
            "product_master": {"family_regex": r"^(\d{3})", "category_regex": r"^(\d{2})"},
        },
    )


def test_every_row_is_accepted_or_quarantined_with_its_reason(shop):
    result = ingest(shop)
    [entry, fallback] = result.report
    assert entry["rows_in"] == 11
    assert entry["rows_accepted"] == 4
    assert entry["rows_quarantined"] == 7
    assert entry["quarantined_by_reason"] == {
        "non_product_code": 2,
        "exact_duplicate": 1,
        "bad_number": 1,
        "bad_date": 1,
        "out_of_range": 1,
        "missing_value": 1,
    }
    assert entry["duplicates_removed"] == 1
    q = result.quarantine.sort_values("source_row")
    assert list(q.columns) == list(QUARANTINE_COLUMNS)
    assert q[["source_row", "field", "value", "reason"]].values.tolist() == [
        [2, "(row)", "same as row 1", "exact_duplicate"],
        [4, "sku_id", "POST", "non_product_code"],
        [5, "qty", "abc", "bad_number"],
        [6, "date", "05/01/2011", "bad_date"],
        [8, "date", "2011-02-01 10:00:00", "out_of_range"],
        [9, "sku_id", "", "missing_value"],
        [11, "sku_id", "B", "non_product_code"],
    ]
    assert set(q["table"]) == {"demand"} and set(q["source_file"]) == {"shop.csv"}
    assert fallback["name"] == "product_master_fallback" and fallback["rows_out"] == 2


def test_kinds_are_kept_as_their_own_lines_in_base_units_and_reporting_currency(shop):
    lines = ingest(shop).tables["demand_lines"]
    assert lines[["source_row", "sku_id", "kind", "qty", "revenue"]].values.tolist() == [
        [1, "85123A", "sale", 6.0, pytest.approx(15.3)],
        [3, "85123A", "cancellation", -2.0, pytest.approx(-5.1)],
        [7, "22423", "write_off", -5.0, 0.0],
        [10, "22423", "sale", 2.0, 25.0],
    ]
    assert lines["location_id"].tolist() == ["UK"] * 4
    assert lines["customer_id"].tolist()[:2] == ["17850", "17850"]
    assert lines["customer_id"].isna().tolist() == [False, False, True, False]
    assert lines.dtypes.astype(str).to_dict() == table_dtypes("demand_lines")


def test_demand_is_summed_per_iso_week_and_kind(shop):
    demand = ingest(shop).tables["demand"]
    got = demand.assign(week=demand["period_start"].dt.strftime("%Y-%m-%d"))
    assert got[["sku_id", "week", "kind", "qty", "revenue", "n_lines"]].values.tolist() == [
        ["22423", "2011-01-03", "write_off", -5.0, 0.0, 1],
        ["22423", "2011-01-10", "sale", 2.0, 25.0, 1],
        ["85123A", "2011-01-03", "cancellation", -2.0, pytest.approx(-5.1), 1],
        ["85123A", "2011-01-03", "sale", 6.0, pytest.approx(15.3), 1],
    ]
    assert demand["cost"].isna().all() and (demand["promo_qty"] == 0).all()


def test_monthly_buckets_start_on_the_first(shop):
    monthly = shop.model_copy(
        update={"calendar": shop.calendar.model_copy(update={"bucket": "month"})}
    )
    demand = ingest(monthly).tables["demand"]
    assert sorted(set(demand["period_start"].dt.strftime("%Y-%m-%d"))) == ["2011-01-01"]
    sales = demand[demand["kind"] == "sale"]
    assert sales.set_index("sku_id")["qty"].to_dict() == {"22423": 2.0, "85123A": 6.0}


def test_product_master_is_built_from_lines_when_no_products_source(shop):
    products = ingest(shop).tables["products"].set_index("sku_id")
    assert products.loc["85123A", ["family", "category", "description", "unit_price"]].tolist() == [
        "851",
        "85",
        "HEART HOLDER",
        2.55,
    ]
    assert products.loc["85123A", "launch_date"] == pd.Timestamp("2011-01-03")
    # 22423 sold once at 12.50 (its 12.75 rows were quarantined); the write-off has no price
    assert products.loc["22423", ["family", "category", "unit_price"]].tolist() == [
        "224",
        "22",
        12.5,
    ]
    assert products.loc["22423", "launch_date"] == pd.Timestamp("2011-01-10")
    assert products["uom"].tolist() == ["EA", "EA"]


def test_empty_tables_have_their_contract_columns(shop):
    tables = ingest(shop).tables
    assert set(tables) == set(TABLES)
    for name in ("supply", "inventory"):
        assert tables[name].empty
        assert tables[name].dtypes.astype(str).to_dict() == table_dtypes(name)


def test_overlap_of_two_files_is_dropped_by_date_range(tmp_path):
    old = "invoice,sku,qty,when,price\n1,10001,1,2010-11-29,1.0\n2,10001,2,2010-12-01,1.0\n"
    new = "invoice,sku,qty,when,price\n2,10001,2,2010-12-01,1.0\n3,10001,4,2010-12-08,1.0\n"
    (tmp_path / "old.csv").write_text(old)
    (tmp_path / "new.csv").write_text(new)
    columns = {
        "document_id": "invoice",
        "sku_id": "sku",
        "qty": "qty",
        "date": "when",
        "unit_price": "price",
    }
    common = {
        "table": "demand",
        "kind": "csv",
        "columns": columns,
        "constants": {"location_id": "UK"},
    }
    ws = workspace(
        tmp_path,
        [
            {**common, "name": "old", "path": "old.csv", "date_to": "2010-11-30"},
            {**common, "name": "new", "path": "new.csv"},
        ],
    )
    result = ingest(ws)
    by_name = {e["name"]: e for e in result.report}
    assert by_name["old"]["quarantined_by_reason"] == {"out_of_range": 1}
    assert by_name["new"]["rows_accepted"] == 2
    assert result.tables["demand_lines"]["qty"].sum() == 7.0


def test_sentinels_are_missing_in_optional_fields_and_quarantined_in_required(tmp_path):
    text = (
        "po,item,vendor,sent,due,got,n\n"
        "P1,X,V1,N/A - From RDC,2-Jun-06,3-Jun-06,5\n"
        "P2,X,V1,8/27/14,1-Sep-14,30-Aug-14,7\n"
        "P3,X,V1,8/27/14,1-Sep-14,Date Not Captured,7\n"
    )
    (tmp_path / "ship.csv").write_text(text)
    source = {
        "name": "ship",
        "table": "supply",
        "kind": "csv",
        "path": "ship.csv",
        "columns": {
            "po_id": "po",
            "sku_id": "item",
            "supplier_id": "vendor",
            "order_date": "sent",
            "promised_date": "due",
            "receipt_date": "got",
            "qty_ordered": "n",
        },
        "date_formats": {
            "order_date": "%m/%d/%y",
            "promised_date": "%d-%b-%y",
            "receipt_date": "%d-%b-%y",
        },
        "na_values": ["N/A - From RDC", "Date Not Captured"],
    }
    result = ingest(workspace(tmp_path, [source]))
    supply = result.tables["supply"]
    # receipt_date is optional too: the row stays, with the date missing (never a bad_date)
    assert supply["order_date"].isna().tolist() == [True, False, False]
    assert supply["order_date"].iloc[1] == pd.Timestamp("2014-08-27")
    assert supply["receipt_date"].isna().tolist() == [False, False, True]
    assert result.quarantine.empty

    required = {**source, "name": "ship2", "columns": {**source["columns"], "sku_id": "sent"}}
    result = ingest(workspace(tmp_path, [required]))
    assert result.quarantine[["source_row", "field", "value", "reason"]].values.tolist() == [
        [1, "sku_id", "N/A - From RDC", "missing_value"]
    ]


def test_ragged_rows_are_quarantined_and_later_rows_keep_their_numbers(tmp_path):
    text = "sku,qty,when,price\n10001,1,2011-01-03,1\n10001,2,2011-01-04,1,EXTRA\n10001,4,2011-01-05,1\n"
    (tmp_path / "r.csv").write_text(text)
    source = {
        "name": "r",
        "table": "demand",
        "kind": "csv",
        "path": "r.csv",
        "columns": {"sku_id": "sku", "qty": "qty", "date": "when", "unit_price": "price"},
        "constants": {"location_id": "UK"},
    }
    result = ingest(workspace(tmp_path, [source]))
    assert result.quarantine[["source_row", "value", "reason"]].values.tolist() == [
        [2, "10001,2,2011-01-04,1,EXTRA", "wrong_field_count"]
    ]
    assert result.tables["demand_lines"]["source_row"].tolist() == [1, 3]
    assert result.report[0]["rows_in"] == 3


def test_write_tables_writes_every_table_report_and_quarantine(shop):
    result = ingest(shop)
    folder = write_tables(shop, result)
    assert folder == shop.warehouse / "tables"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{t}.parquet" for t in TABLES] + ["quarantine.parquet", "ingest_report.json"]
    )
    back = pd.read_parquet(folder / "demand_lines.parquet")
    pd.testing.assert_frame_equal(back, result.tables["demand_lines"])
    assert len(pd.read_parquet(folder / "quarantine.parquet")) == 7
    report = json.loads((folder / "ingest_report.json").read_text())
    assert report[0]["rows_quarantined"] == 7


def test_a_failed_write_leaves_the_previous_tables_untouched(shop, monkeypatch):
    result = ingest(shop)
    folder = write_tables(shop, result)
    before = sorted(p.name for p in folder.iterdir())
    calls = {"n": 0}
    real = pd.DataFrame.to_parquet

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        write_tables(shop, result)
    assert sorted(p.name for p in folder.iterdir()) == before
    assert [p.name for p in shop.warehouse.iterdir()] == ["tables"]


REPO = Path(__file__).resolve().parents[2]


def test_a_slice_of_online_retail_matches_an_independent_count(tmp_path):
    """First 20,000 rows of the real file through the real config, against plain pandas."""
    from ml.config.files import load_workspace

    raw = pd.read_csv(
        REPO / "data/online_retail/online_retail.csv.gz",
        nrows=20_000,
        dtype=str,
        keep_default_na=False,
    )
    raw.to_csv(tmp_path / "slice.csv", index=False)
    real = load_workspace(REPO / "configs/strata.yaml")
    source = next(s for s in real.sources if s.name == "uk_2010_2011")
    ws = real.model_copy(
        update={
            "root": tmp_path,
            "sources": [source.model_copy(update={"path": Path("slice.csv")})],
        }
    )
    result = ingest(ws)

    qty, price = pd.to_numeric(raw["Quantity"]), pd.to_numeric(raw["UnitPrice"])
    duplicate = raw.duplicated()
    non_product = ~raw["StockCode"].str.upper().str.match(r"\d{5}")
    accepted = ~duplicate & ~non_product
    cancelled = raw["InvoiceNo"].str.startswith("C")
    written_off = ~cancelled & (qty < 0) & (price == 0)
    sale = accepted & ~cancelled & ~written_off

    [entry, _] = result.report
    assert entry["rows_in"] == 20_000
    assert entry["quarantined_by_reason"] == {
        "exact_duplicate": int(duplicate.sum()),
        "non_product_code": int((non_product & ~duplicate).sum()),
    }
    assert entry["rows_accepted"] == int(accepted.sum())
    lines = result.tables["demand_lines"]
    assert lines["kind"].value_counts().to_dict() == {
        k: v
        for k, v in {
            "sale": int(sale.sum()),
            "cancellation": int((accepted & cancelled).sum()),
            "write_off": int((accepted & written_off).sum()),
        }.items()
        if v
    }
    sales = lines[lines["kind"] == "sale"]
    assert sales["qty"].sum() == qty[sale].sum()
    assert sales["revenue"].sum() == pytest.approx((qty * price)[sale].sum(), rel=1e-12)
    demand = result.tables["demand"]
    assert demand["n_lines"].sum() == int(accepted.sum())
    assert len(result.tables["products"]) == raw["StockCode"].str.upper()[accepted].nunique()


def test_scms_workspace_reproduces_the_measured_facts_of_its_provenance():
    """data/scms_delivery/PROVENANCE.md: 10,324 lines, 184 products, lead times, lateness."""
    from ml.config.files import load_workspace

    result = ingest(load_workspace(REPO / "configs/scms.yaml"))
    assert [(e["name"], e["rows_in"], e["rows_accepted"]) for e in result.report] == [
        ("scms_deliveries", 10_324, 10_324),
        ("scms_shipments", 10_324, 10_324),
        ("scms_products", 10_324, 10_324),
    ]
    supply, products = result.tables["supply"], result.tables["products"]
    assert len(products) == 184 and products["sku_id"].is_unique
    raw = pd.read_csv(REPO / "data/scms_delivery/scms_delivery_history.csv.gz", dtype=str)
    per_product = raw.drop_duplicates("Item Description")["Product Group"].value_counts()
    assert products["category"].value_counts().to_dict() == per_product.to_dict()
    lead = (supply["receipt_date"] - supply["order_date"]).dt.days.dropna()
    assert len(lead) == 4_592  # Direct Drop lines with a PO date; sentinels became missing
    assert lead.quantile([0.25, 0.5, 0.75]).tolist() == [50.0, 92.0, 143.0]
    late = (supply["receipt_date"] - supply["promised_date"]).dt.days > 0
    assert round(100 * late.mean(), 2) == 11.49
    assert result.tables["demand"]["period_start"].dt.day.unique().tolist() == [1]
