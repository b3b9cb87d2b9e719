"""Reasons read as plain sentences worded from the attribute registry."""

from __future__ import annotations

import math

import pytest

from ml.attributes import ATTRIBUTES, attributes_for
from ml.wording import format_value, reason_text, reason_texts, segment_title, wording_table

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
    assert rows == [
        reason_text("adi", 4.2, 1.0, "s", rank=1, wording=W["adi"], typical=1.3),
        reason_text("family", "A", -1.0, "t", rank=2),
    ]
    assert segment_title("core_fast_movers") == "Core fast movers"
