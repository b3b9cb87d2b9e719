"""Rule drivers: ABC, XYZ, SBC and Kostenko–Hyndman patterns, supply risk, history, on hand values."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ml.attributes import attribute_names
from ml.config.drivers import (
    AbcConfig,
    HistoryConfig,
    PatternConfig,
    RiskConfig,
    RiskWeights,
    SegmentationConfig,
    XyzConfig,
)
from ml.segment_rules import (
    RULE_CLASSES,
    abc_class,
    age_class,
    demand_pattern,
    history_sufficient,
    kostenko_hyndman_boundary,
    risk_class,
    rule_classes,
    share_ranked_above,
    supply_risk_score,
    xyz_class,
)


def s(values) -> pd.Series:
    return pd.Series(values, dtype="float64")


# --------------------------------------------------------------------------------------- ABC


def test_abc_80_15_5_textbook_list_with_product_exactly_at_80_percent():
    # revenue 50, 30, 10, 5, 3, 2 (total 100): running shares 50, 80, 90, 95, 98, 100 %.
    # Convention: A while the products ranked above hold < 80 %; so the product carrying the
    # running total exactly to 80 % is A, the next (80 % above it) is B; exactly at 95 % is B.
    frame = pd.DataFrame({"revenue": [10, 2, 50, 5, 30, 3]})  # shuffled rows
    got = abc_class(frame, SegmentationConfig())
    assert got.tolist() == ["B", "C", "A", "B", "A", "C"]


def test_abc_top_product_is_always_a_even_above_the_first_cutoff():
    got = abc_class(pd.DataFrame({"revenue": [85.0, 10.0, 5.0]}))
    assert got.tolist() == ["A", "B", "C"]


def test_abc_ties_share_a_class_whatever_the_row_order():
    got = abc_class(pd.DataFrame({"revenue": [30.0, 10.0, 30.0, 30.0]}))
    assert got.tolist() == ["A", "B", "A", "A"]


def test_abc_share_above_counts_ties_once():
    got = share_ranked_above(s([40, 40, 20]))
    assert got.tolist() == [0.0, 0.0, 0.8]


def test_abc_margin_basis_puts_negative_margin_in_c():
    frame = pd.DataFrame({"revenue": [1.0, 1.0, 100.0], "margin": [90.0, 10.0, -5.0]})
    cfg = SegmentationConfig(abc=AbcConfig(basis="margin"))
    assert abc_class(frame, cfg).tolist() == ["A", "B", "C"]


def test_abc_missing_or_zero_revenue_everywhere_is_c():
    assert abc_class(pd.DataFrame({"revenue": [0.0, np.nan]})).tolist() == ["C", "C"]


def test_abc_is_ranked_within_each_as_of():
    frame = pd.DataFrame({"as_of": ["d1", "d1", "d2", "d2"], "revenue": [90.0, 10.0, 1.0, 99.0]})
    assert abc_class(frame).tolist() == ["A", "B", "C", "A"]


def test_abc_is_ranked_within_each_location_at_product_location_grain():
    frame = pd.DataFrame(
        {"location_id": ["L1", "L1", "L2", "L2"], "revenue": [90.0, 10.0, 1.0, 9.0]}
    )
    cfg = SegmentationConfig(grain="product_location")
    assert abc_class(frame, cfg).tolist() == ["A", "B", "B", "A"]
    assert abc_class(frame, SegmentationConfig()).tolist() == ["A", "B", "C", "B"]


def test_abc_risk_basis_classes_by_supply_risk_score():
    frame = pd.DataFrame(
        {
            "lead_time_cv": [1.0, 0.5, 0.0, np.nan],
            "on_time_rate": [0.0, 0.5, 1.0, np.nan],
            "supplier_fill_rate": [0.0, 0.5, 1.0, np.nan],
            "import_dependency": [1.0, 0.5, 0.0, np.nan],
            "n_suppliers": [1.0, 2.0, 3.0, np.nan],
        }
    )
    # scores 1.0, 0.425, 0.0 and unknown; cut-offs 0.3 / 0.6
    cfg = SegmentationConfig(abc=AbcConfig(basis="risk"))
    assert abc_class(frame, cfg).tolist() == ["A", "B", "C", "B"]


def test_abc_names_the_missing_column():
    with pytest.raises(
        Exception, match=r"abc_class \(basis margin\) needs the attribute column\(s\) margin"
    ):
        abc_class(
            pd.DataFrame({"revenue": [1.0]}), SegmentationConfig(abc=AbcConfig(basis="margin"))
        )


# subnormal revenues scale to exactly 0, a real change of class, not a bug
revenues = st.lists(
    st.floats(0.0, 1e6, allow_nan=False, allow_subnormal=False), min_size=1, max_size=40
)


@given(revenues, st.floats(1e-3, 1e3))
def test_abc_is_invariant_to_scaling_revenue(values, factor):
    base = abc_class(pd.DataFrame({"revenue": values}))
    scaled = abc_class(pd.DataFrame({"revenue": [v * factor for v in values]}))
    assert base.tolist() == scaled.tolist()


@given(revenues, st.randoms(use_true_random=False))
def test_abc_does_not_depend_on_row_order(values, rnd):
    order = list(range(len(values)))
    rnd.shuffle(order)
    base = abc_class(pd.DataFrame({"revenue": values}))
    shuffled = abc_class(pd.DataFrame({"revenue": [values[i] for i in order]}, index=order))
    assert shuffled.sort_index().tolist() == base.tolist()


@given(revenues)
def test_abc_a_holds_at_least_the_first_cutoff_of_revenue(values):
    total = sum(values)
    got = abc_class(pd.DataFrame({"revenue": values}))
    a_share = sum(v for v, c in zip(values, got, strict=True) if c == "A") / total if total else 1
    assert a_share >= 0.8 - 1e-6 or total == 0


# --------------------------------------------------------------------------------------- XYZ


def test_xyz_cutoffs_belong_to_the_lower_class():
    got = xyz_class(s([0.0, 0.5, 0.5000001, 1.0, 1.0000001, np.nan]), (0.5, 1.0))
    assert got.tolist() == ["X", "X", "Y", "Y", "Z", "new"]


# ------------------------------------------------------------------ demand pattern: SBC quadrants


@pytest.mark.parametrize(
    ("adi", "cv2", "expected"),
    [
        (1.0, 0.0, "smooth"),
        (1.32, 0.49, "smooth"),  # exactly on both cut-offs: frequent and stable
        (1.32, 0.4900001, "erratic"),
        (1.3200001, 0.49, "intermittent"),
        (1.3200001, 0.4900001, "lumpy"),
        (1.31, 0.48, "smooth"),
        (1.31, 2.0, "erratic"),
        (3.0, 0.1, "intermittent"),
        (3.0, 1.5, "lumpy"),
        (np.nan, 0.2, "insufficient_history"),
        (2.0, np.nan, "insufficient_history"),
    ],
)
def test_sbc_quadrants_at_and_around_the_cutoffs(adi, cv2, expected):
    assert demand_pattern(s([adi]), s([cv2]), "sbc").iloc[0] == expected


def test_sbc_cutoffs_are_configurable():
    got = demand_pattern(s([1.5, 1.5]), s([0.3, 0.3]), "sbc", adi_cutoff=2.0, cv2_cutoff=0.2)
    assert got.tolist() == ["erratic", "erratic"]


# ------------------------------------------------------------ demand pattern: Kostenko–Hyndman


def test_kh_approximate_boundary_is_the_line_from_1_half_to_4_thirds_0():
    # Kostenko & Hyndman (2006): SBA when CV² > 2 - 3/2·ADI; the Croston region is the triangle
    # (1, 0), (4/3, 0), (1, 1/2) (as drawn by tsintermittent::idclass type "KHa").
    assert kostenko_hyndman_boundary(np.array([1.0, 4 / 3, 1.25])) == pytest.approx(
        [0.5, 0.0, 0.125]
    )


@pytest.mark.parametrize(
    ("adi", "cv2", "expected"),
    [
        (1.0, 0.5, "smooth"),  # on the line: Croston side
        (1.0, 0.5000001, "erratic"),
        (1.25, 0.125, "smooth"),  # 2 - 1.5 * 1.25 = 0.125 exactly
        (1.25, 0.126, "erratic"),
        (1.2, 0.3, "erratic"),  # SBC says smooth; above the K-H line 0.2
        (1.0, 0.495, "smooth"),  # SBC says erratic; below the K-H line 0.5
        (1.328125, 0.0078125, "smooth"),  # 2 - 1.5 * 1.328125 exactly; SBC says intermittent
        (1.328125, 0.008, "intermittent"),
        (1.5, 0.0, "intermittent"),  # beyond ADI 4/3 everything is on the SBA side
        (1.5, 0.6, "lumpy"),
        (np.nan, 0.1, "insufficient_history"),
    ],
)
def test_kh_points_computed_by_hand(adi, cv2, expected):
    assert demand_pattern(s([adi]), s([cv2]), "kostenko_hyndman").iloc[0] == expected


def test_kh_exact_boundary_with_a_smoothing_constant():
    # p = 1.2, α = 0.5: (4·1.2·0.8 − 0.5·3.5 − 1.2·0.2·3.5·1.5) / (1.2·3.5·(2.4 − 0.5))
    #                  = (3.84 − 1.75 − 1.26) / 7.98 = 0.83 / 7.98
    assert kostenko_hyndman_boundary(np.array([1.2]), 0.5)[0] == pytest.approx(0.83 / 7.98)
    # p = 1, α = 1: (4 − 3 − 0) / (1·3·1) = 1/3
    assert kostenko_hyndman_boundary(np.array([1.0]), 1.0)[0] == pytest.approx(1 / 3)
    # α -> 0 tends to 2/p − 3/2
    assert kostenko_hyndman_boundary(np.array([1.25]), 1e-9)[0] == pytest.approx(0.1, abs=1e-6)
    got = demand_pattern(s([1.2, 1.2]), s([0.104, 0.105]), "kostenko_hyndman", kh_alpha=0.5)
    assert got.tolist() == ["smooth", "erratic"]


def test_unknown_pattern_method_is_named():
    with pytest.raises(
        Exception, match=r"method 'croston' is unknown; use 'sbc' or 'kostenko_hyndman'"
    ):
        demand_pattern(s([1.0]), s([0.1]), "croston")


adis = st.one_of(st.floats(1.0, 10.0), st.just(1.32), st.just(float("nan")))
cv2s = st.one_of(st.floats(0.0, 5.0), st.just(0.49), st.just(float("nan")))


@given(
    st.lists(st.tuples(adis, cv2s), min_size=1, max_size=30),
    st.sampled_from(["sbc", "kostenko_hyndman"]),
)
def test_pattern_depends_only_on_adi_and_cv2(points, method):
    adi = s([p[0] for p in points])
    cv2 = s([p[1] for p in points])
    together = demand_pattern(adi, cv2, method)
    alone = [demand_pattern(s([a]), s([v]), method).iloc[0] for a, v in points]
    assert together.tolist() == alone
    for (a, v), label in zip(points, together, strict=True):
        same = [b for (b_a, b_v), b in zip(points, together, strict=True) if (b_a, b_v) == (a, v)]
        assert set(same) == {label}


@settings(max_examples=50)
@given(st.lists(st.tuples(st.floats(1.0, 5.0), st.floats(0.0, 3.0)), min_size=1, max_size=20))
def test_rule_classes_pattern_ignores_every_other_attribute(points):
    n = len(points)
    base = snapshot(n, adi=[p[0] for p in points], cv2=[p[1] for p in points])
    other = base.assign(revenue=base["revenue"][::-1].to_numpy(), cv=9.0, lead_time_cv=2.0)
    assert rule_classes(base)["pattern"].tolist() == rule_classes(other)["pattern"].tolist()


# ---------------------------------------------------------------------------------- supply risk


def test_supply_risk_score_by_hand():
    frame = pd.DataFrame(
        {
            "lead_time_cv": [0.5, 2.0],
            "on_time_rate": [0.8, np.nan],
            "supplier_fill_rate": [0.9, np.nan],
            "import_dependency": [1.0, np.nan],
            "n_suppliers": [1.0, 3.0],
        }
    )
    got = supply_risk_score(frame, RiskWeights())
    # 0.3·0.5 + 0.2·0.2 + 0.2·0.1 + 0.15·1 + 0.15·1 = 0.51 (weights sum to 1)
    # second: only lead_time_cv (capped at 1) and single_source (0): 0.3·1 / (0.3 + 0.15)
    assert got.tolist() == pytest.approx([0.51, 0.3 / 0.45])


def test_supply_risk_weights_are_normalised_and_cap_is_configurable():
    frame = pd.DataFrame(
        {
            "lead_time_cv": [0.25],
            "on_time_rate": [0.5],
            "supplier_fill_rate": [1.0],
            "import_dependency": [0.0],
            "n_suppliers": [2.0],
        }
    )
    w = RiskWeights(
        lead_time_cv=2, on_time_rate=2, supplier_fill_rate=0, import_dependency=0, single_source=0
    )
    assert supply_risk_score(frame, w, lead_time_cv_cap=0.5).iloc[0] == pytest.approx(0.5)


def test_supply_risk_unknown_when_no_component_is_known():
    frame = pd.DataFrame(
        {
            c: [np.nan]
            for c in [
                "lead_time_cv",
                "on_time_rate",
                "supplier_fill_rate",
                "import_dependency",
                "n_suppliers",
            ]
        }
    )
    score = supply_risk_score(frame)
    assert math.isnan(score.iloc[0])
    assert risk_class(score).iloc[0] == "unknown"


def test_risk_class_cutoffs_belong_to_the_lower_class():
    assert risk_class(s([0.3, 0.31, 0.6, 0.61]), (0.3, 0.6)).tolist() == [
        "low",
        "medium",
        "medium",
        "high",
    ]


unit = st.one_of(st.floats(0.0, 1.0), st.just(float("nan")))


@given(
    st.lists(
        st.tuples(
            st.floats(0, 10), unit, unit, unit, st.sampled_from([0.0, 1.0, 2.0, 5.0, float("nan")])
        ),
        min_size=1,
        max_size=20,
    )
)
def test_supply_risk_score_lies_in_0_1(rows):
    frame = pd.DataFrame(
        rows,
        columns=[
            "lead_time_cv",
            "on_time_rate",
            "supplier_fill_rate",
            "import_dependency",
            "n_suppliers",
        ],
    )
    score = supply_risk_score(frame).dropna()
    assert ((score >= 0) & (score <= 1)).all()


# ------------------------------------------------------------------------- history and labels


def snapshot(n: int, **columns) -> pd.DataFrame:
    """A small snapshot frame with plausible defaults for every attribute the rules read."""
    rng = np.random.default_rng(n)
    base = {
        "sku_id": [f"S{i}" for i in range(n)],
        "periods_observed": np.full(n, 52.0),
        "nonzero_periods": np.full(n, 40.0),
        "total_qty": rng.uniform(1, 1000, n),
        "revenue": rng.uniform(1, 1000, n),
        "margin_pct": rng.uniform(0, 1, n),
        "age_periods": np.full(n, 80.0),
        "cv": rng.uniform(0, 2, n),
        "adi": rng.uniform(1, 3, n),
        "cv2": rng.uniform(0, 1, n),
        "lead_time_cv": rng.uniform(0, 1, n),
        "on_time_rate": rng.uniform(0.5, 1, n),
        "supplier_fill_rate": rng.uniform(0.5, 1, n),
        "import_dependency": rng.uniform(0, 1, n),
        "n_suppliers": rng.integers(1, 4, n).astype(float),
    }
    base.update({k: np.asarray(v, dtype=float) for k, v in columns.items()})
    return pd.DataFrame(base)


def test_short_or_empty_history_gets_new_and_insufficient_history_not_a_wrong_class():
    frame = snapshot(
        4,
        periods_observed=[12, 13, 52, 52],
        total_qty=[10, 10, 0, 10],
        nonzero_periods=[5, 5, 0, 1],
        adi=[1.0, 1.0, np.nan, 52.0],
        cv2=[0.1, 0.1, np.nan, 0.0],
        revenue=[100, 100, 0, 100],
    )
    assert history_sufficient(frame).tolist() == [False, True, False, True]
    got = rule_classes(frame)
    assert got["abc"].tolist()[:3] == ["new", "A", "new"]
    assert got["xyz"].tolist()[0] == "new"
    # one non-zero period cannot show a size variability: below pattern.min_nonzero_periods
    assert got["pattern"].tolist() == [
        "insufficient_history",
        "smooth",
        "insufficient_history",
        "insufficient_history",
    ]


def test_rule_classes_labels_are_from_the_declared_sets():
    got = rule_classes(snapshot(50))
    for column, labels in RULE_CLASSES.items():
        assert set(got[column]) <= set(labels)
    assert list(got.columns) == ["abc", "xyz", "pattern", "risk", "supply_risk_score", "age"]


def test_rule_classes_uses_the_configured_method_and_history():
    frame = snapshot(1, adi=[1.2], cv2=[0.3], periods_observed=[20])
    kh = SegmentationConfig(pattern=PatternConfig(method="kostenko_hyndman"))
    assert rule_classes(frame)["pattern"].iloc[0] == "smooth"
    assert rule_classes(frame, kh)["pattern"].iloc[0] == "erratic"
    strict = SegmentationConfig.model_validate({"history": {"min_periods": 26}})
    assert rule_classes(frame, strict)["pattern"].iloc[0] == "insufficient_history"


def test_rule_classes_names_missing_attribute_columns():
    with pytest.raises(Exception, match=r"rule_classes needs the attribute column\(s\) adi"):
        rule_classes(snapshot(2).drop(columns=["adi"]))


def test_every_attribute_the_drivers_read_is_in_the_registry():
    from ml import segment_rules

    read = [
        segment_rules.REVENUE,
        segment_rules.MARGIN,
        segment_rules.PERIODS_OBSERVED,
        segment_rules.NONZERO_PERIODS,
        segment_rules.TOTAL_QTY,
        segment_rules.ADI,
        segment_rules.LEAD_TIME_CV,
        segment_rules.ON_TIME_RATE,
        segment_rules.SUPPLIER_FILL_RATE,
        segment_rules.IMPORT_DEPENDENCY,
        segment_rules.N_SUPPLIERS,
        "cv",
        "cv_raw",
        "cv2",
        "cv2_raw",
    ]
    assert set(read) <= set(attribute_names())


# ------------------------------------------------------------------------- driver config errors


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        (
            AbcConfig,
            {"cum_share_cutoffs": [0.95, 0.8]},
            r"abc.cum_share_cutoffs must be strictly increasing \(first cut-off < second\), got \[0.95, 0.8\]",
        ),
        (
            AbcConfig,
            {"cum_share_cutoffs": [0.8, 1.2]},
            r"abc.cum_share_cutoffs must lie in \[0, 1\]",
        ),
        (XyzConfig, {"cv_cutoffs": [1.0, 0.5]}, r"xyz.cv_cutoffs must be strictly increasing"),
        (
            RiskConfig,
            {"score_cutoffs": [0.6, 0.6]},
            r"risk.score_cutoffs must be strictly increasing",
        ),
        (
            PatternConfig,
            {"kh_alpha": 0.3},
            r"kh_alpha \(0.3\) only applies to method kostenko_hyndman",
        ),
        (RiskWeights, {k: 0 for k in RiskWeights.model_fields}, r"risk.weights are all 0"),
    ],
)
def test_bad_driver_settings_say_what_to_write(model, data, message):
    with pytest.raises(ValidationError, match=message):
        model.model_validate(data)


def test_age_class_is_new_below_the_one_history_threshold():
    ages = pd.Series([0.0, 12.0, 13.0, 40.0, np.nan])
    got = age_class(ages, HistoryConfig(min_periods=13))
    assert got.tolist() == ["new", "new", "established", "established", "unknown"]
    assert age_class(ages, HistoryConfig(min_periods=41)).tolist()[3] == "new"


def test_the_old_history_key_says_what_it_is_called_now():
    with pytest.raises(ValueError, match="'min_periods_observed' is now 'min_periods'"):
        HistoryConfig.model_validate({"min_periods_observed": 13})
