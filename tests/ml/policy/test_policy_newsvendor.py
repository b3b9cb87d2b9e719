"""Critical ratio, newsvendor base stock and the cost-based service level."""

import numpy as np
import pytest
from stockpyl.newsvendor import newsvendor_normal

from ml.errors import StrataError
from ml.policy.newsvendor import (
    cost_based_service_level,
    critical_ratio,
    newsvendor_normal_base_stock,
)


def test_snyder_shen_example_4_3_normal_newsvendor():
    """Snyder & Shen (2019) Example 4.3: h = 0.18, p = 0.70, N(50, 8) -> S* = 56.60395592743389."""
    assert critical_ratio(0.70, 0.18) == pytest.approx(0.7 / 0.88, rel=1e-15)
    s = newsvendor_normal_base_stock(0.18, 0.70, 50.0, 8.0)
    assert s == pytest.approx(56.60395592743389, rel=1e-12)


def test_newsvendor_matches_stockpyl_on_random_instances():
    """Snyder & Shen's Problem 4.1 data first (h = 43, p = 79, N(900, 60)), then random."""
    rng = np.random.default_rng(4)
    h = np.r_[43.0, rng.uniform(0.01, 10, 100)]
    p = np.r_[79.0, rng.uniform(0.01, 100, 100)]
    mean = np.r_[900.0, rng.uniform(1, 1000, 100)]
    sd = np.r_[60.0, rng.uniform(0.1, 300, 100)]
    ours = newsvendor_normal_base_stock(h, p, mean, sd)
    theirs = [newsvendor_normal(*args)[0] for args in zip(h, p, mean, sd, strict=True)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-9)


def test_cost_based_service_level_below_target_for_thin_margins():
    """Price 10, cost 8 (margin 2), 25%/yr holding, 4-week cycle:
    h = 8 x 0.25 x 4/52 = 0.1538; CR = 2 / 2.1538 = 0.9286 < 0.95 target -> planned at 0.9286.
    Price 40 (margin 32): CR = 32 / 32.1538 = 0.9952 >= 0.95 -> capped at the target."""
    result = cost_based_service_level(
        unit_price=[10.0, 40.0],
        unit_cost=8.0,
        holding_cost_rate=0.25,
        cycle_periods=4.0,
        target_service_level=0.95,
    )
    holding = 8.0 * 0.25 * 4.0 / 52.0
    np.testing.assert_allclose(result.critical_ratio, [2 / (2 + holding), 32 / (32 + holding)])
    np.testing.assert_allclose(result.service_level, [2 / (2 + holding), 0.95])
    np.testing.assert_array_equal(result.differs_from_target, [True, False])


def test_no_margin_is_a_bad_input():
    with pytest.raises(
        StrataError, match=r"margin has 1 of 2 rows outside \(0, inf\) — margin\[1\] = -1"
    ):
        cost_based_service_level([10.0, 7.0], 8.0, 0.25, 4.0, 0.95)
