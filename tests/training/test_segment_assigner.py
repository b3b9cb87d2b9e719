"""SegmentAssigner keeps scikit-learn's estimator contract and matches LightGBM's own numbers."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from planted import PLANTED, TRUTH, planted_frame
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ml.config.training import DEFAULT_ASSIGNER_FEATURES, LightGBMParams
from training.assigner import (
    BASE_VALUE,
    SegmentAssigner,
    categories_of,
    design_matrix,
    fit_booster,
    sample_weights,
)

SMALL = LightGBMParams(num_boost_round=15, num_leaves=7, max_depth=3)
FEATURES = list(DEFAULT_ASSIGNER_FEATURES)
CLASSES = list(PLANTED)  # the planted order, not the sorted one


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    frame = planted_frame(600, seed=3, new_share=0.0)
    return frame, frame[TRUTH].to_numpy(dtype=object)


@pytest.fixture(scope="module")
def fitted(data) -> SegmentAssigner:
    frame, y = data
    return SegmentAssigner(FEATURES, classes=CLASSES, params=SMALL, seed=1).fit(frame, y)


def test_init_stores_settings_only_and_fit_returns_self(data):
    frame, y = data
    assigner = SegmentAssigner(FEATURES, classes=CLASSES, params=SMALL)
    assert [k for k in vars(assigner) if k.endswith("_")] == []
    assert assigner.get_params()["features"] is FEATURES
    assert assigner.fit(frame, y) is assigner


def test_fit_sets_the_learned_attributes(fitted, data):
    frame, _y = data
    assert list(fitted.classes_) == CLASSES
    assert fitted.features_ == FEATURES and fitted.n_features_in_ == len(FEATURES)
    assert fitted.part_.booster.num_model_per_iteration() == len(CLASSES)
    # the wording's "typical" value of a feature is its median over the training rows
    adi = pd.to_numeric(frame["adi"], errors="coerce").median()
    assert fitted.typical_["adi"] == pytest.approx(adi)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "explain", "decision_function"])
def test_use_before_fit_says_to_call_fit(method, data):
    frame, _y = data
    with pytest.raises(NotFittedError, match=r"not fitted yet; call fit\(X, y\) before"):
        getattr(SegmentAssigner(FEATURES), method)(frame)


def test_clone_gives_the_same_settings_unfitted(fitted):
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params()
    assert not hasattr(twin, "part_")


def test_pickle_round_trip_predicts_identically(fitted, data):
    frame, _y = data
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(frame), fitted.predict_proba(frame))
    np.testing.assert_array_equal(again.predict(frame), fitted.predict(frame))


def test_fit_is_the_booster_lightgbm_trains_on_the_same_matrix(fitted, data):
    frame, y = data
    codes = np.array([CLASSES.index(s) for s in y])
    booster = fit_booster(
        design_matrix(frame, FEATURES),
        codes,
        sample_weights(codes, len(CLASSES), "balanced"),
        SMALL,
        len(CLASSES),
        seed=1,
    )
    assert fitted.part_.booster.model_to_string() == booster.model_to_string()
    X = design_matrix(frame, FEATURES)
    np.testing.assert_array_equal(fitted.predict_proba(frame), booster.predict(X))
    assert list(fitted.predict(frame)) == [CLASSES[i] for i in booster.predict(X).argmax(axis=1)]


def test_planted_segments_are_recovered(fitted):
    fresh = planted_frame(400, seed=11, new_share=0.0)
    agreement = (fitted.predict(fresh) == fresh[TRUTH].to_numpy()).mean()
    assert agreement > 0.9


def test_explain_adds_up_to_the_raw_score_and_matches_pred_contrib(fitted, data):
    frame, _y = data
    rows = frame.head(50)
    shap = fitted.explain(rows)
    assert list(shap.columns) == [*FEATURES, BASE_VALUE]
    predicted = [CLASSES.index(s) for s in fitted.predict(rows)]
    raw = fitted.decision_function(rows)[np.arange(len(rows)), predicted]
    np.testing.assert_allclose(shap.sum(axis=1).to_numpy(), raw, atol=1e-9)
    # LightGBM's own TreeSHAP over every class: the block of the predicted class
    full = fitted.part_.booster.predict(design_matrix(rows, FEATURES), pred_contrib=True)
    width = len(FEATURES) + 1
    block = np.stack([full[i, c * width : (c + 1) * width] for i, c in enumerate(predicted)])
    np.testing.assert_allclose(shap.to_numpy(), block, atol=1e-9)


def test_explain_for_given_segments(fitted, data):
    frame, _y = data
    rows = frame.head(5)
    shap = fitted.explain(rows, ["dormant_items"] * 5)
    raw = fitted.decision_function(rows)[:, CLASSES.index("dormant_items")]
    np.testing.assert_allclose(shap.sum(axis=1).to_numpy(), raw, atol=1e-9)


def test_categories_code_known_values_and_others_are_missing(data):
    frame, y = data
    cats = categories_of(frame, ["family"], max_categories=3)
    launch = SegmentAssigner(
        ["family", "unit_price"], classes=CLASSES, params=SMALL, categories=cats
    ).fit(frame, y)
    assert launch.part_.categories == cats
    assert "family" not in launch.typical_
    unseen = frame.head(3).assign(family="no such family")
    assert np.isnan(launch.part_.matrix(unseen)[:, 0]).all()


def test_bad_fit_inputs_name_the_fix(data):
    frame, y = data
    with pytest.raises(ValueError, match=r"y holds segment\(s\) dormant_items that classes="):
        SegmentAssigner(FEATURES, classes=CLASSES[:5]).fit(frame, y)
    with pytest.raises(ValueError, match=r"X lacks feature column\(s\) no_such_column"):
        SegmentAssigner(["no_such_column"]).fit(frame, y)
    with pytest.raises(ValueError, match=r"one segment per row of X: X has 600 rows"):
        SegmentAssigner(FEATURES).fit(frame, y[:10])
    with pytest.raises(ValueError, match=r"class_weight='equal' is not a weighting"):
        SegmentAssigner(FEATURES, class_weight="equal").fit(frame, y)
    with pytest.raises(TypeError, match="X must be a pandas DataFrame"):
        SegmentAssigner(FEATURES).fit(frame[FEATURES].to_numpy(), y)
