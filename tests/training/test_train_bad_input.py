"""Bad inputs stop train() before the MLflow run, with one message saying what to change."""

from __future__ import annotations

import pytest
from planted import planted_catalogue, planted_config, planted_frame, planted_workspace

from ml.config import Catalogue
from ml.errors import StrataError
from training.tracking import store_db
from training.train import train


def _policy() -> dict:
    return {
        "service_level": 0.9,
        "service_level_type": "csl",
        "review": "continuous",
        "order_quantity": {"rule": "lot_for_lot"},
    }


def _catalogue(*segments: tuple[str, int, dict]) -> Catalogue:
    return Catalogue.model_validate(
        {
            "segments": [
                {"name": n, "description": n, "priority": p, "archetype": a, "policy": _policy()}
                for n, p, a in segments
            ]
        }
    )


@pytest.fixture(scope="module")
def small():
    return planted_frame(400, seed=2)


def test_snapshot_lacking_a_configured_attribute(tmp_path, small):
    ws = planted_workspace(tmp_path, small.drop(columns=["seasonality_strength", "unit_cost"]))
    with pytest.raises(StrataError) as err:
        train(ws, config=planted_config(), catalogue=planted_catalogue())
    msg = str(err.value)
    assert msg.startswith("cannot train on the feature snapshot as of 2026-11-02 of workspace")
    assert "lacks 2 column(s) configs/training.yaml names" in msg
    assert "'seasonality_strength' (named in assigner.features)" in msg
    assert "'unit_cost' (named in new_products.features)" in msg
    assert "Remove them from configs/training.yaml or build a snapshot" in msg
    assert not store_db(ws).exists()


def test_catalogue_naming_an_unknown_attribute(tmp_path, small):
    ws = planted_workspace(tmp_path, small)
    catalogue = _catalogue(("fast", 10, {"velocity": {"gt": 3}}), ("rest", 90, {}))
    with pytest.raises(StrataError) as err:
        train(ws, config=planted_config(), catalogue=catalogue)
    msg = str(err.value)
    assert "cannot train on the feature snapshot as of 2026-11-02" in msg
    assert (
        "the segment catalogue does not fit it: segment 'fast': archetype key 'velocity' is neither a rule class"
        in msg
    )
    assert "Change the archetypes in configs/segments.yaml" in msg
    assert not store_db(ws).exists()


def test_labels_with_a_single_segment(tmp_path, small):
    ws = planted_workspace(tmp_path, small)
    catalogue = _catalogue(("young", 10, {"age_periods": {"lt": 13}}), ("everything", 90, {}))
    config = planted_config(new_products={"fallback_segment": "young"})
    with pytest.raises(StrataError) as err:
        train(ws, labels="rules", config=config, catalogue=catalogue)
    msg = str(err.value)
    assert "a single segment (everything); the assigner needs at least two" in msg
    assert "Check the catalogue's archetypes" in msg
    assert not store_db(ws).exists()


def test_unknown_fallback_segment_for_new_products(tmp_path, small):
    ws = planted_workspace(tmp_path, small)
    config = planted_config(new_products={"fallback_segment": "launches"})
    with pytest.raises(StrataError) as err:
        train(ws, labels="rules", config=config, catalogue=planted_catalogue())
    msg = str(err.value)
    assert "new_products.fallback_segment 'launches' in configs/training.yaml" in msg
    assert "is not a segment of the catalogue; known segments: new_products" in msg
    assert not store_db(ws).exists()


def test_too_few_products_for_min_cluster_size(tmp_path, small):
    ws = planted_workspace(tmp_path, small.head(60))
    with pytest.raises(StrataError) as err:
        train(ws, labels="clusters", config=planted_config(), catalogue=planted_catalogue())
    msg = str(err.value)
    assert "clusters.min_cluster_size 40 needs at least 80" in msg
    assert "Lower clusters.min_cluster_size in configs/training.yaml or use --labels rules" in msg
    assert not store_db(ws).exists()


def test_every_input_problem_is_reported_at_once(tmp_path, small):
    ws = planted_workspace(tmp_path, small.drop(columns=["trend"]))
    catalogue = _catalogue(("fast", 10, {"velocity": {"gt": 3}}), ("rest", 90, {}))
    with pytest.raises(StrataError) as err:
        train(ws, config=planted_config(), catalogue=catalogue)
    msg = str(err.value)
    assert "2 problem(s):" in msg
    assert "'trend' (named in assigner.features)" in msg
    assert "archetype key 'velocity'" in msg


def test_family_grain_without_a_family_column_is_refused(tmp_path, small):
    ws = planted_workspace(tmp_path, small.drop(columns=["family"]))
    raw = planted_catalogue().model_dump(mode="json", exclude_none=True)
    raw["drivers"]["grain"] = "family"
    with pytest.raises(
        StrataError, match=r"drivers\.grain: family, but the snapshot has no family"
    ):
        train(ws, config=planted_config(), catalogue=Catalogue.model_validate(raw))
    assert not store_db(ws).exists()


def test_negative_trials(tmp_path, small):
    ws = planted_workspace(tmp_path, small)
    with pytest.raises(StrataError, match="--trials must be 0 or more, got -1"):
        train(ws, trials=-1, config=planted_config(), catalogue=planted_catalogue())
