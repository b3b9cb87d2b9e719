"""The compiled Poisson-gamma mixture against independent evaluations: scipy's direct sums, the
exponential-size closed forms (Skellam cdf, Bessel density), and the reorder-point equations."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import gammainc, gammaincc, gammaln, ive

from ml.policy.intermittent import (
    intermittent_expected_shortage,
    intermittent_fill_rate,
    intermittent_fill_rate_reorder_point,
    intermittent_policy,
    intermittent_reorder_point,
)
from ml.policy.poisson_gamma_kernel import mixture_policies, mixture_values

TERMS = 400  # the reference sums every Poisson count to 400, far past any tail here


def direct_sums(x, m, shape, scale):
    """cdf, loss and density by summing all TERMS mixture terms with scipy (rows x terms)."""
    x, m, shape, scale = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (x, m, shape, scale))
    k = np.arange(1.0, TERMS + 1.0)[None, :]
    w = stats.poisson.pmf(k, m[:, None])
    a = k * shape[:, None]
    z = (x / scale)[:, None]
    cdf = np.exp(-m) + np.sum(w * gammainc(a, z), axis=1)
    per = a * scale[:, None] * gammaincc(a + 1.0, z) - x[:, None] * gammaincc(a, z)
    log_pdf = (a - 1.0) * np.log(z) - z - gammaln(a) - np.log(scale)[:, None]
    return cdf, np.sum(w * per, axis=1), np.sum(w * np.exp(log_pdf), axis=1)


def random_rows(seed, n):
    rng = np.random.default_rng(seed)
    m = np.exp(rng.uniform(np.log(0.02), np.log(60.0), n))
    shape = np.exp(rng.uniform(np.log(0.2), np.log(80.0), n))
    scale = np.exp(rng.uniform(np.log(0.05), np.log(50.0), n))
    mean = m * shape * scale
    sd = np.sqrt(m * shape * (1.0 + shape)) * scale
    x = np.maximum(mean + sd * rng.uniform(-2.0, 8.0, n), 1e-3)
    return x, m, shape, scale


def test_mixture_values_match_scipy_direct_sums():
    x, m, shape, scale = random_rows(1, 3000)
    max_terms = int(np.ceil(m + 7.5 * np.sqrt(m) + 12.0).max())
    cdf, loss, dens = mixture_values(x, m, shape, scale, max_terms)
    ref_cdf, ref_loss, ref_dens = direct_sums(x, m, shape, scale)
    np.testing.assert_allclose(cdf, ref_cdf, rtol=1e-12, atol=1e-14)
    mean = m * shape * scale  # the loss's own scale: n(0) = mean
    np.testing.assert_allclose(loss / mean, ref_loss / mean, rtol=1e-9, atol=1e-13)
    # The density in sd units: the truncated tail is below 1e-16 of its mass, not of f(x).
    sd = np.sqrt(m * shape * (1.0 + shape)) * scale
    np.testing.assert_allclose(dens * sd, ref_dens * sd, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("m", "scale"), [(0.3, 12.0), (1.6, 4.0), (8.0, 0.5), (40.0, 2.0)])
def test_exponential_sizes_match_the_skellam_cdf_and_bessel_density(m, scale):
    """Sizes Exp(theta): S <= x iff Poisson(x / theta) >= N, so F(x) = P(Skellam(x/theta, m) >= 0),
    and f(x) = e^(-m - x/theta) sqrt(m / (theta x)) I_1(2 sqrt(m x / theta)), summing
    the Erlang densities into the modified Bessel series."""
    x = np.linspace(0.05, 4.0, 40) * m * scale + 0.01
    cdf, _, dens = mixture_values(
        x, np.full_like(x, m), np.ones_like(x), np.full_like(x, scale), 400
    )
    z = x / scale
    np.testing.assert_allclose(cdf, stats.skellam.sf(-1, z, m), rtol=1e-11, atol=1e-15)
    root = 2.0 * np.sqrt(m * z)
    bessel = np.exp(-m - z + root) * np.sqrt(m / (scale * x)) * ive(1, root)
    sd = np.sqrt(2.0 * m) * scale
    np.testing.assert_allclose(dens * sd, bessel * sd, rtol=1e-11, atol=1e-15)


def test_textbook_lumpy_product_by_direct_summation():
    """0.3 demands a week of 12 +- 9 units, 4 weeks' lead time (the lumpy product of
    test_policy_intermittent): the 95% quantile and the fill rate of (r, 20) by direct sums."""
    rate, size, size_sd, lead = 0.3, 12.0, 9.0, 4.0
    m, shape, scale = rate * lead, (size / size_sd) ** 2, size_sd**2 / size
    r = intermittent_reorder_point(0.95, rate, size, size_sd, lead)
    assert direct_sums(r, m, shape, scale)[0][0] == pytest.approx(0.95, abs=1e-12)
    r_fill = intermittent_fill_rate_reorder_point(0.9, 20.0, rate, size, size_sd, lead)
    n0, n1 = direct_sums([r_fill, r_fill + 20.0], [m] * 2, [shape] * 2, [scale] * 2)[1]
    assert 1.0 - (n0 - n1) / 20.0 == pytest.approx(0.9, abs=1e-12)
    assert intermittent_expected_shortage(30.0, rate, size, size_sd, lead) == pytest.approx(
        direct_sums(30.0, m, shape, scale)[1][0], rel=1e-12
    )


def solves(g, r: float, level: float) -> bool:
    """r solves g(r) = level to the solvers' tolerance: |g(r) - level| <= 2e-12, or the root is
    within 1e-10 (1 + |r|) of r (where g is nearly vertical, e.g. a density singular at 0)."""
    if abs(g(r) - level) <= 2e-12:
        return True
    step = 1e-10 * (1.0 + abs(r))
    return g(r - step) <= level <= g(r + step)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.01, 3.0),
    size=st.floats(0.5, 200.0),
    cv=st.floats(0.05, 3.0),
    lead=st.floats(0.5, 12.0),
    level=st.floats(0.5, 0.999),
    q_in_sizes=st.floats(0.2, 20.0),
)
def test_reorder_points_solve_their_equations_by_direct_summation(
    rate, size, cv, lead, level, q_in_sizes
):
    """The cycle-service r has F(r) = level and the fill-rate r has 1 - [n(r) - n(r + Q)] / Q =
    level, both checked with scipy's direct sums, wherever the level is above the atom at 0."""
    m, shape, scale = rate * lead, 1.0 / cv**2, cv**2 * size
    q = q_in_sizes * size

    def cdf(x: float) -> float:
        return direct_sums(max(x, 1e-300), m, shape, scale)[0][0] if x > 0 else 0.0

    def loss(x: float) -> float:
        return direct_sums(max(x, 1e-300), m, shape, scale)[1][0] if x >= 0 else m * size - x

    def fill_rate(x: float) -> float:
        return 1.0 - (loss(x) - loss(x + q)) / q

    r = intermittent_reorder_point(level, rate, size, cv * size, lead)
    assert solves(cdf, r, level) if level > np.exp(-m) else r == 0.0
    r_fill = intermittent_fill_rate_reorder_point(level, q, rate, size, cv * size, lead)
    assert solves(fill_rate, r_fill, level)
    reached = intermittent_fill_rate(r_fill, q, rate, size, cv * size, lead)
    # both sides sum losses of size ~ the mean in double precision: their rounding over Q
    assert reached == pytest.approx(fill_rate(r_fill), abs=1e-13 * max(1.0, m * size / q))


