"""A family-grain model is scored on the snapshot aggregated to families: one row per family."""

from __future__ import annotations

from datetime import date

from planted import TRUTH, planted_catalogue, planted_config, planted_frame, planted_workspace

from ml.config.scoring import ScoringConfig
from serving.runs import main_sinks
from serving.scoring import score
from store.registry import RegistryRef
from store.sinks import read_table
from training.tracking import tracking_uri
from training.train import train


def test_family_model_scores_one_assignment_per_family(tmp_path):
    frame = planted_frame(600, seed=3)
    frame = frame.assign(
        std_qty=frame["cv"] * frame["mean_qty"], margin=frame["margin_pct"] * frame["revenue"]
    )
    ws = planted_workspace(tmp_path, frame)
    base = planted_catalogue()
    catalogue = base.model_copy(
        update={"drivers": base.drivers.model_copy(update={"grain": "family"})}
    )
    result = train(ws, labels="rules", config=planted_config(), catalogue=catalogue)
    ref = RegistryRef(result.model_name, tracking_uri(ws))
    scoring = ScoringConfig(mode="static")
    out = score(ws, ref, scoring, model=result.model_version)
    assigned = read_table(main_sinks(ws, scoring)[0], "assignments", as_of=out.as_of)
    families = frame.drop(columns=[TRUTH])["family"].astype(str)
    assert len(assigned) == families.nunique()
    assert set(assigned["sku_id"]) == set(families)
    assert isinstance(out.as_of, date)

    # the policy job applies each family's segment to every product of the family
    from features.snapshots import load_features
    from planning.segment_source import segment_assignments

    products = load_features(workspace=ws)
    got, source = segment_assignments(ws, products, catalogue, main_sinks(ws, scoring), out.as_of)
    assert source.method == "model"
    per_product = got.set_index("sku_id")["segment"]
    per_family = assigned.set_index("sku_id")["segment"]
    expected = products.set_index("sku_id")["family"].astype(str).map(per_family)
    assert per_product.reindex(expected.index).tolist() == expected.tolist()
