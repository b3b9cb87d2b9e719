"""The empirical bootstrap of lead-time demand: random lead times and the fill-rate reorder point."""

import numpy as np
import pytest

from ml.policy.bootstrap import (
    bootstrap_lead_time_demand,
    empirical_fill_rate,
    empirical_fill_rate_reorder_point,
)


def test_bootstrap_samples_spread_with_a_random_lead_time():
    history = np.full((1, 10), 5.0)
    fixed = bootstrap_lead_time_demand(history, 3.0, 0.0, 500, seed=1, lead_time_sd=0.0)
    random = bootstrap_lead_time_demand(history, 3.0, 0.0, 4000, seed=1, lead_time_sd=1.0)
    assert np.allclose(fixed, 15.0)
    assert random.mean() == pytest.approx(15.0, rel=0.03)
    assert random.std() == pytest.approx(5.0, rel=0.1)  # d sigma_L = 5 x 1


def test_empirical_fill_rate_reorder_point_is_the_lowest_that_reaches_the_target():
    samples = np.arange(100.0)[None, :]
    r = empirical_fill_rate_reorder_point(samples, np.array([0.95]), np.array([10.0]))
    assert empirical_fill_rate(samples, r, np.array([10.0]))[0] >= 0.95
    assert empirical_fill_rate(samples, r - 0.01, np.array([10.0]))[0] < 0.95
