"""The registered model's worded reasons: written over whole arrays, exactly reason_text per row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planted import PLANTED, TRUTH, planted_frame

from ml.attributes import ATTRIBUTES
from ml.config.training import DEFAULT_ASSIGNER_FEATURES, LightGBMParams, NewProductsConfig
from ml.segment_rules import AGE_PERIODS
from ml.wording import reason_text, wording_table
from training.assigner import SegmentAssigner, categories_of
from training.pyfunc_model import SegmenterModel

SMALL = LightGBMParams(num_boost_round=15, num_leaves=7, max_depth=3)
TOP_K = 5


@pytest.fixture(scope="module")
def scored() -> tuple[SegmenterModel, pd.DataFrame, pd.DataFrame]:
    """A main and a launch model on planted products, and their output on rows with gaps."""
    frame = planted_frame(1500, seed=4, new_share=0.3)
    y = frame[TRUTH].to_numpy(dtype=object)
    classes = list(PLANTED)
    categories = categories_of(frame, ["family", "category", "supplier_id"], 200)
    main = SegmentAssigner(list(DEFAULT_ASSIGNER_FEATURES), classes=classes, params=SMALL)
    launch = SegmentAssigner(
        NewProductsConfig().features, classes=classes, params=SMALL, categories=categories
    )
    model = SegmenterModel(
        segments=classes,
        main=main.fit(frame, y).part_.spec(),
        launch={**launch.fit(frame, y).part_.spec(), "history_attribute": AGE_PERIODS},
        new_products={
            "enabled": True,
            "history_attribute": AGE_PERIODS,
            "min_periods": 13,
            "review_below": 0.0,
            "fallback_segment": None,
        },
        wordings=wording_table(ATTRIBUTES),
        catalogue={},
        top_k=TOP_K,
    )
    rng = np.random.default_rng(5)
    inputs = frame.drop(columns=[TRUTH])
    for column, share in [("family", 0.3), ("lead_time_mean_days", 0.3), ("adi", 0.1)]:
        inputs[column] = inputs[column].where(rng.random(len(inputs)) >= share)
    return model, inputs, model.predict(None, inputs)


def test_every_reason_is_reason_text_of_its_row(scored):
    model, inputs, out = scored
    parts, young = model.parts(), model.young(inputs)
    for i in range(len(out)):
        part = parts["launch" if young[i] else "main"]
        for j in range(1, TOP_K + 1):
            feature = out[f"feature_{j}"][i]
            value = out[f"value_{j}"][i]
            if feature in part.categories:
                raw = inputs[feature].iloc[i]
                value = None if pd.isna(raw) else str(raw)
            expected = reason_text(
                feature,
                value,
                out[f"shap_{j}"][i],
                out["segment"][i],
                rank=j,
                wording=model.wordings.get(feature),
                typical=part.typical.get(feature),
            )
            assert out[f"reason_{j}"][i] == expected, (i, j)


def test_the_rows_cover_descriptors_gaps_and_both_models(scored):
    model, inputs, out = scored
    reasons = pd.concat([out[f"reason_{j}"] for j in range(1, TOP_K + 1)])
    assert model.young(inputs).any() and (~model.young(inputs)).any()
    assert reasons.str.startswith("Product family is '").any()
    assert (reasons.str.startswith("Product family is unknown")).any()
    assert reasons.str.contains(" is unknown — ").any()
    assert reasons.str.startswith("Sells in about 1 of every").any()
