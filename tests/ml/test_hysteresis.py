"""Reclassification with hysteresis (ml/hysteresis.py) and the scoring config (ml/scoring_config.py)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.config.files import load_model
from ml.config.scoring import HysteresisConfig, ParquetSink, ScoringConfig, resolve_sink
from ml.errors import StrataError
from ml.hysteresis import RECLASSIFY_COLUMNS, reclassify

REPO = Path(__file__).resolve().parents[2]
AS_OF = date(2024, 3, 4)
CFG = ScoringConfig(
    mode="hysteresis",
    hysteresis=HysteresisConfig(margin=0.15, k_consecutive=3, min_tenure_runs=2),
)


def previous(**cols) -> pd.DataFrame:
    return pd.DataFrame(cols)


def proposed(sku, seg, p, p_prev) -> pd.DataFrame:
    return pd.DataFrame(
        {"sku_id": sku, "segment": seg, "probability": p, "prob_of_previous_segment": p_prev}
    )


def one(prev_row: dict, prop_row: tuple, config=CFG, as_of=AS_OF) -> dict:
    prev = pd.DataFrame([{"sku_id": "a", **prev_row}])
    out = reclassify(prev, proposed(["a"], *[[v] for v in prop_row]), config, as_of)
    return out.iloc[0].to_dict()


def test_margin_change_with_worded_reason():
    r = one({"segment": "slow", "tenure": 5}, ("fast", 0.81, 0.55))
    assert r["segment"] == "fast" and r["previous_segment"] == "slow" and r["changed"]
    assert r["change_reason"] == "new segment 0.81 beats current 0.55 by ≥ 0.15"
    assert (r["tenure"], r["streak_count"], r["since"]) == (1, 0, pd.Timestamp(AS_OF))
    assert r["probability"] == 0.81


def test_margin_exactly_met_counts():
    assert one({"segment": "slow", "tenure": 5}, ("fast", 0.70, 0.55))["changed"]


def test_small_margin_is_kept_and_starts_a_streak():
    r = one(
        {"segment": "slow", "tenure": 5, "since": pd.Timestamp("2024-01-01")}, ("fast", 0.6, 0.5)
    )
    assert r["segment"] == "slow" and not r["changed"]
    assert r["change_reason"] == (
        "kept: new segment 0.60 vs current 0.50 (gap +0.10 < 0.15); predicted 1 of 3 runs in a row"
    )
    assert (r["streak_segment"], r["streak_count"], r["tenure"]) == ("fast", 1, 6)
    assert r["probability"] == 0.5  # the probability of the segment it keeps
    assert r["since"] == pd.Timestamp("2024-01-01")


def test_k_consecutive_runs_change_the_segment():
    state = pd.DataFrame(
        {"sku_id": ["a"], "segment": ["slow"], "tenure": [9], "since": [pd.Timestamp("2023-01-02")]}
    )
    reasons = []
    for week in range(3):
        state = reclassify(
            state, proposed(["a"], ["fast"], [0.6], [0.5]), CFG, AS_OF + timedelta(weeks=week)
        )
        reasons.append(state.loc[0, "change_reason"])
    assert state.loc[0, "segment"] == "fast" and state.loc[0, "changed"]
    assert reasons[-1] == "predicted 3 runs in a row"
    assert state.loc[0, "since"] == pd.Timestamp(AS_OF + timedelta(weeks=2))


def test_a_streak_restarts_when_the_proposal_switches():
    r = one(
        {"segment": "slow", "tenure": 9, "streak_segment": "fast", "streak_count": 2},
        ("erratic", 0.5, 0.45),
    )
    assert not r["changed"] and (r["streak_segment"], r["streak_count"]) == ("erratic", 1)


def test_a_streak_resets_when_the_model_agrees_again():
    r = one(
        {"segment": "slow", "tenure": 9, "streak_segment": "fast", "streak_count": 2},
        ("slow", 0.9, 0.9),
    )
    assert r["change_reason"] == "unchanged: the model proposes the current segment"
    assert pd.isna(r["streak_segment"]) and r["streak_count"] == 0 and r["tenure"] == 10


def test_minimum_tenure_blocks_even_a_clear_margin():
    r = one({"segment": "slow", "tenure": 1}, ("fast", 0.99, 0.01))
    assert not r["changed"] and r["segment"] == "slow"
    assert r["change_reason"] == "kept: within minimum tenure of 2 runs"
    assert (r["tenure"], r["streak_count"]) == (2, 1)  # the streak still counts
    # next run the tenure is served and the margin wins
    again = one({"segment": "slow", "tenure": 2}, ("fast", 0.99, 0.01))
    assert again["changed"]


def test_minimum_tenure_in_days():
    cfg = ScoringConfig(
        hysteresis=HysteresisConfig(
            margin=0.1, k_consecutive=1, min_tenure_runs=0, min_tenure_days=28
        )
    )
    young = one(
        {"segment": "slow", "tenure": 9, "since": pd.Timestamp(AS_OF - timedelta(days=27))},
        ("fast", 0.9, 0.1),
        cfg,
    )
    assert young["change_reason"] == "kept: within minimum tenure of 28 days"
    old = one(
        {"segment": "slow", "tenure": 9, "since": pd.Timestamp(AS_OF - timedelta(days=28))},
        ("fast", 0.9, 0.1),
        cfg,
    )
    assert old["changed"]


def test_new_products_and_products_no_longer_scored():
    prev = previous(sku_id=["gone", "a"], segment=["slow", "slow"], tenure=[3, 3])
    out = reclassify(
        prev, proposed(["a", "new"], ["slow", "fast"], [0.9, 0.7], [0.9, None]), CFG, AS_OF
    )
    assert out["sku_id"].tolist() == ["a", "new"]
    new = out.iloc[1]
    assert (new["segment"], new["changed"], new["change_reason"], new["tenure"]) == (
        "fast",
        False,
        "first assignment",
        1,
    )
    assert pd.isna(new["previous_segment"])
    assert list(out.columns) == RECLASSIFY_COLUMNS


def test_missing_probability_of_the_current_segment_counts_as_zero():
    r = one({"segment": "retired", "tenure": 5}, ("fast", 0.4, None))
    assert r["changed"] and r["change_reason"] == "new segment 0.40 beats current 0.00 by ≥ 0.15"


def test_previous_table_without_state_columns_counts_as_settled():
    prev = previous(sku_id=["a"], segment=["slow"])
    out = reclassify(prev, proposed(["a"], ["fast"], [0.9], [0.1]), CFG, AS_OF)
    assert out.loc[0, "changed"]


def test_static_mode_takes_every_proposal_even_within_tenure():
    prev = previous(sku_id=["a", "b"], segment=["slow", "slow"], tenure=[1, 1])
    out = reclassify(
        prev,
        proposed(["a", "b"], ["fast", "slow"], [0.51, 0.9], [0.49, 0.9]),
        CFG,
        AS_OF,
        mode="static",
    )
    assert out["segment"].tolist() == ["fast", "slow"]
    assert out["changed"].tolist() == [True, False]
    assert out.loc[0, "change_reason"] == "static mode: the model proposes a new segment at 0.51"


def test_errors_name_the_missing_columns_and_duplicates():
    prev = previous(sku_id=["a"], segment=["slow"])
    with pytest.raises(
        StrataError, match=r"proposed frame lacks column\(s\) prob_of_previous_segment"
    ):
        reclassify(
            prev,
            pd.DataFrame({"sku_id": ["a"], "segment": ["x"], "probability": [1.0]}),
            CFG,
            AS_OF,
        )
    dup = proposed(["a", "a"], ["x", "y"], [0.5, 0.5], [0.5, 0.5])
    with pytest.raises(
        StrataError, match=r"proposed frame has 1 sku_id\(s\) more than once \(e.g. a\)"
    ):
        reclassify(prev, dup, CFG, AS_OF)


# ---------------------------------------------------------------- properties

SEGMENTS = ["fast", "slow", "erratic", "new"]


@st.composite
def runs(draw):
    n = draw(st.integers(min_value=1, max_value=25))
    seg = st.sampled_from(SEGMENTS)
    prob = st.floats(min_value=0, max_value=1)
    skus = [f"s{i}" for i in range(n)]
    known = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    prev = pd.DataFrame(
        {
            "sku_id": [s for s, k in zip(skus, known, strict=True) if k],
            "segment": [draw(seg) for k in known if k],
            "tenure": [draw(st.integers(0, 5)) for k in known if k],
            "streak_segment": [draw(st.one_of(st.none(), seg)) for k in known if k],
            "streak_count": [draw(st.integers(0, 4)) for k in known if k],
            "since": [pd.Timestamp("2024-01-01") for k in known if k],
        }
    )
    prop = pd.DataFrame(
        {
            "sku_id": skus,
            "segment": [draw(seg) for _ in skus],
            "probability": [draw(prob) for _ in skus],
            "prob_of_previous_segment": [draw(st.one_of(st.none(), prob)) for _ in skus],
        }
    )
    cfg = ScoringConfig(
        hysteresis=HysteresisConfig(
            margin=draw(st.floats(0, 1)),
            k_consecutive=draw(st.integers(1, 4)),
            min_tenure_runs=draw(st.integers(0, 4)),
        )
    )
    return prev, prop, cfg


@settings(max_examples=40, deadline=None)
@given(runs())
def test_static_mode_equals_the_proposal(case):
    prev, prop, cfg = case
    out = reclassify(prev, prop, cfg, AS_OF, mode="static")
    assert out["segment"].tolist() == prop["segment"].tolist()


@settings(max_examples=40, deadline=None)
@given(runs())
def test_hysteresis_never_changes_more_products_than_static(case):
    prev, prop, cfg = case
    hyst = reclassify(prev, prop, cfg, AS_OF)
    static = reclassify(prev, prop, cfg, AS_OF, mode="static")
    assert hyst["changed"].sum() <= static["changed"].sum()
    assert not (hyst["changed"] & ~static["changed"]).any()
    # a change under hysteresis always lands on the proposed segment
    assert (hyst.loc[hyst["changed"], "segment"] == prop.loc[hyst["changed"], "segment"]).all()


@settings(max_examples=40, deadline=None)
@given(runs())
def test_a_product_within_minimum_tenure_never_changes(case):
    prev, prop, cfg = case
    out = reclassify(prev, prop, cfg, AS_OF).set_index("sku_id")
    young = prev.loc[prev["tenure"] < cfg.hysteresis.min_tenure_runs, "sku_id"]
    assert not out.loc[young, "changed"].any()
    assert (out.loc[young, "segment"] == prev.set_index("sku_id").loc[young, "segment"]).all()


@settings(max_examples=20, deadline=None)
@given(runs())
def test_output_is_next_runs_input(case):
    prev, prop, cfg = case
    first = reclassify(prev, prop, cfg, AS_OF)
    second = reclassify(first, prop, cfg, AS_OF + timedelta(days=7))
    assert len(second) == len(prop)
    assert (second["tenure"] >= 1).all() and np.isin(second["segment"], SEGMENTS).all()


def test_reclassify_is_vectorised_on_a_large_table():
    n = 200_000
    rng = np.random.default_rng(0)
    prev = pd.DataFrame(
        {"sku_id": np.arange(n).astype(str), "segment": rng.choice(SEGMENTS, n), "tenure": 3}
    )
    prop = pd.DataFrame(
        {
            "sku_id": np.arange(n).astype(str),
            "segment": rng.choice(SEGMENTS, n),
            "probability": rng.uniform(size=n),
            "prob_of_previous_segment": rng.uniform(size=n),
        }
    )
    import time

    start = time.perf_counter()
    out = reclassify(prev, prop, CFG, AS_OF)
    assert time.perf_counter() - start < 5.0
    assert len(out) == n


# ---------------------------------------------------------------- config


def test_default_scoring_yaml_loads():
    cfg = load_model(REPO / "configs" / "scoring.yaml", ScoringConfig)
    assert cfg.mode == "hysteresis" and cfg.hysteresis.k_consecutive == 3
    assert isinstance(cfg.sinks[0], ParquetSink)
    resolved = resolve_sink(cfg.sinks[0], Path("/w/warehouse"))
    assert resolved.path == Path("/w/warehouse/outputs")


def test_scoring_yaml_errors(tmp_path):
    path = tmp_path / "scoring.yaml"
    path.write_text(
        "mode: sticky\nhysteresis: {margin: 1.5}\nsinks:\n  - {kind: csv, path: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(StrataError) as err:
        load_model(path, ScoringConfig)
    text = str(err.value)
    assert "key 'mode'" in text and "'static' or 'hysteresis'" in text
    assert "key 'hysteresis.margin'" in text
    assert "sinks.0" in text and "csv" in text


def test_shadow_sinks_must_differ_from_sinks():
    with pytest.raises(ValueError, match=r"shadow.sinks must differ from sinks"):
        ScoringConfig.model_validate(
            {
                "sinks": [{"kind": "parquet", "path": "outputs"}],
                "shadow": {"enabled": True, "sinks": [{"kind": "parquet", "path": "outputs"}]},
            }
        )
