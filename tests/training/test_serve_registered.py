"""A registered version answers in MLflow's own server (`mlflow models serve`, local env)."""

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

import pytest

from features.snapshots import load_features
from training.tracking import tracking_uri


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status


@pytest.mark.slow
def test_mlflow_models_serve_returns_segments_and_reasons(trained, tmp_path):
    ws, result = trained
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": tracking_uri(ws),
        "MLFLOW_REGISTRY_URI": tracking_uri(ws),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [
            str(bin_dir / "mlflow"),
            "models",
            "serve",
            "-m",
            result.model_uri,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "1",
        ],
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
                if _get(f"{base}/ping") == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "server did not come up in 90 s"
            time.sleep(0.5)

        rows = load_features(workspace=ws).head(20)
        rows = rows.assign(as_of=rows["as_of"].astype(str))
        payload = {
            "dataframe_split": json.loads(rows.to_json(orient="split", index=False)),
            "params": {"top_k": 3},
        }
        request = urllib.request.Request(
            f"{base}/invocations",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()

    predictions = body["predictions"]
    assert len(predictions) == 20
    first = predictions[0]
    assert first["sku_id"] == rows["sku_id"].iloc[0]
    assert first["segment"] in result.assigned_mix
    assert 0 < first["probability"] <= 1
    assert all(p["reason_1"] and p["reason_3"] for p in predictions)
    assert "reason_4" not in first  # top_k=3 travelled as a param
    assert {"provisional", "review", "feature_1", "value_1", "shap_1"} <= set(first)
