"""Temperature scaling and expected calibration error (ml.calibration; Guo et al. 2017)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ml.calibration import (
    cross_fitted_proba,
    expected_calibration_error,
    fit_temperature,
    temperature_scaled,
)


def _ece_by_bins(proba: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    """Guo et al. (2017) Eq. 3 written out bin by bin, as a reference for the vectorised one."""
    conf, pred = proba.max(axis=1), proba.argmax(axis=1)
    total = 0.0
    for m in range(1, n_bins + 1):
        lo, hi = (m - 1) / n_bins, m / n_bins
        in_bin = (conf > lo) & (conf <= hi) if m > 1 else (conf >= 0) & (conf <= hi)
        if in_bin.any():
            acc = float((pred[in_bin] == y[in_bin]).mean())
            total += in_bin.sum() / len(y) * abs(acc - float(conf[in_bin].mean()))
    return total


def test_ece_of_a_hand_computed_example():
    """Four products, 15 bins. Top probabilities 0.90 (right) and 0.88 (wrong) share the bin
    (13/15, 14/15]: accuracy 0.5, confidence 0.89, gap 0.39, weight 2/4. 0.70 (right, three
    segments) is alone in (10/15, 11/15]: gap 0.30; 0.62 (wrong) alone in (9/15, 10/15]: gap
    0.62. ECE = 0.39 * 2/4 + 0.30 / 4 + 0.62 / 4 = 0.425. With one bin: |0.5 - 0.775| = 0.275."""
    proba = np.array(
        [
            [0.90, 0.05, 0.05],
            [0.88, 0.12, 0.00],
            [0.20, 0.70, 0.10],
            [0.38, 0.62, 0.00],
        ]
    )
    y = np.array([0, 1, 1, 0])
    assert expected_calibration_error(proba, y) == pytest.approx(0.425)
    assert expected_calibration_error(proba, y, n_bins=1) == pytest.approx(0.275)


def test_ece_matches_the_bin_by_bin_formula_on_random_probabilities():
    rng = np.random.default_rng(7)
    proba = rng.dirichlet(np.full(4, 0.5), size=3000)
    y = rng.integers(0, 4, size=3000)
    for bins in (1, 10, 15):
        assert expected_calibration_error(proba, y, bins) == pytest.approx(
            _ece_by_bins(proba, y, bins), abs=1e-12
        )


def test_perfectly_calibrated_probabilities_have_ece_near_zero():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, size=(40_000, 3))
    proba = temperature_scaled(logits, 1.0)
    y = (rng.random(len(proba))[:, None] > proba.cumsum(axis=1)).sum(axis=1)
    assert expected_calibration_error(proba, y) < 0.01


def _planted_overconfident(n: int, seed: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(z); the model reports `factor` * z (overconfident if > 1)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, size=(n, 4))
    p = temperature_scaled(z, 1.0)
    y = (rng.random(n)[:, None] > p.cumsum(axis=1)).sum(axis=1)
    return factor * z, y


def test_temperature_scaling_recovers_a_planted_overconfidence_and_lowers_ece():
    logits, y = _planted_overconfident(20_000, seed=3, factor=3.0)
    t = fit_temperature(logits, y)
    assert t == pytest.approx(3.0, rel=0.05)
    before = expected_calibration_error(temperature_scaled(logits, 1.0), y)
    after = expected_calibration_error(temperature_scaled(logits, t), y)
    assert before > 0.15
    assert after < 0.02


def test_cross_fitted_temperature_is_calibrated_on_rows_it_never_saw():
    logits, y = _planted_overconfident(10_000, seed=4, factor=4.0)
    folds = np.arange(len(y)) % 5
    held_out = cross_fitted_proba(logits, y, folds)
    assert expected_calibration_error(held_out, y) < 0.02
    assert (held_out.argmax(axis=1) == logits.argmax(axis=1)).all()


def test_an_underconfident_model_gets_a_temperature_below_one():
    logits, y = _planted_overconfident(20_000, seed=5, factor=0.5)
    assert fit_temperature(logits, y) == pytest.approx(0.5, rel=0.05)


_rows = arrays(
    np.float64,
    st.tuples(st.integers(1, 30), st.integers(2, 6)),
    elements=st.floats(-40, 40, allow_nan=False),
)


@settings(max_examples=200, deadline=None)
@given(_rows, st.floats(0.05, 50))
def test_temperature_scaling_never_changes_the_argmax(logits, temperature):
    top2 = np.sort(logits, axis=1)[:, -2:]
    distinct = top2[:, 1] - top2[:, 0] > 1e-6  # a tie has no argmax to keep
    scaled = temperature_scaled(logits, temperature)
    assert np.allclose(scaled.sum(axis=1), 1.0)
    assert (scaled.argmax(axis=1) == logits.argmax(axis=1))[distinct].all()


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match=r"temperature must be > 0, got 0"):
        temperature_scaled(np.zeros((2, 2)), 0)
    with pytest.raises(ValueError, match=r"got logits of shape \(2,\) and 2 labels"):
        fit_temperature(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match=r"n_bins must be >= 1, got 0"):
        expected_calibration_error(np.ones((1, 1)), np.zeros(1), n_bins=0)
    with pytest.raises(ValueError, match=r"got proba of shape \(2, 2\) and 3 labels"):
        expected_calibration_error(np.ones((2, 2)) / 2, np.zeros(3))
