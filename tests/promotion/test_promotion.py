"""Gates, promotion, forced promotion and rollback (serving/promotion.py), with the audit and the
alias history in agreement — also when two processes promote at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from registered_ws import AS_OF, GATES, LATER

from features.snapshots import load_features
from ml.config import Gate, GatesConfig
from ml.config.scoring import ScoringConfig
from ml.drift import population_stability_index
from ml.errors import StrataError
from promotion.gate_check import check_gates
from promotion.promote import promote, rollback_alias
from serving.predict import input_spec, load_pyfunc, model_inputs, predict_pandas
from serving.scoring import score
from store.audit import read_audit
from store.registry import alias_holders, read_alias_history, registry_client

REPO = Path(__file__).resolve().parents[2]
SCORING = ScoringConfig()
NONE = GatesConfig()  # no gate at all: every promotion passes
STRICT = GatesConfig(
    champion=[Gate(name="quality_floor", metric="cv_macro_f1", min=0.999999)],
)


def _rows(frame, columns: list[str]) -> list[list]:
    """The frame's values, missing ones as None."""
    part = frame[columns].astype(object)
    return part.where(part.notna(), None).values.tolist()


def _force(ws, ref, version, alias="champion", reason="set-up"):
    return promote(ws, ref, version, alias, NONE, SCORING, force=True, reason=reason)


def _gates() -> GatesConfig:
    return GatesConfig.model_validate(GATES)


def test_gates_check_measures_on_the_newest_snapshot_and_stores_report_and_tags(
    serving_ws, registered
):
    ws, ref = serving_ws
    _force(ws, ref, "1")
    champion_run = score(ws, ref, SCORING, as_of=LATER)
    check = check_gates(ws, ref, "2", "champion", _gates(), SCORING)
    m, cm = check.measurements.metrics, check.measurements.champion_metrics

    assert check.measurements.snapshot == LATER and check.champion_version == "1"
    assert m["cv_macro_f1"] == registered.v2.metrics["cv_macro_f1"]
    assert cm["cv_macro_f1"] == registered.v1.metrics["cv_macro_f1"]
    old, new = load_features(AS_OF, workspace=ws), load_features(LATER, workspace=ws)
    assert m["psi.adi"] == pytest.approx(population_stability_index(old["adi"], new["adi"]))
    assert m["psi.adi"] > 0.01 and m["psi.unit_price"] == 0.0  # only demand attributes drifted
    # stability: v2's segments on the newest snapshot against v1's written assignments
    v2 = load_pyfunc("models:/strata-segmenter/2")
    proposed = predict_pandas(v2, model_inputs(new, input_spec(v2)), {"explain": False})
    current = champion_run.tables.assignments
    assert m["segment_change_share"] == pytest.approx(
        float(np.mean(proposed["segment"].to_numpy() != current["segment"].to_numpy()))
    )
    assert m["shap_additivity_error"] < 1e-9
    assert check.measurements.notes[-1].startswith("policy impact not measured: ")

    report = check.report
    assert report.result("quality_floor").status == "pass"
    assert report.result("policy_fill_rate").status == "n/a"

    client = registry_client(ref)
    mv = client.get_model_version("strata-segmenter", "2")
    assert mv.tags["gate.champion"] == report.overall
    assert mv.tags["gate.champion.snapshot"] == LATER.isoformat()
    for r in report.results:
        assert mv.tags[f"gate.champion.{r.gate}"] == r.status
    stored = json.loads(
        Path(client.download_artifacts(mv.run_id, "gates/champion.json")).read_text()
    )
    assert stored["overall"] == report.overall and stored["version"] == "2"
    assert [g["status"] for g in stored["gates"]] == [r.status for r in report.results]
    md = Path(client.download_artifacts(mv.run_id, "gates/champion.md")).read_text()
    assert md.startswith("# strata-segmenter v2 → `champion`") and "| quality_floor |" in md


def test_promote_moves_the_alias_only_when_every_gate_passes(serving_ws):
    ws, ref = serving_ws
    with pytest.raises(StrataError) as err:
        promote(ws, ref, "1", "champion", STRICT, SCORING)
    assert str(err.value).startswith(
        "strata-segmenter v1 is not promoted to champion: 1 gate(s) fail — quality_floor: "
    )
    assert "`--force --reason TEXT` overrides it on record" in str(err.value)
    assert alias_holders(ref) == {} and read_audit(ws).empty

    move = promote(ws, ref, "1", "champion", NONE, SCORING)
    assert alias_holders(ref) == {"champion": "1"}
    audit = read_audit(ws)
    assert _rows(audit, ["event", "who", "subject", "from_value", "to_value"]) == [
        ["promotion", "tester", "strata-segmenter", None, "1"]
    ]
    assert (
        audit["why"].iloc[0]
        == "champion: all gates pass (0 pass, 0 n/a)"
        == (f"champion: {move.why}")
    )


def test_forced_promotion_needs_a_reason_and_is_recorded(serving_ws):
    ws, ref = serving_ws
    with pytest.raises(StrataError, match=r"^--force needs --reason"):
        promote(ws, ref, "1", "champion", STRICT, SCORING, force=True, reason="  ")
    promote(ws, ref, "1", "champion", STRICT, SCORING, force=True, reason="holiday freeze")
    assert alias_holders(ref) == {"champion": "1"}
    row = read_audit(ws).iloc[-1]
    assert (row["event"], row["why"]) == ("forced_promotion", "champion: forced: holiday freeze")
    history = read_alias_history(ws)
    assert _rows(history, ["alias", "from_version", "to_version", "event", "who"]) == [
        ["champion", None, "1", "forced_promotion", "tester"]
    ]


