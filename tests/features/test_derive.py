"""derive_attributes on tiny hand-made tables: values, imputation, report, grain, columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from derive_tables import AS_OF, demand, demand_row, products, supply

from features.attributes_value import ranked_cum_share
from features.derive import derive_attributes
from ml.attributes import (
    DESCRIPTORS,
    attribute_names,
    imputable_names,
    imputed_column,
    snapshot_columns,
)
from ml.config import Calendar, Cleansing, FeaturesConfig
from ml.errors import StrataError

CAL = Calendar(window_periods=8, recent_periods=2)
CFG = FeaturesConfig(seasonal_history_periods=8)
A_QTY = [4, 5, 6, 5, 4, 6, 5, 5]  # A sells every week, oldest first


def base_rows() -> list[dict[str, object]]:
    rows = [demand_row("A", w, q) for w, q in zip(range(7, -1, -1), A_QTY, strict=True)]
    rows += [demand_row("B", 1, 3), demand_row("B", 0, -1, kind="return")]
    rows.append(demand_row("C", 3, 10))
    return rows


def base_supply() -> pd.DataFrame:
    return supply(
        [
            ("A", "S1", "2024-01-01", "2024-01-11", "2024-01-11", 10, 10, "CN", "GB"),
            ("A", "S1", "2024-02-01", "2024-02-11", "2024-02-21", 10, 8, "GB", "GB"),
        ]
    )


def tables(**extra: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {"products": products(), "demand": demand(base_rows()), "supply": base_supply()} | extra


def derive(cfg: FeaturesConfig = CFG, cal: Calendar = CAL, **extra: pd.DataFrame):
    return derive_attributes(tables(**extra), AS_OF, cal, cfg)


@pytest.fixture(scope="module")
def derived():
    return derive()


@pytest.fixture(scope="module")
def by_sku(derived):
    return derived.frame.set_index("sku_id")


def test_columns_are_the_snapshot_contract(derived):
    assert list(derived.frame.columns) == snapshot_columns("product")
    assert derived.frame["sku_id"].tolist() == ["A", "B", "C", "D", "E"]
    assert (derived.frame["as_of"] == pd.Timestamp(AS_OF)).all()


def test_registry_covers_every_attribute_column_and_back(derived):
    cols = set(derived.frame.columns)
    flags = {c for c in cols if c.endswith("_imputed")}
    attrs = cols - flags - {"sku_id", "as_of", *DESCRIPTORS}
    assert attrs == set(attribute_names())
    assert flags == {imputed_column(n) for n in imputable_names()}
    assert (derived.frame[sorted(attrs)].dtypes == "float64").all()
    assert (derived.frame[sorted(flags)].dtypes == "bool").all()


def test_demand_attributes_of_a_steady_seller(by_sku):
    a = by_sku.loc["A"]
    # 4 5 6 5 4 6 5 5: mean 5, deviations -1 0 1 0 -1 1 0 0 -> ss 4, sample sd sqrt(4/7)
    assert (a.periods_observed, a.nonzero_periods, a.total_qty, a.adi) == (8, 8, 40, 1)
    assert a.mean_qty == pytest.approx(5.0)
    assert a.std_qty == pytest.approx(np.sqrt(4 / 7), rel=1e-6)
    assert a.cv == pytest.approx(np.sqrt(4 / 7) / 5, rel=1e-6)
    # centred t -3.5..3.5: sum t*x = 3, sum t^2 = 42 -> slope 1/14, / mean 5 = 0.0142857
    assert a.trend == pytest.approx(1 / 70, rel=1e-5)
    assert a.growth == pytest.approx(0.0)  # last two weeks 10 vs the two before 10
    assert a.peak_to_mean == pytest.approx(6 / 5)
    assert (a.age_periods, a.staleness_periods, a.zero_share) == (7, 0, 0)


def test_short_history_starts_at_the_first_sale(by_sku):
    b, c = by_sku.loc["B"], by_sku.loc["C"]
    # B first sold one week before the latest: 2 observed weeks, 1 with a sale -> ADI 2
    assert (b.periods_observed, b.nonzero_periods, b.adi, b.zero_share) == (2, 1, 2, 0.5)
    # C sold 10 four weeks back: observed 10 0 0 0 -> sd 5, slope -3 / mean 2.5 = -1.2
    assert (c.periods_observed, c.adi, c.staleness_periods) == (4, 4, 3)
    assert c.std_qty == pytest.approx(5.0) and c.trend == pytest.approx(-1.2)
    assert c.growth == -1.0


def test_value_attributes(by_sku):
    # revenue A 80, B 6, C 20, D 0, E 0 (total 106)
    assert by_sku.revenue.tolist() == [80, 6, 20, 0, 0]
    assert by_sku.revenue_rank.tolist() == [1, 3, 2, 4, 4]
    assert by_sku.revenue_cum_share.tolist() == pytest.approx([80 / 106, 1, 100 / 106, 1, 1])
    assert by_sku.revenue_share["A"] == pytest.approx(80 / 106)
    assert by_sku.margin.tolist() == [40, 3, 10, 0, 0]  # recorded cost = qty
    assert by_sku.margin_pct["A"] == 0.5
    assert by_sku.returns_rate["B"] == pytest.approx(1 / 3)  # 1 returned of 3 sold
    # unit price and cost from the master; B has no master cost: its recorded 3 / 3 units
    assert by_sku.unit_price.tolist() == [5, 4, 3, 2, 2]
    assert by_sku.unit_cost["B"] == 1.0 and not by_sku.unit_cost_imputed["B"]


def test_ranks_and_cumulative_shares_share_ties():
    # 5, 3, 3, 1 (total 12): ranks 1, 2, 2, 4; running shares 5/12, 11/12, 11/12, 1
    rank, share = ranked_cum_share(np.array([3.0, 5.0, 1.0, 3.0]))
    assert rank.tolist() == [2, 1, 4, 2]
    assert share.tolist() == pytest.approx([11 / 12, 5 / 12, 1, 11 / 12])


def test_supply_attributes(by_sku):
    a = by_sku.loc["A"]
    # lead times 10 and 20 days; one of two on time; 18 of 20 units; one of two lines imported
    assert a.lead_time_mean_days == 15 and a.lead_time_sd_days == pytest.approx(np.sqrt(50))
    assert a.lead_time_cv == pytest.approx(np.sqrt(50) / 15)
    assert (a.on_time_rate, a.supplier_fill_rate, a.import_dependency) == (0.5, 0.9, 0.5)
    assert a.n_suppliers == 1 and by_sku.n_suppliers["B"] == 0
    assert (a.moq, a.pack_size, a.shelf_life_days) == (10, 6, 365)


def test_fallback_levels_and_flags(by_sku, derived):
    # B: no supply -> family F1 (A's values); C: F2 has none -> category K1 (A's values)
    assert by_sku.lead_time_mean_days["B"] == 15 and by_sku.lead_time_mean_days_imputed["B"]
    assert by_sku.lead_time_mean_days["C"] == 15 and by_sku.lead_time_mean_days_imputed["C"]
    assert not by_sku.lead_time_mean_days_imputed["A"]
    # B observed 2 weeks < min_observed_periods 4: its cv comes from family F1
    assert by_sku.cv_imputed["B"] and by_sku.cv["B"] == pytest.approx(by_sku.cv["A"])
    # master fields: B's moq and shelf life from A (family F1)
    assert (by_sku.moq["B"], by_sku.shelf_life_days["B"]) == (10, 365)
    imputed = derived.report["imputed"]
    assert imputed["lead_time_mean_days"] == {"family": 1, "category": 1}
    assert imputed["moq"] == {"family": 1}


def test_defaults_fill_what_no_group_can(by_sku):
    derived = derive(
        FeaturesConfig(seasonal_history_periods=8, defaults={"lead_time_mean_days": 30})
    )
    frame = derived.frame.set_index("sku_id")
    # D and E are alone in their family and category: only the configured default is left
    assert frame.loc[["D", "E"], "lead_time_mean_days"].tolist() == [30, 30]
    assert frame.loc[["D", "E"], "lead_time_mean_days_imputed"].all()
    assert derived.report["imputed"]["lead_time_mean_days"] == {
        "family": 1,
        "category": 1,
        "default": 2,
    }
    assert not (derived.unresolved["attribute"] == "lead_time_mean_days").any()


def test_values_without_any_fallback_are_listed_never_dropped(derived):
    assert len(derived.frame) == 5  # D and E never sold and have no fallback: still rows
    listed = derived.unresolved
    assert set(listed.columns) == {"sku_id", "attribute"}
    assert {("D", "moq"), ("D", "lead_time_mean_days"), ("E", "on_time_rate")} <= set(
        map(tuple, listed[["sku_id", "attribute"]].to_numpy())
    )
    assert ("E", "moq") not in set(map(tuple, listed.to_numpy()))  # E has its own moq
    report = derived.report["unresolved"]
    assert report["values"] == len(listed)
    assert report["keys"] == listed["sku_id"].nunique()
    assert report["by_attribute"]["moq"] == int((listed["attribute"] == "moq").sum())
    assert derived.frame.set_index("sku_id").moq.isna().tolist() == [False] * 3 + [True, False]


def test_stale_supply_falls_back():
    # A's newest line was received 2024-02-21, 39 days before as_of: stale with a 30-day limit
    derived = derive(FeaturesConfig(seasonal_history_periods=8, supply_stale_days=30))
    a = derived.frame.set_index("sku_id").loc["A"]
    assert derived.report["stale_supply_products"] == 1
    assert np.isnan(a.lead_time_mean_days) and not a.lead_time_mean_days_imputed
    assert a.moq == 10  # master fields are not events: never stale


def test_margin_uses_master_cost_then_category_rate_then_default():
    rows = [
        demand_row("A", 0, 10, cost=None),  # master unit_cost 2: margin 20 - 20 = 0
        demand_row("B", 0, 10, cost=None),  # no master cost, category K1 rate 0.25: 5
        demand_row("D", 0, 10, cost=None),  # no cost at all for K2: default 0.35 -> 7
    ]
    t = {"products": products().assign(unit_cost=[2.0, np.nan, 1.0, np.nan, 1.0])}
    t["demand"] = demand(rows)
    cfg = FeaturesConfig(default_margin_by_category={"K1": 0.25}, seasonal_history_periods=8)
    derived = derive_attributes(t, AS_OF, CAL, cfg)
    f = derived.frame.set_index("sku_id")
    assert f.margin[["A", "B", "D"]].tolist() == pytest.approx([0.0, 5.0, 7.0])
    assert f.margin_imputed[["A", "B", "D"]].tolist() == [False, True, True]
    assert f.margin_pct_imputed["B"]
    assert derived.report["imputed"]["margin"] == {"category": 1, "default": 1}


def test_cleansing_flags_a_planted_spike():
    qty = [10, 12, 9, 11, 10, 100, 10, 11]  # median 10.5, MAD 0.5: the 100 is a spike
    t = {
        "products": products(),
        "demand": demand([demand_row("A", 7 - i, q) for i, q in enumerate(qty)]),
    }
    a = derive_attributes(t, AS_OF, CAL, CFG).frame.set_index("sku_id").loc["A"]
    assert a.outlier_share == pytest.approx(100 / 173)
    assert a.total_qty == 173  # recorded units
    # cleansed: the 100 becomes the median 10.5 -> 173 - 100 + 10.5 = 83.5 units, mean 83.5 / 8
    assert a.mean_qty == pytest.approx(83.5 / 8)
    assert a.std_qty < a.std_qty_raw and a.cv < a.cv_raw and a.cv2 < a.cv2_raw
    assert a.peak_to_mean == pytest.approx(12 / (83.5 / 8))
    off = FeaturesConfig(seasonal_history_periods=8, cleansing=Cleansing(method="none"))
    raw = derive_attributes(t, AS_OF, CAL, off).frame.set_index("sku_id").loc["A"]
    assert raw.outlier_share == 0 and raw.std_qty == pytest.approx(a.std_qty_raw)


def test_log_scale_screen_keeps_case_pack_orders_that_a_linear_fence_would_flag():
    # eight weeks of small orders with one 24-unit case order and one 500-unit one-off order
    qty = [5, 7, 6, 9, 4, 24, 6, 500]
    t = {
        "products": products(),
        "demand": demand([demand_row("A", 7 - i, q) for i, q in enumerate(qty)]),
    }
    lin_cfg = FeaturesConfig(seasonal_history_periods=8, cleansing=Cleansing(scale="linear"))
    lin_a = derive_attributes(t, AS_OF, CAL, lin_cfg).frame.set_index("sku_id").loc["A"]
    log_a = derive_attributes(t, AS_OF, CAL, CFG).frame.set_index("sku_id").loc["A"]
    total = sum(qty)  # 561
    # linear: median 6.5, |dev| sorted .5 .5 .5 1.5 2.5 2.5 17.5 493.5 -> MAD 2,
    # fence 6.5 + 5 * 2 = 16.5: the 24 and the 500 are both flagged
    assert lin_a.outlier_share == pytest.approx((24 + 500) / total)
    # log: median of logs (ln 6 + ln 7) / 2 = 1.869, MAD of logs (0.260 + 0.328) / 2 = 0.294,
    # fence e^(1.869 + 5 * 0.294) = 28.2 units: only the 500 is a spike
    assert log_a.outlier_share == pytest.approx(500 / total)


def test_promotional_periods_are_cleansed_and_counted():
    qty = [10, 12, 9, 11, 10, 30, 10, 11]
    rows = [demand_row("A", 7 - i, q, promo_qty=25 if q == 30 else 0) for i, q in enumerate(qty)]
    a = derive_attributes({"products": products(), "demand": demand(rows)}, AS_OF, CAL, CFG)
    a = a.frame.set_index("sku_id").loc["A"]
    assert a.promo_share == pytest.approx(25 / 103)
    assert a.outlier_share == 0  # explained by the promotion, not a one-off spike
    assert a.mean_qty == pytest.approx((103 - 30 + 10.5) / 8)


def test_customer_attributes_from_demand_lines():
    lines = pd.DataFrame(
        {
            "sku_id": ["A", "A", "A", "B", "A"],
            "date": pd.to_datetime(
                ["2024-03-20", "2024-03-21", "2024-03-12", "2024-03-19", "2024-04-02"]
            ),
            "customer_id": ["c1", "c2", "c1", None, "c9"],
            "country": ["UK", "FR", "UK", "UK", "DE"],
            "qty": [3.0, 2.0, 7.0, 3.0, 100.0],
            "kind": ["sale"] * 5,
        }
    ).astype({"date": "datetime64[us]"})
    f = derive(demand_lines=lines).frame.set_index("sku_id")
    # A: c1 bought 10 of 12 units in the window (the April line is after as_of)
    assert (f.n_customers["A"], f.top_customer_share["A"], f.n_countries["A"]) == (
        2, pytest.approx(10 / 12), 2,
    )  # fmt: skip
    assert f.n_customers["B"] == 0 and np.isnan(f.top_customer_share["B"])
    assert f.n_customers["C"] == 0 and f.n_countries["C"] == 0


def test_missing_demand_lines_leave_customer_attributes_missing_with_a_note(derived):
    assert derived.frame["n_customers"].isna().all()
    assert any("demand_lines" in note for note in derived.report["notes"])


def test_product_location_grain():
    rows = [*base_rows(), demand_row("A", 2, 7, location_id="L2")]
    inv = pd.DataFrame(
        {
            "sku_id": ["C"],
            "location_id": ["L3"],
            "date": [pd.Timestamp("2024-03-01")],
            "on_hand": [5.0],
        }
    ).astype({"date": "datetime64[us]"})
    t = {"products": products(), "demand": demand(rows), "inventory": inv}
    derived = derive_attributes(t, AS_OF, CAL, FeaturesConfig(grain="product_location"))
    f = derived.frame
    assert list(f.columns) == snapshot_columns("product_location")
    keys = list(zip(f.sku_id, f.location_id.fillna("-"), strict=True))
    assert keys == [
        ("A", "L1"),
        ("A", "L2"),
        ("B", "L1"),
        ("C", "L1"),
        ("C", "L3"),
        ("D", "-"),
        ("E", "-"),
    ]
    g = f.set_index(["sku_id", "location_id"])
    assert g.loc[("A", "L1"), "total_qty"] == 40 and g.loc[("A", "L2"), "total_qty"] == 7
    assert g.loc[("A", "L2"), "family"] == "F1"  # descriptors per sku


def test_monthly_bucket():
    rows = []
    for i, month in enumerate(pd.date_range("2023-01-01", periods=15, freq="MS")):
        row = demand_row("A", 0, 5 + i % 3)
        row["period_start"] = month
        rows.append(row)
    cal = Calendar(bucket="month", window_periods=12, recent_periods=3)
    # 2024-03-31 is a month end: March 2024 is the latest complete month
    derived = derive_attributes(
        {"products": products(), "demand": demand(rows)}, AS_OF, cal, FeaturesConfig()
    )
    a = derived.frame.set_index("sku_id").loc["A"]
    assert derived.report["window"]["first_period"] == "2023-04-01"
    assert derived.report["window"]["last_period"] == "2024-03-01"
    assert (a.periods_observed, a.age_periods) == (12, 14)


def test_missing_tables_are_named():
    with pytest.raises(StrataError, match="needs the 'products' table"):
        derive_attributes({"demand": demand(base_rows())}, AS_OF, CAL, CFG)
    with pytest.raises(StrataError, match="needs the bucketed 'demand' table"):
        derive_attributes({"products": products()}, AS_OF, CAL, CFG)
