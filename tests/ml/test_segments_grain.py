"""Family grain: sums, recomputed shares and ratios, volume-weighted rates, on a hand-made frame."""

import math

import numpy as np
import pandas as pd
import pytest

from ml.attributes import attribute_names
from ml.errors import StrataError
from ml.grain import FAMILY_RULES, aggregate_to_family
from ml.segment_rules import rule_classes


def products() -> pd.DataFrame:
    # family F1: two products; family F2: one product
    return pd.DataFrame(
        {
            "sku_id": ["a", "b", "c"],
            "as_of": ["2024-01-01"] * 3,
            "family": ["F1", "F1", "F2"],
            "category": ["big", "small", "other"],
            "supplier_id": ["S1", "S2", "S1"],
            "periods_observed": [52.0, 20.0, 52.0],
            "nonzero_periods": [26.0, 10.0, 52.0],
            "zero_share": [0.5, 0.5, 0.0],
            "total_qty": [300.0, 100.0, 600.0],
            "mean_qty": [6.0, 5.0, 12.0],
            "std_qty": [3.0, 4.0, 6.0],
            "cv": [0.5, 0.8, 0.5],
            "adi": [2.0, 2.0, 1.0],
            "cv2": [0.2, 0.6, 0.1],
            "age_periods": [100.0, 20.0, 60.0],
            "staleness_periods": [3.0, 1.0, 0.0],
            "revenue": [600.0, 200.0, 200.0],
            "revenue_share": [0.6, 0.2, 0.2],
            "revenue_cum_share": [0.6, 1.0, 0.8],
            "revenue_rank": [1.0, 2.0, 2.0],
            "margin": [300.0, 50.0, 20.0],
            "margin_pct": [0.5, 0.25, 0.1],
            "on_time_rate": [0.9, 0.5, 1.0],
            "n_suppliers": [1.0, 1.0, 1.0],
            "shelf_life_days": [30.0, 10.0, np.nan],
            "on_time_rate_imputed": [False, True, False],
        }
    )


def test_family_sums_volumes_and_money():
    fam = aggregate_to_family(products()).set_index("family")
    assert fam.loc["F1", "total_qty"] == 400
    assert fam.loc["F1", "revenue"] == 800
    assert fam.loc["F1", "margin"] == 350
    assert fam.loc["F1", "mean_qty"] == 11
    assert fam.loc["F1", "n_products"] == 2


def test_family_recomputes_shares_ranks_and_ratios():
    fam = aggregate_to_family(products()).set_index("family")
    assert fam.loc["F1", "revenue_share"] == pytest.approx(0.8)
    assert fam.loc["F2", "revenue_share"] == pytest.approx(0.2)
    assert fam.loc["F1", "revenue_cum_share"] == pytest.approx(0.8)
    assert fam.loc["F2", "revenue_cum_share"] == pytest.approx(1.0)
    assert fam["revenue_rank"].tolist() == [1.0, 2.0]
    assert fam.loc["F1", "margin_pct"] == pytest.approx(350 / 800)
    # std: root-sum-square sqrt(9 + 16) = 5; cv = 5 / 11
    assert fam.loc["F1", "std_qty"] == pytest.approx(5.0)
    assert fam.loc["F1", "cv"] == pytest.approx(5 / 11)


def test_family_adi_assumes_members_sell_independently():
    fam = aggregate_to_family(products()).set_index("family")
    # idle only when both are idle: 0.5 · 0.5 = 0.25, so 52 · 0.75 = 39 selling weeks; but the
    # members only sold in 26 + 10 = 36 weeks between them, which caps it; adi = 52 / 36
    assert fam.loc["F1", "zero_share"] == pytest.approx(0.25)
    assert fam.loc["F1", "nonzero_periods"] == pytest.approx(36.0)
    assert fam.loc["F1", "adi"] == pytest.approx(52 / 36)
    assert fam.loc["F2", "adi"] == pytest.approx(1.0)


