"""The dense history: period grid, key codes, and the same result along every input path."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from derive_tables import demand, demand_row

from features.attributes_demand import demand_attributes
from features.attributes_value import MasterValues, value_attributes
from features.demand_matrix import (
    demand_history_from_batches,
    demand_history_from_frame,
    demand_history_from_parquet,
)
from features.dense_ops import scatter_add
from features.key_index import KeyIndex
from features.period_grid import PeriodGrid
from ml.config import Calendar, FeaturesConfig

CAL = Calendar(window_periods=6, recent_periods=2)
CFG = FeaturesConfig(seasonal_history_periods=8, workers=1)
AS_OF = date(2024, 3, 31)


def grid() -> PeriodGrid:
    return PeriodGrid.for_as_of(AS_OF, CAL, 8)


@pytest.mark.parametrize(
    ("as_of", "bucket", "last_start"),
    [
        (date(2024, 3, 31), "week", date(2024, 3, 25)),  # Sunday: its week is complete
        (date(2024, 3, 27), "week", date(2024, 3, 18)),  # Wednesday: the week before
        (date(2024, 3, 31), "month", date(2024, 3, 1)),  # month end: its month
        (date(2024, 3, 30), "month", date(2024, 2, 1)),  # not yet: the month before
    ],
)
def test_the_latest_period_is_the_last_complete_one(as_of, bucket, last_start):
    g = PeriodGrid.for_as_of(as_of, Calendar(bucket=bucket), 52)
    assert g.last_start == last_start


def test_period_index_of_dates():
    g = grid()  # 8 weeks, the last starting 2024-03-25
    days = np.array(["2024-02-05", "2024-02-11", "2024-03-25", "2024-04-01", "2024-01-29"])
    assert g.index_of(days.astype("datetime64[us]")).tolist() == [0, 0, 7, 8, -1]
    assert (g.window_start, g.window_end) == (date(2024, 2, 19), date(2024, 3, 31))


def test_key_codes_follow_first_sight():
    keys = KeyIndex()
    assert keys.codes(np.array(["b", "a"], dtype=object)).tolist() == [0, 1]
    assert keys.codes(np.array(["a", "c", "a"], dtype=object)).tolist() == [1, 2, 1]
    assert keys.keys()[0].tolist() == ["b", "a", "c"]


def rows() -> list[dict[str, object]]:
    rng = np.random.default_rng(3)
    out = []
    for sku in ["A", "B", "C", "D"]:
        for w in range(9, -1, -1):  # two weeks before the 8-week span: first sale only
            if rng.random() < 0.7:
                q = float(rng.integers(1, 20))
                out.append(demand_row(sku, w, q, cost=None if rng.random() < 0.2 else q / 2))
    out += [demand_row("B", 1, -2, kind="return"), demand_row("C", 0, 3, location_id="L2")]
    return out


def attributes(history) -> dict[str, np.ndarray]:
    values = value_attributes(history, MasterValues.unknown(history.n), CFG).values
    return demand_attributes(history, CAL, CFG) | values


def by_key(history) -> pd.DataFrame:
    return pd.DataFrame(attributes(history), index=history.keys[0]).sort_index()


def test_shuffled_rows_and_small_batches_give_the_same_attributes(tmp_path):
    frame = demand(rows())
    sorted_ = by_key(demand_history_from_frame(frame, grid(), KeyIndex()))
    shuffled = frame.sample(frac=1, random_state=0)
    assert by_key(demand_history_from_frame(shuffled, grid(), KeyIndex())).equals(sorted_)
    table = pa.Table.from_pandas(shuffled, preserve_index=False)
    for workers in (1, 2):
        history = demand_history_from_batches(
            table.to_batches(max_chunksize=3), grid(), KeyIndex(), workers=workers
        )
        pd.testing.assert_frame_equal(by_key(history), sorted_, rtol=1e-12)
    path = tmp_path / "demand.parquet"
    frame.to_parquet(path, index=False, row_group_size=7)
    from_file = by_key(demand_history_from_parquet(path, grid(), workers=2))
    pd.testing.assert_frame_equal(from_file, sorted_, rtol=1e-12)


def test_history_holds_units_sums_and_first_sales():
    frame = demand(
        [
            demand_row("A", 9, 4),  # before the 8-week span: counts for the first sale only
            demand_row("A", 3, 5, cost=None),
            demand_row("A", 3, 1, location_id="L2"),  # same week, other location: summed
            demand_row("A", 0, 2, kind="cancellation"),
            demand_row("B", 6, 3),  # in the span, not in the 6-week window
        ]
    )
    h = demand_history_from_frame(frame, grid(), KeyIndex())
    assert h.qty.tolist() == [[0, 0, 0, 0, 6, 0, 0, 0], [0, 3, 0, 0, 0, 0, 0, 0]]
    assert h.first_sale.tolist() == [-2, 1] and h.last_sale.tolist() == [4, 1]
    assert h.revenue.tolist() == [12, 0] and h.returned_qty.tolist() == [2, 0]
    assert h.cost_known.tolist() == [1, 0] and h.qty_cost_known.tolist() == [1, 0]
    assert h.revenue_cost_unknown.tolist() == [10, 0] and h.qty_cost_unknown.tolist() == [5, 0]
    a = demand_attributes(h, CAL, CFG)
    assert a["age_periods"].tolist() == [9, 6]  # A first sold 9 weeks before the latest
    # B sold before the window: observed over the whole window, without a sale in it
    assert a["periods_observed"].tolist() == [6, 6] and a["total_qty"].tolist() == [6, 0]
    assert np.isnan(a["adi"][1]) and a["zero_share"][1] == 1


@pytest.mark.parametrize(
    "index",
    [
        [1, 3, 4],  # strictly increasing: fancy-index add
        [4, 1, 4, 3],  # repeats within a narrow range: bincount
        [0, 100_000, 0],  # repeats spread wide: ufunc.at
    ],
)
def test_scatter_add_sums_repeated_indices(index):
    target = np.zeros(100_001)
    weights = np.arange(1.0, len(index) + 1)
    scatter_add(target, np.array(index), weights)
    expected = np.zeros(100_001)
    np.add.at(expected, index, weights)
    assert np.array_equal(target, expected)
