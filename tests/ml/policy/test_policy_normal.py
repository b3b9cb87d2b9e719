"""The standard normal loss function and its inverse: published values, identities, stockpyl."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr
from stockpyl.loss_functions import standard_normal_loss as stockpyl_loss
from stockpyl.loss_functions import standard_normal_second_loss as stockpyl_second_loss

from ml.errors import StrataError
from ml.policy.normal import (
    cycle_service_level,
    inverse_standard_normal_loss,
    safety_factor,
    standard_normal_loss,
    standard_normal_second_loss,
)

finite_z = st.floats(min_value=-30, max_value=30, allow_nan=False)


def test_snyder_shen_eq_c22_standard_normal_loss_at_1_3():
    """Snyder & Shen (2019) eq. (C.22) at z = 1.3, the value stockpyl's doctest reproduces."""
    assert standard_normal_loss(1.3) == pytest.approx(0.04552796208651397, rel=1e-12)


def test_snyder_shen_eq_c27_second_order_loss_at_1_3():
    """Snyder & Shen (2019) eq. (C.27) at z = 1.3 (stockpyl doctest: 0.01880706693657111)."""
    assert standard_normal_second_loss(1.3) == pytest.approx(0.01880706693657111, rel=1e-12)


def test_loss_at_zero_is_the_density_at_zero():
    assert standard_normal_loss(0.0) == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-15)


@given(finite_z)
def test_loss_complement_identity(z):
    """L(-z) = z + L(z) (Snyder & Shen 2019, eq. (C.23): the complementary loss is L(-z))."""
    assert standard_normal_loss(-z) == pytest.approx(z + standard_normal_loss(z), abs=1e-12)


@given(finite_z)
def test_loss_dominates_its_asymptotes(z):
    """E[(Z - z)^+] >= max(-z, 0) (Jensen) and > 0."""
    loss = standard_normal_loss(z)
    assert loss >= max(-z, 0.0) and (loss > 0 or z > 37)


@given(st.floats(min_value=-8, max_value=8))
def test_loss_derivative_is_minus_the_upper_tail(z):
    """dL/dz = -(1 - Phi(z))."""
    h = 1e-5
    slope = (standard_normal_loss(z + h) - standard_normal_loss(z - h)) / (2 * h)
    assert slope == pytest.approx(-ndtr(-z), abs=1e-8)


def test_loss_matches_stockpyl_on_random_arguments():
    """stockpyl.loss_functions.standard_normal_loss as an independent implementation."""
    z = np.random.default_rng(7).uniform(-6, 6, 500)
    ours = standard_normal_loss(z)
    theirs = np.array([stockpyl_loss(v)[0] for v in z])
    # stockpyl computes phi - z(1 - Phi) directly, which cancels in the upper tail: 1e-6 abs.
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-12)
    ours2 = standard_normal_second_loss(z)
    theirs2 = np.array([stockpyl_second_loss(v)[0] for v in z])
    np.testing.assert_allclose(ours2, theirs2, rtol=1e-6, atol=1e-12)


def test_loss_is_accurate_in_the_far_upper_tail():
    """Mills-ratio asymptotics: L(z) ~ phi(z)/z² (1 - 3/z² ...) for large z."""
    z = 20.0
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    assert standard_normal_loss(z) == pytest.approx(
        phi / z**2 * (1 - 3 / z**2 + 15 / z**4), rel=1e-5
    )


@settings(deadline=None)
@given(st.floats(min_value=-40, max_value=8.5))
def test_inverse_loss_round_trip(k):
    loss = standard_normal_loss(k)
    assert inverse_standard_normal_loss(loss) == pytest.approx(k, abs=1e-9 * (1 + abs(k)))


def test_inverse_loss_over_the_whole_range_on_arrays():
    loss = np.array([1e-300, 1e-100, 1e-12, 1e-6, 0.01, 0.3989, 0.4, 1.0, 5.0, 5.1, 1e3, 1e300])
    k = inverse_standard_normal_loss(loss)
    np.testing.assert_allclose(standard_normal_loss(k), loss, rtol=1e-12)
    assert np.all(np.diff(k) < 0)  # L decreasing, so its inverse is too


def test_inverse_loss_caps_at_k_min():
    k = inverse_standard_normal_loss(np.array([0.01, 2.0, 50.0]), k_min=0.0)
    assert k[0] > 0 and standard_normal_loss(k[0]) == pytest.approx(0.01, rel=1e-12)
    assert k[1] == 0.0 and k[2] == 0.0  # L(0) = 0.399 < 2 and < 50: the cap binds


def test_safety_factor_and_cycle_service_level_are_inverse():
    levels = np.array([0.5, 0.9, 0.95, 0.99, 0.999])
    np.testing.assert_allclose(cycle_service_level(safety_factor(levels)), levels, rtol=1e-14)
    assert safety_factor(0.95) == pytest.approx(1.6448536269514722, rel=1e-14)


def test_bad_loss_names_argument_index_value_and_range():
    with pytest.raises(StrataError) as err:
        inverse_standard_normal_loss([0.1, -0.2, float("nan")])
    message = str(err.value)
    assert "loss has 2 of 3 rows outside (0, inf)" in message
    assert "loss[1] = -0.2" in message and "loss[2] is missing (NaN)" in message


def test_bad_service_level_scalar_message():
    with pytest.raises(StrataError, match=r"service_level = 95 is outside \(0, 1\): write it as"):
        safety_factor(95)
