"""API benchmark: product lookups and product pages of `strata serve` over outputs for 1M products.

Run from the repo root: `.venv/bin/python benchmarks/bench_api.py [--products N] [--requests R]
[--clients C]`. The set-up (not timed) writes a planted snapshot of N products
(`tests/support/planted.py`), and through the real sink one scoring run's assignments (the planted
segments), five reasons per product (explanations) and a policy per product, plus a planner user.
Then `strata serve` starts in its own process on a free loopback port, and the first lookup
(which reads the outputs into memory) is timed alone. The timed loop: C client threads with
keep-alive connections send R `GET /api/products/{sku}` for random products in total (bounded in
count and in time, 120 s); then 50 sequential product pages (`GET /products/{sku}`, signed in).
Budgets: lookup p95 <= 50 ms and >= 300 requests/s; product page p95 <= 150 ms; exit 1 if over.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.pop("MLFLOW_TRACKING_URI", None)
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]

AS_OF = date(2026, 11, 2)
P95_MS, MIN_RPS, PAGE_P95_MS, TIME_BOUND_S = 50.0, 300.0, 150.0, 120.0


def _tables(big, rng):
    """Assignments, five reasons per product, and policies shaped as the stages write them."""
    import numpy as np
    import pandas as pd
    from planted import TRUTH

    n = len(big)
    seg = big[TRUTH].astype("str").to_numpy()
    prob = rng.uniform(0.6, 1.0, n)
    assignments = pd.DataFrame(
        {
            "sku_id": big["sku_id"], "as_of": pd.Timestamp(AS_OF), "segment": seg,
            "probability": prob, "method": "model", "model_name": "strata-segmenter",
            "model_version": "1", "previous_segment": seg, "changed": False,
            "reasons": "Sells almost every week — the strongest reason", "provisional": False,
            "review": False, "feature_set": "planted-v1", "change_reason": "held",
            "proposed_segment": seg, "proposed_probability": prob,
            "override_id": pd.array([pd.NA] * n, dtype="Int64"), "tenure": 3,
            "streak_segment": None, "streak_count": 0, "since": pd.Timestamp(AS_OF),
        }
    )  # fmt: skip
    feats = np.array(["adi", "cv2", "zero_share", "total_qty", "seasonality_strength"])
    k = len(feats)
    sku = np.repeat(big["sku_id"].to_numpy(), k)
    feature = np.tile(feats, n)
    value = big[list(feats)].to_numpy().reshape(-1)
    shap = np.sort(rng.exponential(1.0, (n, k)), axis=1)[:, ::-1].reshape(-1)
    reason = (
        pd.Series(feature).str.replace("_", " ")
        + " is "
        + pd.Series(value).round(2).astype("str")
        + " — points to "
        + pd.Series(np.repeat(seg, k))
    )
    explanations = pd.DataFrame(
        {
            "sku_id": sku, "as_of": pd.Timestamp(AS_OF), "segment": np.repeat(seg, k),
            "rank": np.tile(np.arange(1, k + 1), n), "feature": feature, "value": value,
            "shap": shap, "reason": reason.to_numpy(), "model_name": "strata-segmenter",
        }
    )  # fmt: skip
    policies = pd.DataFrame(
        {
            "sku_id": big["sku_id"], "as_of": pd.Timestamp(AS_OF), "segment": seg,
            "service_level": 0.95, "service_level_type": "csl", "review": "periodic",
            "review_period_days": 7.0, "safety_stock": rng.uniform(0, 100, n),
            "reorder_point": rng.uniform(100, 200, n), "order_qty": rng.uniform(1, 50, n),
            "expected_fill_rate": rng.uniform(0.9, 1.0, n),
            "segment_reasons": "Sells almost every week",
        }
    )  # fmt: skip
    return assignments, explanations, policies


def _setup(root: Path, products: int) -> tuple[Path, str]:
    """The workspace with outputs for `products` products and a planner's token (not timed)."""
    import numpy as np
    from planted import planted_frame, planted_workspace
    from registered_ws import write_cli_configs

    from ml.config.files import load_roles_config, load_scoring_config, load_workspace
    from serving.runs import main_sinks
    from store.sinks import write_run
    from store.users import add_user

    big = planted_frame(products, seed=1)
    planted_workspace(root, big, AS_OF)
    config = write_cli_configs(root)
    ws = load_workspace(config)
    assignments, explanations, policies = _tables(big, np.random.default_rng(3))
    sink = main_sinks(ws, load_scoring_config(ws))[0]
    run = "score-bench"
    tables = {"assignments": assignments, "explanations": explanations}
    write_run(sink, tables, as_of=AS_OF, model_version="1", run_id=run)
    write_run(sink, {"policies": policies}, as_of=AS_OF, model_version="policy-1", run_id="pol")
    roles = list(load_roles_config(ws).roles)
    return config, add_user(ws, "bench", "planner", roles, "bench")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(config: Path, port: int, log: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("strata")
    cmd = [str(exe), "serve", "-c", str(config), "--port", str(port)]
    return subprocess.Popen(
        cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait(base: str, server: subprocess.Popen, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"strata serve exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("strata serve did not answer in 60 s")


def _load(
    port: int, token: str, skus: list[str], requests: int, clients: int
) -> tuple[list[float], float]:
    """`requests` lookups from `clients` threads, each on one keep-alive connection."""
    import http.client

    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + TIME_BOUND_S
    per = requests // clients
    headers = {"Authorization": f"Bearer {token}"}

    def worker(i: int) -> None:
        mine = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for j in range(per):
            if time.monotonic() > stop:
                break
            t = time.perf_counter()
            conn.request("GET", f"/api/products/{skus[(i * per + j) % len(skus)]}", headers=headers)
            r = conn.getresponse()
            body = r.read()
            mine.append(time.perf_counter() - t)
            assert r.status == 200, body[:300]
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - t0


def _pages(base: str, token: str, skus: list[str], n: int = 50) -> list[float]:
    import httpx

    with httpx.Client(base_url=base) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
        c.post("/login", data={"name": "bench", "token": token, "csrf": csrf})
        times = []
        for sku in skus[:n]:
            t = time.perf_counter()
            r = c.get(f"/products/{sku}")
            times.append(time.perf_counter() - t)
            assert r.status_code == 200 and "Why this segment" in r.text, r.text[:300]
    return times


def _p(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0] * 1000
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    import httpx
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="strata-bench-api-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        config, token = _setup(root, args.products)
        print(
            f"set-up: {args.products:,} products' outputs written in {time.perf_counter() - t0:.1f} s"
        )
        rng = np.random.default_rng(4)
        skus = [f"SKU{i:06d}" for i in rng.integers(0, args.products, args.requests)]
        port, log = _free_port(), root / "serve.log"
        base = f"http://127.0.0.1:{port}"
        server = _serve(config, port, log)
        try:
            _wait(base, server, log)
            t = time.perf_counter()
            r = httpx.get(
                f"{base}/api/products/{skus[0]}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=300,
            )
            assert r.status_code == 200, r.text[:300]
            print(f"first lookup (reads the outputs into memory): {time.perf_counter() - t:.1f} s")
            lat, wall = _load(port, token, skus, args.requests, args.clients)
            pages = _pages(base, token, skus)
            status = Path(f"/proc/{server.pid}/status").read_text()
            rss_gb = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024**2
        finally:
            server.terminate()
            server.wait(timeout=30)
    rps, p50, p95 = len(lat) / wall, _p(lat, 50), _p(lat, 95)
    page95 = _p(pages, 95)
    print(
        f"product lookup, {len(lat):,} requests from {args.clients} clients in {wall:.1f} s: "
        f"{rps:,.0f} req/s, p50 {p50:.1f} ms, p95 {p95:.1f} ms (budget p95 <= {P95_MS:.0f} ms, "
        f">= {MIN_RPS:.0f} req/s)"
    )
    print(f"server peak RSS (outputs of {args.products:,} products in memory): {rss_gb:.1f} GB")
    print(
        f"product page, {len(pages)} sequential: p50 {_p(pages, 50):.1f} ms, p95 {page95:.1f} ms (budget <= {PAGE_P95_MS:.0f} ms)"
    )
    if p95 > P95_MS or rps < MIN_RPS or page95 > PAGE_P95_MS:
        print("OVER BUDGET")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
