"""Segment and service-class targets tuned on a replay: the Lagrangian over measured points, the
composed policies."""

import numpy as np
import pandas as pd
import pytest

from ml import columns as C
from ml.columns import SEGMENT
from ml.segment_policies import SegmentPolicies
from planning.backtest_tuning import (
    class_edges,
    class_key,
    grouped_curves,
    segment_curves,
    service_class,
    tuned_levels,
    tuned_policies,
)


def _by_segment(rows):
    """A replay's by_segment: segment, demand, fill rate, inventory value (plus the "all" row)."""
    frame = pd.DataFrame(
        rows, columns=[SEGMENT, C.DEMAND_UNITS, C.FILL_RATE, C.AVG_INVENTORY_VALUE]
    )
    total = frame[C.DEMAND_UNITS].sum()
    fill = (frame[C.DEMAND_UNITS] * frame[C.FILL_RATE]).sum() / total
    all_row = ["all", total, fill, frame[C.AVG_INVENTORY_VALUE].sum()]
    return pd.concat([frame, pd.DataFrame([all_row], columns=frame.columns)], ignore_index=True)


# Two segments of 100 units each. A: 80 sold for 10, 90 for 30; B: 80 for 10, 95 for 12.
CURVES = segment_curves(
    [
        (0.8, _by_segment([("A", 100, 0.80, 10.0), ("B", 100, 0.80, 10.0)])),
        (0.9, _by_segment([("A", 100, 0.90, 30.0), ("B", 100, 0.95, 12.0)])),
    ]
)


def test_curves_hold_units_sold_per_segment_and_level_without_the_total():
    assert set(CURVES[SEGMENT]) == {"A", "B"}
    b = CURVES[(CURVES[SEGMENT] == "B") & (CURVES["level"] == 0.9)].iloc[0]
    assert b[C.SALES_UNITS] == pytest.approx(95.0) and b[C.AVG_INVENTORY_VALUE] == 12.0


@pytest.mark.parametrize(
    ("target", "want"),
    [
        # 175 of 200 units: raise B (15 more units for 2) not A (10 more for 20): 22 in stock
        (0.875, {"A": 0.8, "B": 0.9}),
        (0.80, {"A": 0.8, "B": 0.8}),  # both low already reach it
        (0.925, {"A": 0.9, "B": 0.9}),  # 185 units: only both high
        (0.99, {"A": 0.9, "B": 0.9}),  # out of reach: the most each can sell
    ],
)
def test_the_cheapest_levels_that_reach_the_target_by_enumeration(target, want):
    assert tuned_levels(CURVES, target) == want


def test_a_segments_floor_and_ceiling_bound_its_levels():
    # 160 of 200 units: both low reach it, but A's floor is 0.9; B's ceiling 0.85 holds no
    # sweep level, so B takes the nearest one (0.8)
    assert tuned_levels(CURVES, 0.80, bounds={"A": (0.9, 0.995)}) == {"A": 0.9, "B": 0.8}
    assert tuned_levels(CURVES, 0.925, bounds={"B": (0.5, 0.85)}) == {"A": 0.9, "B": 0.8}
    # A's floor 0.95 holds no sweep level either: A at its nearest, 0.9 (90 units), and B
    # at 0.8 would sell 170 of the 175 units needed, so B rises too
    assert tuned_levels(CURVES, 0.875, bounds={"A": (0.95, 0.99)}) == {"A": 0.9, "B": 0.9}