def test_rollback_moves_champion_back_to_the_version_it_replaced(serving_ws):
    ws, ref = serving_ws
    _force(ws, ref, "1")
    _force(ws, ref, "2")
    move = rollback_alias(ws, ref, reason="v2 mislabels dormant items")
    assert (move.from_version, move.to_version) == ("2", "1")
    assert alias_holders(ref) == {"champion": "1"}
    row = read_audit(ws).iloc[-1]
    assert row[["event", "from_value", "to_value"]].tolist() == ["rollback", "2", "1"]
    assert row["why"] == (
        "champion: rolled back v2 to v1, the version it replaced: v2 mislabels dormant items"
    )
    with pytest.raises(StrataError) as err:
        rollback_alias(ws, ref)
    assert str(err.value) == (
        "strata-segmenter v1 was the first champion: it replaced no version, so there is "
        "nothing to roll back to"
    )
    with pytest.raises(StrataError, match=r"^no version of strata-segmenter holds staging"):
        rollback_alias(ws, ref, "staging")


def test_unknown_version_or_alias_is_a_clear_error_and_the_audit_is_unchanged(serving_ws):
    ws, ref = serving_ws
    with pytest.raises(StrataError) as err:
        promote(ws, ref, "9", "champion", NONE, SCORING)
    assert str(err.value) == (
        "model 'strata-segmenter' has no version 9; versions: 1, 2 (`strata models` lists them)"
    )
    with pytest.raises(StrataError) as err:
        promote(ws, ref, "1", "champions", NONE, SCORING)
    assert str(err.value) == (
        "unknown alias 'champions' (did you mean champion?); Strata promotes to: staging, "
        "champion. Use --to staging or --to champion"
    )
    with pytest.raises(StrataError) as err:
        promote(ws, ref, "latest", "staging", NONE, SCORING, force=True, reason="x")
    assert str(err.value) == (
        "'latest' names no version of 'strata-segmenter': give a version number or one of the "
        "aliases staging, champion"
    )
    assert read_audit(ws).empty and alias_holders(ref) == {}


def test_a_promotion_judged_against_a_champion_that_moved_meanwhile_is_refused(
    serving_ws, monkeypatch
):
    import promotion.promote as promotion

    ws, ref = serving_ws
    real_check = promotion.check_gates

    def check_then_someone_else_promotes(*args, **kwargs):
        result = real_check(*args, **kwargs)
        _force(ws, ref, "1", reason="the other engineer")  # lands while v2's gates ran
        return result

    monkeypatch.setattr(promotion, "check_gates", check_then_someone_else_promotes)
    with pytest.raises(StrataError) as err:
        promote(ws, ref, "2", "champion", NONE, SCORING)
    assert str(err.value) == (
        "strata-segmenter v2 is not promoted to champion: another promotion happened while its "
        "gates were measured (champion went from none to 1); the gates were judged against the "
        "old holders. Run the promotion again"
    )
    assert alias_holders(ref) == {"champion": "1"}
    assert read_audit(ws)["to_value"].tolist() == ["1"]


_PROMOTER = """
import json, sys, time
from pathlib import Path
from ml.config import Workspace
from ml.config import GatesConfig
from ml.config.scoring import ScoringConfig
from promotion.promote import promote
from store.registry import RegistryRef

ws = Workspace.model_validate_json(Path(sys.argv[1]).read_text())
ref = RegistryRef("strata-segmenter", sys.argv[2])
version, log, go = sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5])
while not go.exists():
    time.sleep(0.005)

def hold():  # under the lock, after reading the alias: a wide window for the other process
    start = time.time()
    time.sleep(1.0)
    log.write_text(json.dumps([start, time.time()]))

promote(ws, ref, version, "champion", GatesConfig(), ScoringConfig(), force=True,
        reason=f"process {version}", on_locked=hold)
"""


def test_two_processes_promoting_at_once_leave_alias_and_audit_in_agreement(serving_ws, tmp_path):
    ws, ref = serving_ws
    spec = tmp_path / "ws.json"
    spec.write_text(ws.model_dump_json())
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true"}
    procs = {
        v: subprocess.Popen(
            [
                sys.executable,
                "-c",
                _PROMOTER,
                str(spec),
                ref.tracking_uri,
                v,
                str(tmp_path / f"held-{v}.json"),
                str(go),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for v in ("1", "2")
    }
    time.sleep(4.0)  # both have imported MLflow and wait at the barrier
    go.touch()
    outputs = {v: p.communicate(timeout=120)[0] for v, p in procs.items()}
    assert {v: p.returncode for v, p in procs.items()} == {"1": 0, "2": 0}, outputs

    # both read "no champion" before the barrier; under the lock the second saw the first's move
    first, second = sorted(json.loads((tmp_path / f"held-{v}.json").read_text()) for v in "12")
    assert first[1] <= second[0]  # the windows under the lock never overlap
    history = read_alias_history(ws)
    audit = read_audit(ws)
    moves = [tuple(m) for m in _rows(history, ["from_version", "to_version"])]
    assert [tuple(a) for a in _rows(audit, ["from_value", "to_value"])] == moves
    assert len(moves) == 2 and moves[0][0] is None
    assert moves[1][0] == moves[0][1]  # the second move starts where the first ended
    assert alias_holders(ref)["champion"] == moves[1][1]
