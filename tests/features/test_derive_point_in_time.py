"""Point in time: data dated after as_of never changes a snapshot."""

from __future__ import annotations

from datetime import date

import pandas as pd
from derive_tables import demand, demand_row, monday, products, supply
from pandas.testing import assert_frame_equal

from features.derive import derive_attributes
from ml.config import Calendar, FeaturesConfig

AS_OF = date(2024, 3, 27)  # a Wednesday: the week of Monday 2024-03-25 is not complete
CAL = Calendar(window_periods=8, recent_periods=2)
CFG = FeaturesConfig(seasonal_history_periods=8)


def lines(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["sku_id", "date", "customer_id", "qty"])
    return frame.assign(
        date=pd.to_datetime(frame["date"]).astype("datetime64[us]"), country="UK", kind="sale"
    )


def known_on_as_of() -> dict[str, pd.DataFrame]:
    rows = [demand_row("A", w, 5 + w % 3) for w in range(1, 9)]  # weeks up to 2024-03-18
    rows += [demand_row("B", 2, 4), demand_row("B", 1, -1, kind="return")]
    return {
        "products": products(),
        "demand": demand(rows),
        "demand_lines": lines([("A", "2024-03-19", "c1", 5.0), ("A", "2024-03-20", "c2", 1.0)]),
        "supply": supply(
            [
                ("A", "S1", "2024-01-01", "2024-01-11", "2024-01-12", 10, 10, "CN", "GB"),
                ("A", "S1", "2024-03-01", "2024-04-10", None, 10, None, "CN", "GB"),
            ]
        ),
    }


def with_later_data() -> dict[str, pd.DataFrame]:
    t = known_on_as_of()
    later = [
        demand_row("A", 0, 500),  # the week holding as_of: ends after it
        demand_row("A", -1, 900),  # next week
        demand_row("C", 0, 50),
        demand_row("B", 0, -3, kind="return"),
    ]
    t["demand"] = pd.concat([t["demand"], demand(later)], ignore_index=True)
    t["demand_lines"] = pd.concat(
        [
            t["demand_lines"],
            lines([("A", "2024-03-28", "c9", 400.0), ("C", "2024-04-02", "c1", 1)]),
        ],
        ignore_index=True,
    )
    s = t["supply"].copy()
    s.loc[1, ["receipt_date", "qty_received"]] = [pd.Timestamp("2024-03-29"), 4.0]  # received later
    extra = supply([("B", "S9", "2024-03-28", "2024-03-30", "2024-03-30", 5, 5, "FR", "GB")])
    t["supply"] = pd.concat([s, extra], ignore_index=True)
    launched_later = products().iloc[[0]].assign(sku_id="Z", launch_date=pd.Timestamp("2024-04-05"))
    t["products"] = pd.concat([t["products"], launched_later.astype(t["products"].dtypes)])
    return t


def test_data_after_as_of_changes_nothing():
    before = derive_attributes(known_on_as_of(), AS_OF, CAL, CFG)
    after = derive_attributes(with_later_data(), AS_OF, CAL, CFG)
    assert_frame_equal(before.frame, after.frame)
    assert before.report == after.report
    assert_frame_equal(before.unresolved, after.unresolved)


def test_the_window_ends_with_the_last_complete_period():
    report = derive_attributes(known_on_as_of(), AS_OF, CAL, CFG).report
    assert report["window"]["last_period"] == monday(1).date().isoformat() == "2024-03-18"
    assert report["window"]["last_day"] == "2024-03-24"


def test_the_same_data_counts_once_it_is_known():
    later = date(2024, 4, 7)  # a Sunday: the weeks of 03-25 and 04-01 are complete
    a = derive_attributes(with_later_data(), later, CAL, CFG).frame.set_index("sku_id")
    assert a.total_qty["A"] > 1000  # the 500 and 900 weeks are in
    assert "Z" in a.index  # launched 2024-04-05
    assert a.n_suppliers["B"] == 1 and a.n_customers["A"] == 3
