"""Lead-time demand for intermittent and lumpy products: stockpyl losses, simulation, bootstrap."""

import numpy as np
import pytest
from scipy import stats
from stockpyl.loss_functions import gamma_loss, negative_binomial_loss, poisson_loss
from stockpyl.newsvendor import newsvendor_poisson

from ml.errors import StrataError
from ml.policy.bootstrap import (
    bootstrap_fill_rate,
    bootstrap_lead_time_demand,
    bootstrap_reorder_point,
)
from ml.policy.intermittent import (
    INTERMITTENT_METHODS,
    compound_poisson_parameters,
    intermittent_expected_shortage,
    intermittent_fill_rate,
    intermittent_fill_rate_reorder_point,
    intermittent_reorder_point,
    lead_time_demand_moments,
)

# A lumpy product: 0.3 demands per week of 12 +- 9 units, 4 weeks' lead time.
RATE, SIZE, SIZE_SD, LEAD = 0.3, 12.0, 9.0, 4.0


@pytest.fixture(scope="module")
def simulated_lead_time_demand():
    """400,000 draws of the compound Poisson-gamma lead-time demand, seeded."""
    rng = np.random.default_rng(2024)
    counts = rng.poisson(RATE * LEAD, 400_000)
    shape, scale = (SIZE / SIZE_SD) ** 2, SIZE_SD**2 / SIZE
    draws = np.zeros(counts.size)
    positive = counts > 0
    draws[positive] = rng.gamma(shape * counts[positive], scale)
    return draws


def test_snyder_shen_poisson_newsvendor_doctest():
    """stockpyl.newsvendor.newsvendor_poisson(0.18, 0.70, 50) = 56 (Snyder & Shen 2019, ch. 4):
    the smallest S with F(S) >= p/(p+h) under Poisson(50) demand, our 'poisson' method."""
    alpha = 0.70 / 0.88
    ours = intermittent_reorder_point(
        alpha, demand_rate=50.0, size_mean=1.0, size_sd=0.0, lead_time=1.0, method="poisson"
    )
    assert ours == 56.0 == newsvendor_poisson(0.18, 0.70, 50)[0]