def test_policy_in_one_pass_is_the_three_calls_bit_for_bit():
    """intermittent_policy = the reorder point for each row's target type, floored at 0, and the
    fill rate there: the same numbers as the three public functions, for gamma and fixed sizes,
    levels under the atom at 0, negative fill-rate reorder points and products without demand."""
    rng = np.random.default_rng(3)
    n = 400
    rate = np.where(rng.random(n) < 0.05, 0.0, rng.uniform(0.02, 2.0, n))
    size = rng.uniform(0.5, 40.0, n)
    size_sd = np.where(rng.random(n) < 0.1, 0.0, size * rng.uniform(0.1, 2.0, n))
    lead, review = rng.uniform(0.5, 8.0, n), rng.choice([0.0, 1.0, 2.0], n)
    level = rng.uniform(0.2, 0.995, n)
    q = size * rng.uniform(0.3, 30.0, n)  # large Q: some fill-rate reorder points are negative
    fill = rng.random(n) < 0.5
    params = (rate, size, size_sd, lead, review)
    r, reached = intermittent_policy(level, q, fill, *params)
    expected = np.where(
        fill,
        intermittent_fill_rate_reorder_point(level, q, *params),
        intermittent_reorder_point(level, *params),
    )
    assert (expected < 0).any() and (r == 0).any()
    np.testing.assert_array_equal(r, np.maximum(expected, 0.0))
    np.testing.assert_array_equal(reached, intermittent_fill_rate(r, q, *params))


def test_parallel_chunks_are_the_serial_solve_bit_for_bit():
    """The reorder points are solved in runs of rows on numba's threads: one run on one thread,
    and 37 runs of a few rows on every thread, give the same numbers (cycle-service rows with
    a start, fill-rate rows with the kernel's own, negative reorder points included)."""
    x, m, shape, scale = random_rows(5, 500)
    rng = np.random.default_rng(5)
    fill = rng.random(x.size) < 0.5
    level = rng.uniform(0.3, 0.99, x.size)
    target = np.where(fill, level, np.exp(-m) + (1.0 - np.exp(-m)) * level)  # above the atom
    q = m * shape * scale * rng.uniform(0.1, 30.0, x.size)
    start = np.where(fill, np.nan, x)
    max_terms = int(np.ceil(m + 7.5 * np.sqrt(m) + 12.0).max())
    args = (target, q, fill, m, shape, scale, start, max_terms)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        serial = mixture_policies(*args, chunks=1)
    finally:
        numba.set_num_threads(threads)
    parallel = mixture_policies(*args, chunks=37)
    assert (serial[0] < 0).any() and np.isfinite(serial[1]).all()
    for one, other in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(one, other)