def test_tuned_levels_match_brute_force_on_random_convex_curves():
    rng = np.random.default_rng(7)
    levels = [0.8, 0.85, 0.9, 0.95, 0.99]
    for _ in range(20):
        by_level = []
        # concave sales in stock: each step buys fewer units for more inventory
        inv = np.cumsum(rng.uniform(1, 5, (3, 5)) * np.arange(1, 6), axis=1)
        gain = np.cumsum(rng.uniform(1, 3, (3, 5))[:, ::-1], axis=1) + 60
        for j, lv in enumerate(levels):
            rows = [(s, 100, gain[i, j] / 100, inv[i, j]) for i, s in enumerate("XYZ")]
            by_level.append((lv, _by_segment(rows)))
        curves = segment_curves(by_level)
        target = rng.uniform(gain[:, 0].sum(), gain[:, -1].sum()) / 300
        got = tuned_levels(curves, target)
        best = None
        for a in range(5):
            for b in range(5):
                for c in range(5):
                    pick = (a, b, c)
                    sold = sum(gain[i, p] for i, p in enumerate(pick))
                    stock = sum(inv[i, p] for i, p in enumerate(pick))
                    if sold >= target * 300 and (best is None or stock < best[0]):
                        best = (stock, pick)
        stock = sum(inv[i, levels.index(got[s])] for i, s in enumerate("XYZ"))
        # a Lagrangian choice is optimal on the convex hull: never above the enumeration's best
        # by more than one step of one segment, and exact when the hull holds every point
        assert stock <= best[0] + inv.max() - inv.min()
        sold = sum(gain[i, levels.index(got[s])] for i, s in enumerate("XYZ"))
        assert sold >= target * 300 - 1e-9


# One segment in two cycle-value bands of 100 units. Band 0 (cheaper per cycle): 80 sold for 10,
# 85 for 30; band 1: 80 for 10, 95 for 12. T: a segment without bands, 80 for 10, 90 for 11.
BANDED = segment_curves(
    [
        (0.8, _by_segment([("S#0", 100, 0.80, 10.0), ("S#1", 100, 0.80, 10.0)])),
        (0.9, _by_segment([("S#0", 100, 0.85, 30.0), ("S#1", 100, 0.95, 12.0)])),
    ]
)


def test_monotone_classes_pool_a_band_that_would_plan_above_its_cheaper_neighbour():
    # 175 of 200 units. Free: band 1 up alone (95 + 80 = 175 for 22). Bands may not rise with
    # cycle value, so the monotone choices are (0.8, 0.8): 160 units, (0.9, 0.8): 165,
    # (0.9, 0.9): 180 for 42, the only one that reaches the target.
    assert tuned_levels(BANDED, 0.875) == {"S#0": 0.8, "S#1": 0.9}
    assert tuned_levels(BANDED, 0.875, monotone=True) == {"S#0": 0.9, "S#1": 0.9}
    assert tuned_levels(BANDED, 0.80, monotone=True) == {"S#0": 0.8, "S#1": 0.8}


def test_monotone_levels_match_brute_force_over_ordered_choices():
    rng = np.random.default_rng(11)
    levels = [0.8, 0.85, 0.9, 0.95, 0.99]
    names = ["S#0", "S#1", "S#2"]
    for _ in range(20):
        inv = np.cumsum(rng.uniform(1, 5, (3, 5)) * np.arange(1, 6), axis=1)
        gain = np.cumsum(rng.uniform(1, 3, (3, 5))[:, ::-1], axis=1) + 60
        by_level = [
            (lv, _by_segment([(n, 100, gain[i, j] / 100, inv[i, j]) for i, n in enumerate(names)]))
            for j, lv in enumerate(levels)
        ]
        target = rng.uniform(gain[:, 0].sum(), gain[:, -1].sum()) / 300
        got = tuned_levels(segment_curves(by_level), target, monotone=True)
        pick = [levels.index(got[n]) for n in names]
        assert pick[0] >= pick[1] >= pick[2]  # no band above a cheaper one
        ordered = [
            (a, b, c)
            for a in range(5)
            for b in range(a + 1)
            for c in range(b + 1)
            if sum(gain[i, p] for i, p in enumerate((a, b, c))) >= target * 300
        ]
        best = min(sum(inv[i, p] for i, p in enumerate(o)) for o in ordered)
        stock = sum(inv[i, p] for i, p in enumerate(pick))
        # a Lagrangian's gap: at most one level step of one pooled block (<= 3 bands)
        assert stock <= best + 3 * np.diff(inv, axis=1).max()
        assert sum(gain[i, p] for i, p in enumerate(pick)) >= target * 300 - 1e-9


def _set(level):
    pol = pd.DataFrame(
        {C.SKU_ID: ["a1", "a2", "b1", "c1"], SEGMENT: ["A", "A", "B", "C"], "level": level}
    )
    return SegmentPolicies(policies=pol, flagged=pol.iloc[:0].copy())


