"""The actions stage of `strata refresh` on a synthetic company (300 products, 60 weeks):

- a planted harmful promotion — v2, trained on shuffled rule labels, made champion by the
  automatic path under gates too lenient to stop it — is rolled back by the next refresh: the
  champion goes back to v1, that refresh's reclassification run is undone, the snapshot is
  scored again by v1 and the policies rebuilt, so the published assignments and policies are
  those of a refresh in which the harmful promotion never happened (a copy of the workspace is
  the control); every step is audited with the reason;
- the automatic path itself: a rule fires, the refresh retrains on its snapshot, promotes to
  staging and (auto_champion) to champion through the gates, shadow-scores; the next refresh,
  the first the new champion scores, judges it within tolerances and keeps it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fast_company import fast_training, in_repo_without_mlflow_env
from shuffled_labels import shuffled_rules

from features.build import build_features
from ml import columns as C
from ml.config.files import (
    load_catalogue,
    load_policy_config,
    load_scoring_config,
    load_workspace,
)
from ml.config.gates import GatesConfig
from ml.config.operations import Actions, OperationsConfig, Probation, TriggerRules
from ml.config.scoring import ScoringConfig
from promotion.promote import promote
from serving.runs import main_sinks
from store.actions_log import read_actions
from store.audit import read_audit
from store.registry import RegistryRef, alias_holders, read_alias_history
from store.run_ledger import read_ledger
from store.sinks import read_table
from strata.refresh import refresh
from synth.company import write_synthetic_company
from synth.files import HISTORY_END
from training.tracking import tracking_uri
from training.train import train

REPO = Path(__file__).resolve().parents[2]
MODEL = "strata-segmenter"
DAY_B = HISTORY_END - timedelta(days=1)
DAY_A = DAY_B - timedelta(days=28)
LENIENT = GatesConfig()  # no gate at all: what lets a harmful model through
POLICY_KEYS = [C.SKU_ID, C.SEGMENT, C.REORDER_POINT, C.ORDER_QTY, C.SAFETY_STOCK]


@dataclass(frozen=True)
class Company:
    """A copy of the synthetic company's workspace, with its configs loaded."""

    root: Path
    ws: Any
    ref: RegistryRef

    def refresh(self, operations: OperationsConfig, training: Any = None, **kwargs: Any) -> Any:
        return refresh(
            self.ws,
            self.ref,
            catalogue=load_catalogue(self.ws),
            scoring=load_scoring_config(self.ws),
            policy=load_policy_config(self.ws),
            operations=operations,
            gates=LENIENT,
            training=training,
            triggered_by="test",
            **kwargs,
        )


@pytest.fixture(scope="module")
def company_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Snapshots as of A and B; v1 (rule labels, as of A) champion, v2 (shuffled) registered,
    one refresh as of A done (~25 s)."""
    with in_repo_without_mlflow_env():
        out = tmp_path_factory.mktemp("probation") / "company"
        write_synthetic_company(out, n_skus=300, n_weeks=60, seed=13)
        ws = load_workspace(out / "strata.yaml")
        build_features(ws, as_of=[DAY_A, DAY_B])
        catalogue = load_catalogue(ws)
        for segment_fn in (None, shuffled_rules(catalogue, seed=3)):
            train(
                ws,
                labels="rules",
                as_of=DAY_A,
                config=fast_training(ws),
                catalogue=catalogue,
                segment_fn=segment_fn,
            )
        ref = RegistryRef(MODEL, tracking_uri(ws))
        promote(ws, ref, "1", "champion", LENIENT, ScoringConfig(), force=True, reason="set-up")
        Company(out, ws, ref).refresh(OperationsConfig(), as_of=DAY_A)
        yield out


@pytest.fixture
def copy_of(company_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A factory of private copies of the company (warehouse, ledger, registry)."""
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("STRATA_USER", "tester")
    monkeypatch.chdir(REPO)

    def make(name: str) -> Company:
        root = tmp_path / name
        shutil.copytree(company_root, root, symlinks=True)  # the sinks publish runs by links
        ws = load_workspace(root / "strata.yaml")
        return Company(root, ws, RegistryRef(MODEL, tracking_uri(ws)))

    return make


