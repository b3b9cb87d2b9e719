"""train() on planted data: quality floors, one MLflow run, a registered version without alias."""

from __future__ import annotations

import os

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from planted import TRUTH, planted_catalogue, planted_config, planted_frame, planted_workspace
from sklearn.metrics import f1_score

from ml.grain import at_grain
from training.pyfunc_model import output_columns
from training.tracking import store_db, use_workspace_store
from training.train import train


def _load(ws, result):
    use_workspace_store(ws)
    return mlflow.pyfunc.load_model(result.model_uri)


def test_assigner_reaches_the_quality_bar_against_planted_truth(trained):
    ws, result = trained
    assert result.metrics["cv_macro_f1"] >= 0.95
    model = _load(ws, result)
    fresh = planted_frame(2000, seed=11)  # products the model never saw
    out = model.predict(fresh.drop(columns=[TRUTH]))
    established = ~out["provisional"].to_numpy()
    truth = fresh[TRUTH].to_numpy()
    f1 = f1_score(truth[established], out["segment"][established], average="macro")
    assert f1 >= 0.95
    # young products: launch attributes alone place most of them, flagged provisional
    young = out["provisional"].to_numpy()
    assert young.sum() > 50
    assert (fresh["age_periods"][young] < 13).all()
    assert (out["segment"][young] == truth[young]).mean() >= 0.8
    low = out["probability"] < 0.6
    assert (out["review"] == (young & low)).all()


def test_predict_output_schema_and_reasons(trained):
    ws, result = trained
    model = _load(ws, result)
    frame = planted_frame(50, seed=5).drop(columns=[TRUTH])
    out = model.predict(frame)
    segments = model.metadata.metadata["segments"]
    assert list(out.columns) == output_columns(segments, 5)
    assert out["sku_id"].tolist() == frame["sku_id"].tolist()
    probs = out[[f"prob_{s}" for s in segments]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(probs.max(axis=1), out["probability"])
    first = out.iloc[0]
    assert (
        first["reason_1"].endswith(
            f"the strongest reason for {first['segment'].replace('_', ' ').capitalize()}"
        )
        or "speaks against" in first["reason_1"]
    )
    assert (out["reason_5"].str.len() > 0).all()
    assert (out["shap_1"].abs() >= out["shap_2"].abs()).all()
    plain = model.predict(frame, params={"explain": False})
    assert "reason_1" not in plain.columns
    assert plain["segment"].tolist() == out["segment"].tolist()


def test_one_run_with_tags_metrics_artifacts_and_a_version_without_alias(trained):
    ws, result = trained
    use_workspace_store(ws)
    client = MlflowClient()
    run = client.get_run(result.run_id)
    tags = run.data.tags
    assert tags["labeller"] == "clusters"
    assert tags["as_of"] == "2026-11-02"
    assert tags["feature_set"] == "planted-v1"
    assert tags["workspace"] == "planted"
    m = run.data.metrics
    for name in (
        "cv_macro_f1",
        "cv_balanced_accuracy",
        "cv_log_loss",
        "n_clusters",
        "noise_share",
        "dbcv",
        "silhouette",
        "holdout_macro_f1",
        "shap_additivity_error",
        "min_segment_share",
        "recall_lumpy_sellers",
    ):
        assert name in m, name
    assert m["shap_additivity_error"] < 1e-6
    arts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"config", "data", "evaluation", "explanations", "clusters"} <= arts
    nested = {
        a.path
        for d in ("config", "evaluation", "clusters", "explanations")
        for a in client.list_artifacts(result.run_id, d)
    }
    assert {
        "config/training.yaml",
        "config/segments.yaml",
        "evaluation/confusion_matrix.png",
        "clusters/cluster_profiles.csv",
        "clusters/cluster_profiles.png",
        "explanations/global_importance.csv",
        "explanations/shap_lumpy_sellers.png",
    } <= nested
    version = client.get_model_version(result.model_name, result.model_version)
    assert version.run_id == result.run_id
    assert version.tags["labeller"] == "clusters"
    assert client.get_registered_model(result.model_name).aliases == {}
    assert store_db(ws).is_file()
    artifacts = (ws.root / "mlruns" / "artifacts").resolve()
    assert run.info.artifact_uri.startswith(artifacts.as_uri())
    assert (artifacts / "strata-segmentation").is_dir()
    # MLflow exports the URI to the environment; the store keeps it out of there
    assert "MLFLOW_TRACKING_URI" not in os.environ


