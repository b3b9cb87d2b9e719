"""The attribute registry: names from the contract, wording, units that follow the calendar."""

from __future__ import annotations

import pytest

from ml.attributes import (
    ATTRIBUTE_TEMPLATES,
    ATTRIBUTES,
    GROUPS,
    attribute,
    attribute_names,
    attributes_for,
    imputable_names,
    imputed_column,
    snapshot_columns,
)
from ml.errors import StrataError

# docs/architecture.md, "Feature snapshot: attribute names"
CONTRACT = {
    "demand": "periods_observed, nonzero_periods, total_qty, mean_qty, std_qty, std_qty_raw, cv, "
    "cv_raw, adi, cv2, cv2_raw, zero_share, seasonality_strength, trend, growth, peak_to_mean, "
    "age_periods, staleness_periods, promo_share, outlier_share",
    "value": "revenue, revenue_share, revenue_cum_share, revenue_rank, margin, margin_pct, "
    "margin_share, margin_cum_share, returns_rate, unit_price, unit_cost",
    "customers": "n_customers, top_customer_share, n_countries",
    "supply": "lead_time_mean_days, lead_time_sd_days, lead_time_cv, on_time_rate, "
    "supplier_fill_rate, moq, pack_size, shelf_life_days, import_dependency, n_suppliers",
}


@pytest.mark.parametrize("group", GROUPS)
def test_registry_holds_exactly_the_contract_names_per_group(group):
    assert attribute_names(group) == CONTRACT[group].split(", ")


def test_every_attribute_is_declared_once_and_fully_worded():
    names = [a.name for a in ATTRIBUTES]
    assert len(names) == len(set(names)) == 44
    for a in ATTRIBUTES:
        assert a.unit and a.meaning and a.high and a.dtype == "float64", a.name
        assert "{" not in a.unit + a.meaning + a.high, a.name


def test_adi_reads_in_weeks_or_months_with_the_calendar():
    assert attribute("adi").unit == "weeks"
    assert attribute("adi").meaning == "Average number of weeks between sales"
    assert attribute("adi").high == "sells rarely"
    monthly = attribute("adi", bucket="month")
    assert (monthly.unit, monthly.meaning) == ("months", "Average number of months between sales")
    growth = {a.name: a for a in attributes_for("month", recent_periods=3)}["growth"]
    assert growth.meaning == "Change in sales over the last 3 months versus the 3 before"


def test_currency_is_filled_in():
    by_name = {a.name: a for a in attributes_for(currency="GBP")}
    assert by_name["revenue"].unit == "GBP"
    assert by_name["unit_price"].unit == "GBP per unit"


def test_unknown_attribute_suggests_close_names():
    with pytest.raises(StrataError, match=r"no attribute named 'adii'; did you mean adi"):
        attribute("adii")
    with pytest.raises(StrataError, match="groups are demand, value, customers, supply"):
        attribute_names("stock")


def test_imputable_attributes_have_flags_in_the_snapshot_columns():
    cols = snapshot_columns()
    assert cols[:2] == ["sku_id", "as_of"]
    assert [c for c in cols if c.endswith("_imputed")] == [
        imputed_column(n) for n in imputable_names()
    ]
    assert {"margin", "cv2", "lead_time_mean_days", "seasonality_strength"} <= set(
        imputable_names()
    )
    assert not {"revenue", "adi", "periods_observed"} & set(imputable_names())
    assert snapshot_columns("product_location")[:3] == ["sku_id", "location_id", "as_of"]


def test_templates_keep_placeholders_for_the_calendar():
    adi = next(a for a in ATTRIBUTE_TEMPLATES if a.name == "adi")
    assert adi.unit == "{period}s"
