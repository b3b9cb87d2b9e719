"""Connectors: csv, parquet, SQLite and DuckDB sources, and every whole-source failure's message."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from features.ingest import ingest
from ml.config import Workspace
from ml.errors import StrataError

COLUMNS = {"sku_id": "sku", "qty": "qty", "date": "day", "unit_price": "price"}
CSV = "sku,qty,day,price\n10001,2,2024-01-02,1.5\n10002,3,2024-01-09,2.0\n"


def source(**overrides) -> dict:
    return {
        "name": "s",
        "table": "demand",
        "kind": "csv",
        "path": "s.csv",
        "columns": COLUMNS,
        "constants": {"location_id": "L1"},
        **overrides,
    }


def workspace(root: Path, *sources: dict, **settings) -> Workspace:
    return Workspace.model_validate(
        {"name": "t", "root": root, "sources": list(sources) or [source()], **settings}
    )


def totals(ws: Workspace) -> tuple[float, float, list[int]]:
    lines = ingest(ws).tables["demand_lines"]
    return lines["qty"].sum(), lines["revenue"].sum(), lines["source_row"].tolist()


def error_of(ws: Workspace) -> str:
    with pytest.raises(StrataError) as info:
        ingest(ws)
    return str(info.value)


def test_gzipped_csv_with_bom_reads_like_plain_csv(tmp_path):
    (tmp_path / "s.csv.gz").write_bytes(gzip.compress(("\ufeff" + CSV).encode("utf-8")))
    assert totals(workspace(tmp_path, source(path="s.csv.gz"))) == (5.0, 9.0, [1, 2])


def test_latin1_file_reads_with_its_encoding(tmp_path):
    (tmp_path / "s.csv").write_bytes(
        "sku,qty,day,price,note\n10001,2,2024-01-02,1.5,caf\xe9\n".encode("latin-1")
    )
    assert totals(workspace(tmp_path, source(encoding="latin-1"))) == (2.0, 3.0, [1])


def test_semicolon_delimited_file_reads_with_its_delimiter(tmp_path):
    (tmp_path / "s.csv").write_text(CSV.replace(",", ";"))
    assert totals(workspace(tmp_path, source(delimiter=";"))) == (5.0, 9.0, [1, 2])


def test_parquet_keeps_stored_types(tmp_path):
    frame = pd.DataFrame(
        {
            "sku": [10001, 10002],  # numeric codes become text ids
            "qty": [2, 3],
            "day": pd.to_datetime(["2024-01-02", "2024-01-09"]),
            "price": [1.5, 2.0],
        }
    )
    frame.to_parquet(tmp_path / "s.parquet")
    ws = workspace(tmp_path, source(kind="parquet", path="s.parquet"))
    lines = ingest(ws).tables["demand_lines"]
    assert lines["sku_id"].tolist() == ["10001", "10002"]
    assert lines["revenue"].tolist() == [3.0, 6.0]


def test_sqlite_table_and_query(tmp_path):
    with sqlite3.connect(tmp_path / "erp.db") as conn:
        pd.read_csv(pd.io.common.StringIO(CSV)).to_sql("sales", conn, index=False)
    by_table = source(kind="sql", path=None, url="sqlite:///erp.db", sql_table="sales")
    by_query = source(
        name="q",
        kind="sql",
        path=None,
        url=f"sqlite:///{tmp_path / 'erp.db'}",
        query="SELECT * FROM sales WHERE qty > 2",
    )
    result = ingest(workspace(tmp_path, by_table, by_query))
    lines = result.tables["demand_lines"]
    assert lines.groupby("source")["qty"].sum().to_dict() == {"q": 3.0, "s": 5.0}
    assert result.report[0]["path"] == "sqlite:///erp.db#sales"
    assert len(result.report[0]["sha256"]) == 64


def test_duckdb_table(tmp_path):
    import duckdb

    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute(
        "CREATE TABLE sales AS SELECT * FROM (VALUES ('10001', 2, DATE '2024-01-02', 1.5), "
        "('10002', 3, DATE '2024-01-09', 2.0)) t(sku, qty, day, price)"
    )
    con.close()
    ws = workspace(
        tmp_path, source(kind="sql", path=None, url="duckdb:///wh.duckdb", sql_table="sales")
    )
    assert totals(ws) == (5.0, 9.0, [1, 2])


# --- whole-source failures: one message naming source, file and fix ---


def test_missing_file(tmp_path):
    message = error_of(workspace(tmp_path))
    assert "source 's' (sources[0] in the workspace config): file s.csv does not exist" in message
    assert "fix 'path'" in message


def test_empty_file(tmp_path):
    (tmp_path / "s.csv").write_bytes(b"")
    assert "file s.csv is empty (0 bytes)" in error_of(workspace(tmp_path))


def test_header_without_rows(tmp_path):
    (tmp_path / "s.csv").write_text("sku,qty,day,price\n")
    assert "file s.csv has a header but no data rows" in error_of(workspace(tmp_path))


def test_bad_encoding_names_byte_line_and_fix(tmp_path):
    (tmp_path / "s.csv").write_bytes(
        b"sku,qty,day,price\n10001,2,2024-01-02,1.5\n1\xe9,2,2024-01-02,1\n"
    )
    message = error_of(workspace(tmp_path))
    assert "file s.csv is not valid utf-8 at byte 42 (line 3)" in message
    assert "encoding: latin-1" in message


def test_wrong_delimiter_suggests_the_right_one(tmp_path):
    (tmp_path / "s.csv").write_text(CSV.replace(",", ";"))
    message = error_of(workspace(tmp_path))
    assert "has a single column 'sku;qty;day;price' with delimiter ','" in message
    assert "set delimiter: ';'" in message


def test_missing_mapped_column_suggests_a_close_name(tmp_path):
    (tmp_path / "s.csv").write_text(CSV.replace("price", "prices"))
    message = error_of(workspace(tmp_path))
    assert (
        "file s.csv has no column for columns.unit_price: 'price' (did you mean 'prices'?)"
        in message
    )
    assert "columns found: 'sku', 'qty', 'day', 'prices'" in message


def test_sql_failures_name_the_table_and_the_fix(tmp_path):
    sqlite3.connect(tmp_path / "erp.db").close()
    ws = workspace(
        tmp_path, source(kind="sql", path=None, url="sqlite:///erp.db", sql_table="nope")
    )
    message = error_of(ws)
    assert "table nope on sqlite:///erp.db failed: no such table: nope; fix 'sql_table'" in message
    ws = workspace(
        tmp_path, source(kind="sql", path=None, url="sqlite:///missing.db", sql_table="t")
    )
    assert "database file" in error_of(ws) and "missing.db does not exist" in error_of(ws)


def test_problems_of_all_sources_are_reported_together(tmp_path):
    ws = workspace(
        tmp_path,
        source(name="a", path="a.csv"),
        source(name="b", path="b.csv", columns={**COLUMNS, "colour": "c"}),
    )
    message = error_of(ws)
    assert message.startswith("3 problem(s) with the sources of workspace 't':")
    assert "source 'a' (sources[0] in the workspace config): file a.csv does not exist" in message
    assert "columns.colour is not a field of table demand" in message
    assert "source 'b' (sources[1] in the workspace config): file b.csv does not exist" in message


def test_foreign_currency_without_fx_source_is_a_config_problem(tmp_path):
    (tmp_path / "s.csv").write_text(CSV)
    message = error_of(workspace(tmp_path, source(currency="EUR")))
    assert (
        "amounts are in EUR but the reporting currency is GBP and no fx source is declared"
        in message
    )


def test_nothing_is_written_when_a_source_fails(tmp_path):
    ws = workspace(tmp_path)
    error_of(ws)
    assert not ws.warehouse.exists()


def test_declarations_that_cannot_work_are_listed_before_reading(tmp_path):
    (tmp_path / "s.csv").write_text(CSV)
    bad = source(
        table="supply",
        columns={"sku_id": "sku", "qty_ordered": "qty"},
        constants={},
        kind_rules=[{"kind": "return", "when": [{"field": "qty_ordered", "lt": 0}]}],
        extract={"sku_id": "[0-9]+"},
        date_to="2024-01-31",
    )
    message = error_of(workspace(tmp_path, bad))
    assert message.splitlines()[1:] == [
        f"  - source 's' (sources[0] in the workspace config): {problem}"
        for problem in (
            "extract.sku_id: '[0-9]+' has no group; wrap the part to keep in (...)",
            "table supply needs supplier_id; map each in 'columns' or give it in 'constants'",
            "kind_rules apply to demand sources only; this source feeds supply",
            "date_from/date_to need a date to test: map receipt_date in 'columns' or name a "
            "mapped one in 'date_field'",
        )
    ]


def test_own_codes_need_a_cross_reference(tmp_path):
    (tmp_path / "s.csv").write_text(CSV)
    columns = {**COLUMNS, "source_sku": "sku"}
    del columns["sku_id"]
    message = error_of(workspace(tmp_path, source(columns=columns)))
    assert "source_sku needs a cross-reference to global codes, and none is declared" in message
