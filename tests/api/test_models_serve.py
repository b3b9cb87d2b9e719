"""`strata models serve`: MLflow's own server for the champion, from a shell that has neither
MLFLOW_TRACKING_URI nor the venv on PATH (what the README's command needs to work)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from features.snapshots import load_features
from strata.cli import app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dry_run_names_the_champion_and_what_mlflow_needs(served):
    config = str(served.root / "configs" / "strata.yaml")
    r = CliRunner().invoke(app, ["models", "serve", "--dry-run", "-c", config])
    assert r.exit_code == 0, r.output
    assert "serving strata-segmenter v1 (@champion) on http://127.0.0.1:5001" in r.output
    assert f"MLFLOW_TRACKING_URI=sqlite:///{served.root}" in r.output
    assert "models serve -m models:/strata-segmenter@champion --env-manager local" in r.output
    r = CliRunner().invoke(app, ["models", "serve", "--alias", "staging", "-c", config])
    assert r.exit_code == 2


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_the_champion_answers_from_a_fresh_shell(served, tmp_path):
    port = _free_port()
    strata = Path(sys.executable).with_name("strata")
    config = served.root / "configs" / "strata.yaml"
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [str(strata), "models", "serve", "-c", str(config), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow models serve did not come up in 90 s"
            time.sleep(0.5)
        rows = load_features(workspace=served.ws).head(5)
        rows = rows.assign(as_of=rows["as_of"].astype(str))
        split = json.loads(rows.to_json(orient="split", index=False))
        body = _post(f"{base}/invocations", {"dataframe_split": split})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    predictions = body["predictions"]
    assert [p["sku_id"] for p in predictions] == rows["sku_id"].tolist()
    assert all(0 < p["probability"] <= 1 and p["reason_1"] for p in predictions)
