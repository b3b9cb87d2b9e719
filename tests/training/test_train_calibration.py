"""The assigner's calibration: a temperature fitted on out-of-fold raw scores (training.fitting).

Planted segments with a tenth of the labels flipped at random: LightGBM, trained to near-certainty
on the rest, is overconfident on held-out rows, and temperature scaling must lower its ECE
without moving any product to another segment. The registered pyfunc reports the calibrated
probability.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planted import PLANTED, TRUTH, planted_frame

from ml.calibration import expected_calibration_error, temperature_scaled
from ml.config.training import DEFAULT_ASSIGNER_FEATURES, LightGBMParams
from training.assigner import SegmentAssigner
from training.cross_validation import cross_validate
from training.fitting import calibration_metrics
from training.pyfunc_model import SegmenterModel

FEATURES = list(DEFAULT_ASSIGNER_FEATURES)
CLASSES = list(PLANTED)
DEEP = LightGBMParams(num_boost_round=60, num_leaves=15, max_depth=4, learning_rate=0.3)


@pytest.fixture(scope="module")
def noisy() -> tuple[pd.DataFrame, np.ndarray]:
    frame = planted_frame(2000, seed=11, new_share=0.0)
    y = frame[TRUTH].to_numpy(dtype=object).copy()
    rng = np.random.default_rng(11)
    flip = rng.random(len(y)) < 0.1
    y[flip] = rng.choice(CLASSES, size=int(flip.sum()))
    return frame, y


@pytest.fixture(scope="module")
def assigner() -> SegmentAssigner:
    return SegmentAssigner(FEATURES, classes=CLASSES, params=DEEP, seed=2, num_threads=1)


def test_calibration_lowers_the_held_out_ece_of_an_overconfident_assigner(noisy, assigner):
    frame, y = noisy
    cv = cross_validate(assigner, frame, y, folds=5, seed=0)
    metrics, temperature = calibration_metrics(cv, "temperature")
    assert temperature > 1.5  # overconfident: the logits are spread out too far
    assert metrics["ece_raw"] > 0.06
    assert metrics["ece"] < 0.6 * metrics["ece_raw"]
    assert metrics["ece"] < 0.05
    assert metrics["temperature"] == temperature
    # the out-of-fold probabilities are LightGBM's softmax of the out-of-fold raw scores
    assert cv.oof_proba == pytest.approx(temperature_scaled(cv.oof_raw, 1.0), abs=1e-12)
    assert metrics["ece_raw"] == pytest.approx(expected_calibration_error(cv.oof_proba, cv.codes))
    off, t_off = calibration_metrics(cv, "none")
    assert t_off == 1.0 and off["ece"] == off["ece_raw"] == metrics["ece_raw"]


def test_set_temperature_keeps_segments_and_explanations(noisy, assigner):
    frame, y = noisy
    raw = assigner.__class__(**assigner.get_params()).fit(frame, y)
    segments, shap = raw.predict(frame), raw.explain(frame)
    p_raw = raw.predict_proba(frame).max(axis=1)
    assert raw.temperature_ == 1.0
    calibrated = raw.set_temperature(2.5)
    assert calibrated is raw and raw.temperature_ == 2.5
    assert (raw.predict(frame) == segments).all()
    pd.testing.assert_frame_equal(raw.explain(frame), shap)
    proba = raw.predict_proba(frame)
    assert proba == pytest.approx(temperature_scaled(raw.decision_function(frame), 2.5))
    assert (proba.max(axis=1) < p_raw + 1e-12).all()  # T > 1 only lowers the top probability
    with pytest.raises(ValueError, match=r"temperature=0.0 must be a finite number > 0"):
        raw.set_temperature(0.0)


def test_the_pyfunc_reports_the_calibrated_probability(noisy, assigner):
    frame, y = noisy
    fitted = assigner.__class__(**assigner.get_params()).fit(frame, y).set_temperature(3.0)
    spec = fitted.part_.spec()
    assert spec["temperature"] == 3.0
    model = SegmenterModel(
        segments=CLASSES,
        main=spec,
        launch=None,
        new_products={"enabled": False},
        wordings={},
        catalogue={},
        top_k=0,
    )
    out = model.predict(None, frame.head(50), params={"explain": False})
    expected = fitted.predict_proba(frame.head(50))
    assert out["probability"].to_numpy() == pytest.approx(expected.max(axis=1))
    assert (out["segment"].to_numpy() == fitted.predict(frame.head(50))).all()
    # a spec saved before calibration has no temperature: T = 1, LightGBM's own probabilities
    old = {k: v for k, v in spec.items() if k != "temperature"}
    model_old = SegmenterModel(
        segments=CLASSES,
        main=old,
        launch=None,
        new_products={"enabled": False},
        wordings={},
        catalogue={},
        top_k=0,
    )
    raw = model_old.predict(None, frame.head(50), params={"explain": False})
    assert raw["probability"].to_numpy() == pytest.approx(
        fitted.part_.booster.predict(fitted.part_.matrix(frame.head(50))).max(axis=1)
    )
