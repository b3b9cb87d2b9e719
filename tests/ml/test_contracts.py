"""Table contracts: declared once, typed empty tables, every failing row and field reported."""

import numpy as np
import pandas as pd
import pytest

from ml.contracts import CONTRACTS, SOURCE_FIELDS, contract_failures, empty_table, table_dtypes


def lines(**overrides) -> pd.DataFrame:
    base = {
        "sku_id": pd.Series(["a", "b", np.nan], dtype="str"),
        "location_id": pd.Series(["L", "L", "L"], dtype="str"),
        "date": pd.to_datetime(["2024-01-01"] * 3).astype("datetime64[us]"),
        "document_id": pd.Series([np.nan] * 3, dtype="str"),
        "customer_id": pd.Series([np.nan] * 3, dtype="str"),
        "country": pd.Series([np.nan] * 3, dtype="str"),
        "region": pd.Series([np.nan] * 3, dtype="str"),
        "business_unit": pd.Series([np.nan] * 3, dtype="str"),
        "qty": [1.0, -2.0, 1.0],
        "revenue": [1.0, 2.0, 1.0],
        "cost": [np.nan] * 3,
        "promo_flag": [False] * 3,
        "kind": pd.Series(["sale", "sale", "refund"], dtype="str"),
        "source": pd.Series(["s"] * 3, dtype="str"),
        "source_file": pd.Series(["f"] * 3, dtype="str"),
        "source_row": np.array([1, 2, 3], dtype="int64"),
    }
    return pd.DataFrame({**base, **overrides})


@pytest.mark.parametrize("table", sorted(CONTRACTS))
def test_empty_tables_pass_their_contract_with_the_declared_dtypes(table):
    frame = empty_table(table)
    assert frame.dtypes.astype(str).to_dict() == table_dtypes(table)
    assert contract_failures(table, frame).empty


def test_every_failing_row_and_field_is_reported_once():
    failures = contract_failures("demand_lines", lines())
    assert failures.sort_values(["index", "field"]).values.tolist() == [
        [1, "qty", "-2.0", "contract:sale_qty_positive"],
        [2, "kind", "refund", "contract:kind_known"],
        [2, "sku_id", "", "missing_value"],
    ]


def test_duplicate_keys_keep_the_first_row():
    products = empty_table("products").reindex(range(3))
    products = products.assign(
        sku_id=pd.Series(["a", "b", "a"], dtype="str"),
        family=pd.Series(["f"] * 3, dtype="str"),
        category=pd.Series(["c"] * 3, dtype="str"),
        uom=pd.Series(["EA"] * 3, dtype="str"),
    ).astype(table_dtypes("products"))
    assert contract_failures("products", products).values.tolist() == [
        [2, "sku_id", "a", "duplicate_key"]
    ]


def test_a_wrong_dtype_is_a_bug_not_bad_data():
    with pytest.raises(TypeError, match="does not have the contract's columns/dtypes"):
        contract_failures("demand_lines", lines(qty=["1", "2", "3"]))


def test_source_fields_cover_the_output_columns_they_feed():
    for table in ("products", "supply", "inventory"):
        outputs = set(CONTRACTS[table].columns) - {"uom"}
        assert outputs <= set(SOURCE_FIELDS[table].types)
