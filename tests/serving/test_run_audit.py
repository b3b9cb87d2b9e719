"""A scoring job killed (SIGKILL) after publishing its run and before auditing it: the next
scoring run audits the killed run's first assignments, marked as recorded late, so
`strata audit SKU` still answers for every product."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from registered_ws import AS_OF, N_PRODUCTS

from ml.config.scoring import ScoringConfig
from serving.run_audit import LATE
from serving.runs import current_assignments, main_sinks
from serving.scoring import score
from store.audit import read_audit

REPO = Path(__file__).resolve().parents[2]
SCORING = ScoringConfig()

# score in a subprocess whose audit write stalls (after the run is published) until killed
_STALLING_SCORE = """
import sys, time
from datetime import date
from pathlib import Path
import serving.scoring as scoring
from ml.config import Workspace
from ml.config.scoring import ScoringConfig
from store.registry import RegistryRef
marker = Path(sys.argv[1])
def stall(*_args, **_kwargs):
    marker.write_text("published")
    time.sleep(120)
scoring.append_audit = stall
ws = Workspace.model_validate_json(Path(sys.argv[2]).read_text())
ref = RegistryRef(sys.argv[3], sys.argv[4])
scoring.score(ws, ref, ScoringConfig(), as_of=date.fromisoformat(sys.argv[5]))
"""


def _promote(ws, ref) -> None:
    from ml.config import GatesConfig
    from promotion.promote import promote

    promote(ws, ref, "1", "champion", GatesConfig(), SCORING, force=True, reason="test")


def test_a_run_killed_before_its_audit_is_audited_by_the_next_run(serving_ws, tmp_path):
    ws, ref = serving_ws
    _promote(ws, ref)
    (tmp_path / "ws.json").write_text(ws.model_dump_json())
    marker = tmp_path / "published"
    env = {**os.environ, "PYTHONPATH": str(REPO), "STRATA_USER": "tester"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _STALLING_SCORE,
            str(marker),
            str(tmp_path / "ws.json"),
            ref.model_name,
            ref.tracking_uri,
            AS_OF.isoformat(),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while not marker.exists():
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() < deadline, "the scoring job never reached its audit"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    killed = current_assignments(main_sinks(ws, SCORING)[0], AS_OF)
    assert killed is not None and len(killed) == N_PRODUCTS  # published, never audited
    killed_run = killed["run_id"].iloc[0]
    assert read_audit(ws, event="first_assignment").empty

    again = score(ws, ref, SCORING, as_of=AS_OF)  # a re-run: nothing moves against the killed run
    audit = read_audit(ws, event="first_assignment")
    assert sorted(audit["subject"]) == sorted(killed["sku_id"])
    assert set(audit["run_id"]) == {killed_run} and again.run_id != killed_run
    assert audit["why"].str.endswith(LATE).all()
    assert audit["why"].str.startswith(f"first assignment as of {AS_OF.isoformat()}").all()

    score(ws, ref, SCORING, as_of=AS_OF)  # repaired once: nothing appended twice
    assert len(read_audit(ws, event="first_assignment")) == N_PRODUCTS