def test_rules_labels_with_tuning_log_nested_trials(trained):
    ws, first = trained  # same store: this run registers the next version
    result = train(
        ws, labels="rules", trials=3, config=planted_config(), catalogue=planted_catalogue()
    )
    assert result.labeller == "rules"
    assert int(result.model_version) > int(first.model_version)
    assert result.metrics["tuning_trials"] == 3
    assert result.metrics["cv_macro_f1"] >= 0.95
    assert "noise_share" not in result.metrics
    client = MlflowClient()
    children = client.search_runs(
        [result.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    assert len(children) == 3
    assert all(
        "valid_log_loss" in c.data.metrics or c.data.tags["optuna_state"] == "PRUNED"
        for c in children
    )
    # the new-products segment is learned by neither model: young products get a provisional one
    # young products get a provisional segment, or new_products (the fallback) when the launch
    # model is unsure: exactly the products flagged for review
    n = sum(result.assigned_mix.values())
    assert result.assigned_mix.get("new_products", 0) / n == pytest.approx(
        result.metrics["review_share"]
    )


@pytest.mark.parametrize("labels", ["bogus"])
def test_unknown_labeller_is_refused(tmp_path, planted, labels):
    from ml.errors import StrataError

    ws = planted_workspace(tmp_path, planted.head(300))
    with pytest.raises(StrataError, match="is not a labeller; use rules or clusters"):
        train(ws, labels=labels, config=planted_config(), catalogue=planted_catalogue())


def test_family_grain_trains_and_scores_one_row_per_family(tmp_path, planted):
    # the family grain recomputes cv and margin_pct from their parts, as a snapshot has them
    planted = planted.assign(
        std_qty=planted["cv"] * planted["mean_qty"],
        margin=planted["margin_pct"] * planted["revenue"],
    )
    ws = planted_workspace(tmp_path, planted)
    base = planted_catalogue()
    catalogue = base.model_copy(
        update={"drivers": base.drivers.model_copy(update={"grain": "family"})}
    )
    result = train(ws, labels="rules", config=planted_config(), catalogue=catalogue)
    families = planted["family"].nunique()
    assert sum(result.label_mix.values()) + result.metrics.get("n_new_products", 0) <= families
    model = _load(ws, result)
    # the model takes rows at its grain: the caller aggregates products to families first
    rows = at_grain(planted.drop(columns=[TRUTH]), "family")
    out = model.predict(rows)
    assert len(out) == families
    assert set(out["sku_id"]) == set(planted["family"].astype(str))


def test_the_registered_model_reports_calibrated_probabilities(trained):
    """train() fits T on the out-of-fold raw scores, logs ECE before and after, and the pyfunc
    reports softmax(raw / T) — the same segments, the calibrated confidence."""
    from ml.calibration import temperature_scaled

    ws, result = trained
    m = result.metrics
    assert m["temperature"] > 0 and 0 <= m["ece"] <= 0.05 and 0 <= m["ece_raw"] <= 1
    model = _load(ws, result)
    part = model.unwrap_python_model().parts()["main"]
    assert part.temperature == pytest.approx(m["temperature"])
    frame = planted_frame(200, seed=5).drop(columns=[TRUTH])
    out = model.predict(frame, params={"explain": False})
    established = ~out["provisional"].to_numpy()
    raw = part.raw_scores(part.matrix(frame[established]))
    calibrated = temperature_scaled(raw, m["temperature"])
    np.testing.assert_allclose(out["probability"][established], calibrated.max(axis=1))
    assert (
        out["segment"][established].to_numpy()
        == np.array(model.metadata.metadata["segments"])[raw.argmax(axis=1)]
    ).all()
