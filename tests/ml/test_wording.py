"""Reasons read as plain sentences worded from the attribute registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ml.attributes import ATTRIBUTES, attributes_for
from ml.wording import (
    _fixed,
    format_value,
    format_values,
    reason_text,
    reason_texts,
    segment_title,
    wording_table,
)

W = wording_table(ATTRIBUTES)


def test_the_designed_example():
    text = reason_text(
        "adi", 4.2, 1.7, "intermittent_slow_movers", rank=1, wording=W["adi"], typical=1.3
    )
    assert text == (
        "Sells in about 1 of every 4 weeks (average number of weeks between sales 4.2 weeks; "
        "high: sells rarely) — the strongest reason for Intermittent slow movers"
    )


def test_a_low_value_says_what_high_would_mean_and_the_sign_sets_the_role():
    text = reason_text("cv2", 0.09, -0.4, "lumpy_demand", rank=2, wording=W["cv2"], typical=0.27)
    assert text.startswith("How much the size of a sale varies")
    assert "0.09 (low, typical 0.27; high would mean order sizes vary a lot (lumpy))" in text
    assert text.endswith("— speaks against Lumpy demand")
    second = reason_text("cv2", 2.0, 0.3, "lumpy_demand", rank=2, wording=W["cv2"], typical=0.3)
    assert second.endswith("— points to Lumpy demand")


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.97, "share (0-1)", "97%"),
        (0.55, "share of revenue", "55% of revenue"),
        (1.0, "weeks", "1 week"),
        (1.0, "units per week", "1 unit per week"),
        (18460.2, "GBP", "18,460 GBP"),
        (12.25, "days", "12.2 days"),
        (0.4567, "ratio", "0.46"),
        (math.nan, "days", "unknown"),
        ("F41", "", "'F41'"),
    ],
)
def test_format_value(value, unit, shown):
    assert format_value(value, unit) == shown


def test_calendar_wording_follows_the_bucket():
    monthly = wording_table(attributes_for("month", 3, "EUR"))
    text = reason_text("adi", 3.0, 1.0, "x", wording=monthly["adi"], typical=1.0)
    assert text.startswith("Sells in about 1 of every 3 months")
    money = reason_text("revenue", 5000.0, 1.0, "x", wording=monthly["revenue"], typical=10.0)
    assert "5,000 EUR" in money


def test_descriptors_and_missing_values():
    assert reason_text("family", "Candles", 0.8, "long_tail") == (
        "Product family is 'Candles' — the strongest reason for Long tail"
    )
    assert reason_text("supplier_id", None, 0.1, "x", rank=2) == "Supplier is unknown — points to X"
    missing = reason_text(
        "lead_time_mean_days", math.nan, 0.2, "x", rank=3, wording=W["lead_time_mean_days"]
    )
    assert missing == "Average days from order to receipt is unknown — points to X"


def test_reason_texts_is_reason_text_per_row():
    rows = reason_texts(
        ["adi", "family"], [4.2, "A"], [1.0, -1.0], ["s", "t"], [1, 2], W, {"adi": 1.3}
    )
    assert list(rows) == [
        reason_text("adi", 4.2, 1.0, "s", rank=1, wording=W["adi"], typical=1.3),
        reason_text("family", "A", -1.0, "t", rank=2),
    ]
    assert segment_title("core_fast_movers") == "Core fast movers"


# the texts below are written by hand from the rules and the weekly registry entries
@pytest.mark.parametrize(
    ("feature", "value", "shap", "rank", "typical", "text"),
    [
        (
            "adi",
            1.0,
            0.5,
            2,
            1.3,
            "Sells almost every week (average number of weeks between sales 1 week; low, typical "
            "1.3 weeks; high would mean sells rarely) — points to Core",
        ),
        (
            "staleness_periods",
            0.0,
            -0.2,
            1,
            0.0,
            "Sold in the latest week (weeks since the last sale (0 = sold in the latest week) "
            "0 weeks; high means has stopped selling) — speaks against Core",
        ),
        (
            "staleness_periods",
            14.0,
            0.0,
            1,
            None,
            "Last sold 14 weeks ago (weeks since the last sale (0 = sold in the latest week) "
            "14 weeks; high means has stopped selling) — neutral for Core",
        ),
        (
            "age_periods",
            104.0,
            0.3,
            1,
            60.0,
            "First sold 104 weeks ago (weeks since the first-ever sale (0 = first sold in the "
            "latest week) 104 weeks; high: an established product) — the strongest reason for "
            "Core",
        ),
        (
            "adi",
            1.4,
            0.3,
            2,
            1.7,
            "Sells in about 7 of every 10 weeks (average number of weeks between sales 1.4 "
            "weeks; low, typical 1.7 weeks; high would mean sells rarely) — points to Core",
        ),
        (
            "zero_share",
            0.42,
            0.3,
            3,
            0.2,
            "Share of observed weeks with no sale: 42% (high: mostly idle) — points to Core",
        ),
        (
            "revenue",
            1234567.5,
            0.3,
            1,
            None,
            "Sales revenue in the window: 1,234,568 EUR (high means an important product by "
            "turnover) — the strongest reason for Core",
        ),
    ],
)
def test_each_wording_rule_on_a_worked_example(feature, value, shap, rank, typical, text):
    wording = wording_table(attributes_for("week", 52, "EUR"))[feature]
    got = reason_text(feature, value, shap, "core", rank=rank, wording=wording, typical=typical)
    assert got == text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.005, "0.01"),  # 0.005 is stored a little above 0.005
        (0.015, "0.01"),  # and 0.015 a little below
        (2.25, "2.2"),  # an exact tie goes to the even digit
        (-0.004, "-0.00"),
        (-0.0, "-0"),
        (99.96, "100"),
        (999.5, "1000"),
        (1e20, "100,000,000,000,000,000,000"),
        (math.inf, "inf"),
        (-7.0, "-7"),
    ],
)
def test_numbers_round_as_python_writes_them(value, shown):
    assert format_value(value, "ratio") == shown


_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2000, max_value=2000),
    st.integers(-200_000, 200_000).map(lambda i: i / 200),  # near and on rounding ties
    st.sampled_from([0.0, -0.0, 1.0, 1.05, 0.995, 9.95, 99.95, 999.5, 1e13, 2.0**53]),
)
_VALUE = st.one_of(_NUMBER, st.none(), st.text(max_size=4), st.integers(-5000, 5000))
_FEATURES = [*sorted(W), "family", "supplier_id", "region", "colour_code"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_FEATURES),
            _VALUE,
            st.one_of(st.floats(-5, 5), st.just(0.0), st.just(math.nan)),
            st.sampled_from(["core_fast_movers", "long_tail", "x"]),
            st.integers(1, 5),
        ),
        min_size=1,
        max_size=40,
    ),
    st.dictionaries(st.sampled_from(sorted(W)), st.one_of(_NUMBER, st.just(math.nan))),
)
def test_reason_texts_over_arrays_equal_reason_text_row_by_row(rows, typical):
    # round(inf) has no integer to word, on either path
    assume(not any(f == "adi" and isinstance(v, float) and v == math.inf for f, v, *_ in rows))
    features, values, shaps, segments, ranks = (list(c) for c in zip(*rows, strict=True))
    many = reason_texts(features, values, shaps, segments, ranks, W, typical)
    one_by_one = [
        reason_text(f, v, s, seg, rank=r, wording=W.get(f), typical=typical.get(f))
        for f, v, s, seg, r in rows
    ]
    assert list(many) == one_by_one


@settings(max_examples=500, deadline=None)
@given(st.lists(_NUMBER, min_size=1, max_size=30), st.integers(0, 2), st.booleans())
def test_fixed_writes_what_python_format_writes(values, decimals, strip):
    v = np.array(values, dtype=float)
    d = np.full(len(v), decimals)
    commas = np.full(len(v), decimals == 0)
    want = [format(x, ",.0f" if decimals == 0 else f".{decimals}f") for x in values]
    if strip:
        want = [w.removesuffix(".0") for w in want]
    assert list(_fixed(v, d, commas, np.full(len(v), strip))) == want


def test_format_values_keeps_text_quoted_and_missing_unknown():
    assert list(format_values(["F41", None, math.nan, 0.5], "share (0-1)")) == [
        "'F41'",
        "unknown",
        "unknown",
        "50%",
    ]


def test_reason_texts_says_which_lengths_differ():
    with pytest.raises(ValueError, match="lengths 2, 1, 2, 2, 2; give one entry per reason"):
        reason_texts(["adi", "cv2"], [1.0], [1.0, 1.0], ["s", "s"], [1, 2], W, {})