def test_poisson_loss_matches_stockpyl():
    rng = np.random.default_rng(8)
    mean = rng.uniform(0.05, 40, 200)
    x = rng.integers(0, 60, 200).astype(float)
    ours = intermittent_expected_shortage(x, mean, 1.0, 0.0, 1.0, method="poisson")
    theirs = [poisson_loss(int(xx), m)[0] for xx, m in zip(x, mean, strict=True)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_negative_binomial_loss_matches_stockpyl():
    """Our NB matches the compound Poisson mean and variance; stockpyl takes (mean, sd)."""
    rng = np.random.default_rng(9)
    rate, size, size_sd = (
        rng.uniform(0.05, 1, 200),
        rng.uniform(1.5, 20, 200),
        rng.uniform(0, 20, 200),
    )
    lead = rng.uniform(1, 10, 200)
    x = rng.integers(0, 80, 200).astype(float)
    ours = intermittent_expected_shortage(x, rate, size, size_sd, lead, method="negative_binomial")
    mean, var = lead_time_demand_moments(rate, size, size_sd, lead)
    theirs = [
        negative_binomial_loss(int(xx), mean=m, sd=np.sqrt(v))[0]
        for xx, m, v in zip(x, mean, var, strict=True)
    ]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_gamma_loss_matches_stockpyl():
    rng = np.random.default_rng(10)
    rate, size, size_sd = (
        rng.uniform(0.05, 1, 200),
        rng.uniform(1, 20, 200),
        rng.uniform(0.5, 20, 200),
    )
    lead = rng.uniform(1, 10, 200)
    x = rng.uniform(0.1, 100, 200)
    ours = intermittent_expected_shortage(x, rate, size, size_sd, lead, method="gamma")
    mean, var = lead_time_demand_moments(rate, size, size_sd, lead)
    theirs = [gamma_loss(xx, m * m / v, v / m)[0] for xx, m, v in zip(x, mean, var, strict=True)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_poisson_gamma_reorder_point_matches_simulation(simulated_lead_time_demand):
    draws = simulated_lead_time_demand
    for level in (0.8, 0.9, 0.95, 0.99):
        r = intermittent_reorder_point(level, RATE, SIZE, SIZE_SD, LEAD, method="poisson_gamma")
        simulated = np.mean(draws <= r)
        # Binomial standard error of the simulated probability, 4 of them.
        assert simulated == pytest.approx(level, abs=4 * np.sqrt(level * (1 - level) / draws.size))


def test_poisson_gamma_shortage_and_fill_rate_match_simulation(simulated_lead_time_demand):
    draws = simulated_lead_time_demand
    r, q = 30.0, 20.0
    shortage = intermittent_expected_shortage(r, RATE, SIZE, SIZE_SD, LEAD)
    simulated = np.maximum(draws - r, 0.0)
    assert shortage == pytest.approx(
        simulated.mean(), abs=4 * simulated.std() / np.sqrt(draws.size)
    )
    rate = intermittent_fill_rate(r, q, RATE, SIZE, SIZE_SD, LEAD)
    short = np.maximum(draws - r, 0.0) - np.maximum(draws - r - q, 0.0)
    assert rate == pytest.approx(
        1 - short.mean() / q, abs=4 * short.std() / q / np.sqrt(draws.size)
    )


def test_poisson_gamma_has_the_atom_at_zero_the_normal_misses():
    """P(no demand in 4 weeks) = exp(-1.2) = 0.301: a 30% service level needs no stock at all."""
    assert intermittent_reorder_point(0.30, RATE, SIZE, SIZE_SD, LEAD) == 0.0
    assert intermittent_reorder_point(0.30, RATE, SIZE, SIZE_SD, LEAD, method="normal") > 0.0
    # n(0) is the whole mean.
    assert intermittent_expected_shortage(0.0, RATE, SIZE, SIZE_SD, LEAD) == pytest.approx(
        RATE * LEAD * SIZE, rel=1e-12
    )


def test_fixed_sizes_are_a_scaled_poisson():
    """size_sd = 0: lead-time demand is size_mean x Poisson(rate L)."""
    r = intermittent_reorder_point(0.95, RATE, SIZE, 0.0, LEAD)
    assert r == SIZE * stats.poisson.ppf(0.95, RATE * LEAD)


def test_every_method_meets_its_service_level_on_arrays():
    rng = np.random.default_rng(12)
    n = 300
    rate, size = rng.uniform(0.05, 0.8, n), rng.uniform(1, 40, n)
    size_sd, lead = size * rng.uniform(0.2, 1.5, n), rng.uniform(1, 8, n)
    methods = rng.choice(INTERMITTENT_METHODS, n)
    r = intermittent_reorder_point(0.95, rate, size, size_sd, lead, method=methods)
    for name in INTERMITTENT_METHODS:
        rows = methods == name
        alone = intermittent_reorder_point(
            0.95, rate[rows], size[rows], size_sd[rows], lead[rows], method=name
        )
        np.testing.assert_allclose(r[rows], alone)
    q = 2 * size
    r_fill = intermittent_fill_rate_reorder_point(
        0.95, q, rate, size, size_sd, lead, method=methods
    )
    reached = intermittent_fill_rate(r_fill, q, rate, size, size_sd, lead, method=methods)
    assert np.all(reached >= 0.95 - 1e-9)
    discrete = np.isin(methods, ["poisson", "negative_binomial"])
    below = intermittent_fill_rate(r_fill - 1, q, rate, size, size_sd, lead, method=methods)
    assert np.all(below[discrete] < 0.95)  # the smallest integer that reaches it
    np.testing.assert_allclose(reached[~discrete], 0.95, atol=1e-9)


def test_no_demand_means_no_stock():
    assert intermittent_reorder_point(0.99, 0.0, SIZE, SIZE_SD, LEAD) == 0.0
    assert intermittent_fill_rate(0.0, 5.0, 0.0, SIZE, SIZE_SD, LEAD) == 1.0


def test_compound_poisson_parameters_keep_the_mean():
    """mean 3/period, ADI 4, CV² 0.5: one demand in 4 periods of 12 units, sd 12 sqrt(0.5)."""
    params = compound_poisson_parameters(3.0, 4.0, 0.5)
    assert params.demand_rate == 0.25 and params.size_mean == 12.0
    assert params.size_sd == pytest.approx(12.0 * np.sqrt(0.5))
    with pytest.raises(StrataError, match=r"adi = 0.5 is outside \[1, inf\)"):
        compound_poisson_parameters(3.0, 0.5, 0.5)


def test_unknown_method_is_named():
    with pytest.raises(StrataError, match=r"method 'croston' is not one of poisson_gamma"):
        intermittent_reorder_point(0.9, RATE, SIZE, SIZE_SD, LEAD, method="croston")


def test_bootstrap_of_constant_demand_is_exact():
    history = np.full((3, 20), 5.0)
    samples = bootstrap_lead_time_demand(history, lead_time=2.5, n_samples=50)
    np.testing.assert_allclose(samples, 12.5)


def test_bootstrap_is_seeded_and_ignores_periods_before_launch():
    rng = np.random.default_rng(0)
    history = rng.poisson(0.4, (50, 104)) * rng.gamma(2.0, 6.0, (50, 104))
    history[:10, :60] = np.nan  # launched late
    a = bootstrap_reorder_point(0.95, history, lead_time=4.0, n_samples=2000, seed=1)
    b = bootstrap_reorder_point(0.95, history, lead_time=4.0, n_samples=2000, seed=1)
    np.testing.assert_array_equal(a, b)
    samples = bootstrap_lead_time_demand(history, 4.0, n_samples=2000, seed=1)
    np.testing.assert_array_equal(np.mean(samples <= a[:, None], axis=1) >= 0.95, True)
    # Sample means agree with 4 x the per-period mean of the observed periods.
    np.testing.assert_allclose(samples.mean(axis=1), 4 * np.nanmean(history, axis=1), rtol=0.15)
    rate = bootstrap_fill_rate(a, 10.0, history, 4.0, n_samples=2000, seed=1)
    assert np.all((rate > 0.5) & (rate <= 1.0))


def test_bootstrap_rejects_an_empty_or_negative_history():
    with pytest.raises(StrataError, match=r"history row 1 has no observed period"):
        bootstrap_reorder_point(0.9, [[1.0, 2.0], [np.nan, np.nan]], 2.0)
    with pytest.raises(StrataError, match=r"history\[0, 1\] = -3 is negative"):
        bootstrap_reorder_point(0.9, [[1.0, -3.0]], 2.0)