def _visible(c: Company, table: str, keys: list[str]) -> pd.DataFrame:
    frame = read_table(main_sinks(c.ws, load_scoring_config(c.ws))[0], table, as_of=DAY_B)
    return frame[keys].sort_values(C.SKU_ID).reset_index(drop=True)


def _acted(c: Company, result: Any) -> pd.DataFrame:
    log = read_actions(c.ws)
    return log[log["refresh_id"] == result.refresh_id].reset_index(drop=True)


def test_a_harmful_automatic_promotion_is_rolled_back_and_its_reclassification_undone(copy_of):
    harmful, control = copy_of("harmful"), copy_of("control")
    move = promote(
        harmful.ws, harmful.ref, "2", "champion", LENIENT, ScoringConfig(), automatic=True
    )
    assert (move.event, move.to_version) == ("auto_promotion", "2")

    judged = harmful.refresh(OperationsConfig(), as_of=DAY_B)
    control.refresh(OperationsConfig(), as_of=DAY_B)

    acted = _acted(harmful, judged)
    assert list(acted["action"]) == ["probation", "rollback", "undo", "rescore", "policies"]
    assert list(acted["outcome"]) == ["failed", "done", "done", "done", "done"]
    assert "proposes to move" in acted.loc[0, "why"] and "v2" in acted.loc[0, "why"]
    assert alias_holders(harmful.ref) == {"champion": "1"}
    last = read_alias_history(harmful.ws, MODEL, "champion").iloc[-1]
    assert (last["event"], last["from_version"], last["to_version"]) == ("rollback", "2", "1")
    assert judged.refresh_id in last["who"]
    audit = read_audit(harmful.ws)
    rollback = audit[audit["event"] == "rollback"].iloc[-1]
    assert "breached its probation" in rollback["why"]
    undone = audit[audit["event"] == "score_rollback"].iloc[-1]
    scored_by_v2 = next(s for s in judged.stages if s.stage == "score")
    assert scored_by_v2.model_version == "2" and undone["run_id"] == scored_by_v2.run_id

    # published outputs as of B: those of the control, where v2 was never champion
    keys = [C.SKU_ID, C.SEGMENT, C.MODEL_VERSION]
    got, want = _visible(harmful, C.ASSIGNMENTS, keys), _visible(control, C.ASSIGNMENTS, keys)
    assert set(got[C.MODEL_VERSION]) == {"1"}
    pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(
        _visible(harmful, C.POLICIES, POLICY_KEYS), _visible(control, C.POLICIES, POLICY_KEYS)
    )
    ledger = read_ledger(harmful.ws, limit=1).set_index("stage")
    assert ledger.loc["actions", "status"] == "succeeded"


def test_a_fired_rule_retrains_promotes_automatically_and_the_next_refresh_keeps_it(copy_of):
    c = copy_of("automatic")
    operations = OperationsConfig(
        # any movement of any attribute fires; KPI streaks never do (so only drift is at work)
        rules=TriggerRules(drift_psi_max=1e-6, kpi_breached_refreshes=100),
        actions=Actions(auto_champion=True, probation=Probation(kpis_breached_increase_max=3)),
    )
    first = c.refresh(operations, training=fast_training(c.ws), as_of=DAY_B)
    acted = _acted(c, first)
    assert list(acted["action"]) == ["retrain", "staging", "shadow", "champion", "probation"]
    assert list(acted["outcome"]) == ["done", "done", "done", "done", "waiting"]
    assert set(acted["model_version"]) == {"3"} and acted.loc[0, "rule"].startswith("drift")
    assert alias_holders(c.ref) == {"champion": "3", "staging": "3"}
    events = read_alias_history(c.ws, MODEL)
    assert list(events["event"].tail(2)) == ["auto_promotion", "auto_promotion"]

    second = c.refresh(operations, training=fast_training(c.ws), as_of=DAY_B)
    assert next(s for s in second.stages if s.stage == "score").model_version == "3"
    acted = _acted(c, second)
    assert list(acted["action"]) == ["probation"] and acted.loc[0, "outcome"] == "passed"
    assert alias_holders(c.ref)["champion"] == "3"

    third = c.refresh(operations, training=fast_training(c.ws), as_of=DAY_B)
    # the same snapshot again: nothing drifted, and the probation was judged once
    assert list(_acted(c, third)["action"]) == ["none"]
