"""The policy-impact gate backtests each model on its own segments: a model trained on shuffled
labels fails it, a retrain of the champion's recipe passes it.

The workspace is the synthetic two-region company (300 products, 80 weeks) with the snapshots
as of the newest day and the day before each of the gate's two backtest origins. Three versions
are trained by the real training pipeline on the catalogue's rule labels: v1 (the champion) on
the newest snapshot, v2 — the same recipe retrained — on the snapshot before the newest origin,
v3 on the newest snapshot with the rule labels shuffled across products (a fixed seed): the same
segment mix, so only the segmentation is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fast_company import fast_training
from shuffled_labels import shuffled_rules

from features.build import build_features
from ml.config import GatesConfig
from ml.config.files import load_catalogue, load_policy_config, load_workspace
from ml.config.scoring import ScoringConfig
from ml.errors import StrataError
from planning.backtest import backtest_windows
from planning.policy_impact import gate_windows
from promotion.gate_check import GateCheck, check_gates
from promotion.promote import promote
from store.registry import RegistryRef
from synth.company import write_synthetic_company
from training.tracking import tracking_uri
from training.train import train

REPO = Path(__file__).resolve().parents[2]
MODEL = "strata-segmenter"
# the repository's policy-impact gates, fixed here so that retuning configs/gates.yaml does not
# move this test; nothing else is gated, so the verdict is the policy gates' alone
POLICY_GATES = GatesConfig.model_validate(
    {
        "champion": [
            {
                "name": "policy_inventory_value",
                "metric": "policy_inventory_value",
                "against": "champion",
                "relative_tolerance": 0.05,
                "when_missing": "fail",
            },
            {
                "name": "policy_fill_rate",
                "metric": "policy_fill_rate",
                "against": "champion",
                "tolerance": 0.005,
                "when_missing": "fail",
            },
        ],
        "policy_backtest": {"origins": 2},
    }
)


@dataclass(frozen=True)
class Company:
    """The synthetic company's workspace, its configs and its registry."""

    ws: Any
    ref: RegistryRef
    catalogue: Any
    policy: Any


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Company:
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    out = tmp_path_factory.mktemp("policy_gate")
    write_synthetic_company(out, n_skus=300, n_weeks=80, seed=11)
    ws = load_workspace(out / "strata.yaml")
    catalogue = load_catalogue(ws, REPO / "configs" / "segments.yaml")
    policy = load_policy_config(ws, REPO / "configs" / "policy.yaml")
    policy = policy.model_copy(
        update={"build": policy.build.model_copy(update={"bootstrap_samples": 200})}
    )
    build_features(ws)
    cfg = policy.model_copy(update={"backtest": policy.backtest.model_copy(update={"origins": 2})})
    origin_days = [w.policy_as_of for w in backtest_windows(ws, cfg)]
    build_features(ws, as_of=origin_days)
    config = fast_training(ws)
    versions = (  # (as of, labels): None = the newest snapshot, the catalogue's rules
        (None, None),
        (origin_days[-1], None),
        (None, shuffled_rules(catalogue, seed=3)),
    )
    for as_of, segment_fn in versions:
        train(
            ws,
            labels="rules",
            as_of=as_of,
            config=config,
            catalogue=catalogue,
            segment_fn=segment_fn,
        )
    ref = RegistryRef(MODEL, tracking_uri(ws))
    promote(ws, ref, "1", "champion", GatesConfig(), ScoringConfig(), force=True, reason="set-up")
    return Company(ws, ref, catalogue, policy)


def _check(c: Company, version: str) -> GateCheck:
    return check_gates(
        c.ws,
        c.ref,
        version,
        "champion",
        POLICY_GATES,
        ScoringConfig(),
        catalogue=c.catalogue,
        policy=c.policy,
        store=False,
    )


def _policy(check: GateCheck) -> tuple[dict[str, float], dict[str, float]]:
    m, cm = check.measurements.metrics, check.measurements.champion_metrics
    keys = ("policy_fill_rate", "policy_inventory_value")
    return {k: m[k] for k in keys}, {k: cm[k] for k in keys}


def test_a_retrain_of_the_champions_recipe_passes_the_policy_gate(company):
    check = _check(company, "2")
    assert check.report.result("policy_fill_rate").status == "pass"
    assert check.report.result("policy_inventory_value").status == "pass"
    # the champion's figures are its own backtest, from the same origins
    windows = gate_windows(company.ws, company.policy, 2)
    impact = check.measurements.extras["policy_impact"]
    assert impact["origins"] == ", ".join(w.first.isoformat() for w in windows)
    assert impact["strategy"] == "catalogue"
    mine, champion = _policy(check)
    assert champion["policy_fill_rate"] == impact["champion_policy_fill_rate"]
    assert mine["policy_fill_rate"] == pytest.approx(champion["policy_fill_rate"], abs=0.005)


def test_a_model_trained_on_shuffled_labels_fails_the_policy_gate(company):
    check = _check(company, "3")
    assert not check.report.passed
    # the wrong policies for the products: more stock for less service
    mine, champion = _policy(check)
    assert mine["policy_inventory_value"] > 1.05 * champion["policy_inventory_value"]
    assert mine["policy_fill_rate"] < champion["policy_fill_rate"] - 0.005
    assert check.report.result("policy_inventory_value").status == "fail"
    assert check.report.result("policy_fill_rate").status == "fail"
    assert "rises from champion" in check.report.result("policy_inventory_value").reason


def test_too_short_a_history_or_a_missing_snapshot_makes_the_gate_na_with_the_fix(company):
    c = company
    with pytest.raises(StrataError, match=r"policy_backtest.origins: 8 of configs/gates.yaml"):
        gate_windows(c.ws, c.policy, 8)  # 8 quarterly origins need two years: there are 80 weeks
    third = backtest_windows(
        c.ws,
        c.policy.model_copy(
            update={"backtest": c.policy.backtest.model_copy(update={"origins": 3})}
        ),
    )[0].policy_as_of.isoformat()
    with pytest.raises(StrataError, match=f"lacks {third}.*--as-of {third}"):
        gate_windows(c.ws, c.policy, 3)
    gates = POLICY_GATES.model_copy(
        update={"policy_backtest": POLICY_GATES.policy_backtest.model_copy(update={"origins": 3})}
    )
    na = [g.model_copy(update={"when_missing": "na"}) for g in gates.champion]
    check = check_gates(
        c.ws,
        c.ref,
        "2",
        "champion",
        gates.model_copy(update={"champion": na}),
        ScoringConfig(),
        catalogue=c.catalogue,
        policy=c.policy,
        store=False,
    )
    assert {r.status for r in check.report.results} == {"n/a"}
    assert any(
        n.startswith("policy impact not measured: ") and third in n
        for n in check.measurements.notes
    )