def test_tuned_policies_take_each_products_row_at_its_segments_level():
    sweep = [(0.9, _set(0.9)), (0.8, _set(0.8)), (0.95, _set(0.95))]
    got = tuned_policies(sweep, {"A": 0.8, "B": 0.95}, default=0.9).policies.set_index(C.SKU_ID)
    assert got.loc[["a1", "a2", "b1", "c1"], "level"].tolist() == [0.8, 0.8, 0.95, 0.9]
    assert len(got) == 4  # every product once


def _priced(segment, value, q=10.0, d=1.0, sd=1.0):
    """Policy rows whose cycle value (unit value x Q / d) is ``value`` x Q / d."""
    n = len(value)
    return pd.DataFrame(
        {
            C.SKU_ID: [f"{segment}{i}" for i in range(n)],
            SEGMENT: segment,
            C.UNIT_VALUE: np.asarray(value, dtype=np.float64),
            C.ORDER_QTY: q,
            C.DEMAND_MEAN: d,
            C.LEAD_TIME_DEMAND_SD: sd,
        }
    )


def test_class_edges_cut_each_segment_into_equally_populated_cycle_value_bands():
    pol = pd.concat([_priced("A", [1, 2, 3, 4, 5, 6, 7, 8]), _priced("B", [5])])
    edges = class_edges(pol, 4)
    # cycle values 10..80: quartiles of 10, 20, ..., 80 (numpy's linear interpolation)
    assert np.allclose(edges["A"], [27.5, 45.0, 62.5]) and edges["B"].size == 0
    got = service_class(pol, edges)
    assert list(got) == ["A#0", "A#0", "A#1", "A#1", "A#2", "A#2", "A#3", "A#3", "B#0"]


def test_a_product_with_certain_demand_or_no_policy_numbers_falls_in_the_first_band():
    pol = _priced("A", [1, 2, 3, 4], sd=np.array([1.0, 1.0, 1.0, 0.0]))
    edges = {"A": np.array([25.0])}
    assert list(service_class(pol, edges)) == ["A#0", "A#0", "A#1", "A#0"]
    flagged = pd.DataFrame({C.SKU_ID: ["x"], SEGMENT: ["A"]})  # no policy: no cycle value
    assert list(service_class(flagged, edges)) == ["A#0"]


def test_class_curves_sum_each_classes_outcomes_per_level():
    pol = _priced("A", [1, 2, 3, 4])
    edges = {"A": np.array([25.0])}
    out = pd.DataFrame(
        {
            C.DEMAND_UNITS: [10.0, 20.0, 30.0, 40.0],
            C.SALES_UNITS: [9.0, 18.0, 30.0, 35.0],
            C.AVG_INVENTORY_VALUE: [1.0, 2.0, 3.0, 4.0],
        }
    )
    got = grouped_curves([(0.9, out, pol)], class_key(edges)).set_index(SEGMENT)
    assert got.loc["A#0", C.DEMAND_UNITS] == 30.0 and got.loc["A#0", C.SALES_UNITS] == 27.0
    assert got.loc["A#1", C.AVG_INVENTORY_VALUE] == 7.0 and set(got["level"]) == {0.9}


def test_tuned_policies_by_class_take_each_products_row_at_its_classes_level():
    def priced_set(level):
        pol = pd.concat([_priced("A", [1, 2, 3, 4]), _priced("C", [1])]).assign(level=level)
        return SegmentPolicies(policies=pol, flagged=pol.iloc[:0].copy())

    sweep = [(lv, priced_set(lv)) for lv in (0.9, 0.8, 0.95)]
    edges = {"A": np.array([25.0])}
    levels = {"A#0": 0.8, "A#1": 0.95}  # C was not learned: the default level
    got = tuned_policies(sweep, levels, default=0.9, key=class_key(edges)).policies.set_index(
        C.SKU_ID
    )
    assert got.loc[["A0", "A1", "A2", "A3", "C0"], "level"].tolist() == [0.8, 0.8, 0.95, 0.95, 0.9]