def test_family_rates_are_volume_weighted_and_extremes_kept():
    fam = aggregate_to_family(products()).set_index("family")
    assert fam.loc["F1", "on_time_rate"] == pytest.approx((0.9 * 300 + 0.5 * 100) / 400)
    assert fam.loc["F1", "cv2"] == pytest.approx((0.2 * 300 + 0.6 * 100) / 400)
    assert fam.loc["F1", "periods_observed"] == 52
    assert fam.loc["F1", "age_periods"] == 100
    assert fam.loc["F1", "staleness_periods"] == 1
    assert fam.loc["F1", "shelf_life_days"] == 10
    assert math.isnan(fam.loc["F2", "shelf_life_days"])
    assert fam.loc["F1", "n_suppliers"] == 2  # two distinct supplier_id values
    assert bool(fam.loc["F1", "on_time_rate_imputed"]) is True
    assert fam.loc["F1", "category"] == "big"  # from the largest-volume member


def test_family_grain_does_not_touch_its_input():
    frame = products()
    before = frame.copy()
    aggregate_to_family(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_product_location_rows_aggregate_over_locations_or_keep_them():
    frame = pd.concat([products().assign(location_id="L1"), products().assign(location_id="L2")])
    assert aggregate_to_family(frame).set_index("family").loc["F1", "total_qty"] == 800
    kept = aggregate_to_family(frame, keep_location=True)
    assert list(kept.columns[:4]) == ["as_of", "family", "location_id", "n_products"]
    assert len(kept) == 4


def test_rules_run_at_family_grain():
    fam = aggregate_to_family(products())
    supply = {"lead_time_cv": 0.2, "supplier_fill_rate": 0.95, "import_dependency": 0.0}
    labels = rule_classes(fam.assign(**supply))
    assert labels["abc"].tolist() == ["A", "B"]


def test_every_registry_attribute_has_a_family_rule():
    assert set(FAMILY_RULES) == set(attribute_names())


def test_attribute_without_a_rule_is_named():
    with pytest.raises(
        StrataError, match=r"no aggregation rule for attribute\(s\) mystery; pass rules="
    ):
        aggregate_to_family(products().assign(mystery=1.0))
    fam = aggregate_to_family(products().assign(mystery=1.0), rules={"mystery": "sum"})
    assert fam["mystery"].tolist() == [2.0, 1.0]


def test_missing_family_column_is_named():
    with pytest.raises(
        StrataError, match="cannot aggregate by family: the frame has no such column"
    ):
        aggregate_to_family(products().drop(columns=["family"]))


def test_default_catalogue_assigns_families():
    from pathlib import Path

    from ml.catalogue import assign_by_rules
    from ml.config.files import load_catalogue

    cat = load_catalogue(Path(__file__).resolve().parents[2] / "configs" / "segments.yaml")
    supply = {"lead_time_cv": 0.2, "supplier_fill_rate": 0.95, "import_dependency": 0.0}
    fam = aggregate_to_family(products().assign(**supply))
    got = assign_by_rules(fam, cat)
    assert got["family"].tolist() == ["F1", "F2"]
    # F1: A (80 % of revenue), adi 52/36 > 1.32 and cv2 0.3 -> intermittent
    assert got["segment"].tolist() == ["intermittent_slow_movers", "core_fast_movers"]


def test_ratio_without_its_inputs_names_them():
    with pytest.raises(
        StrataError, match=r"cannot recompute cv at the new grain \(cv needs std_qty, mean_qty\)"
    ):
        aggregate_to_family(products().drop(columns=["std_qty"]))


def test_at_grain_keys_product_location_rows_uniquely_and_refuses_a_missing_location():
    import pandas as pd
    import pytest

    from ml.errors import StrataError
    from ml.grain import at_grain

    frame = pd.DataFrame(
        {"sku_id": ["a", "a", "b"], "location_id": ["UK", "DE", "UK"], "adi": [1.0, 2.0, 3.0]}
    )
    keyed = at_grain(frame, "product_location")
    assert keyed["sku_id"].tolist() == ["a@UK", "a@DE", "b@UK"]
    assert keyed["adi"].tolist() == [1.0, 2.0, 3.0]
    assert at_grain(frame, "product")["sku_id"].tolist() == ["a", "a", "b"]
    with pytest.raises(StrataError, match=r"has no location_id; build it with features\.grain"):
        at_grain(frame.drop(columns=["location_id"]), "product_location")
