"""Feature derivation by the pandas engine vs the Spark engine on the same synthetic input.

Run from the repo root: `.venv/bin/python benchmarks/bench_spark_features.py` (default 100,000
series x 104 weeks); `--series 2000000` for the issue's 2M product x location series.

1. Generates (cached in benchmarks/out/) the demand of `--series` series x 104 weeks with the
   generator of `benchmarks/bench_features.py` (same mix of patterns), then shapes it as the
   canonical tables: `demand` (selling weeks only, as ingestion writes it) and `products`
   (family and category, so the fallbacks have groups). With `--locations L` > 1, series i is
   sku i // L at location i % L and the grain is product_location.
2. In a fresh subprocess per engine (so peak memory is honest) runs the derivation the
   engine runs in `strata features build`: pandas `derive_attributes`; Spark
   `write_sku_partitions` -> `key_attributes_spark` (one task per sku partition) ->
   `catalogue_attributes`, on `local[--cores]`.
3. Prints wall time, peak RSS (the process tree: driver, JVM and Python workers, sampled from
   /proc every 0.2 s), demand rows/s, and per-partition rates from the Spark tasks' own timing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

AS_OF = date(2024, 12, 29)  # the Sunday ending week 104 of bench_features' calendar
SERIES = 100_000
FAMILIES, CATEGORIES = 2_000, 40


def tables_for(n_series: int, locations: int) -> dict[str, Any]:
    """The canonical demand and products tables of the cached synthetic demand."""
    import numpy as np
    import pandas as pd
    from bench_features import generate, parquet_path

    path = parquet_path(n_series)
    if not path.exists():
        generate(path, n_series)
    raw = pd.read_parquet(path, filters=[("qty", "!=", 0.0)])
    series = raw["sku_id"].cat.codes.to_numpy().astype(np.int64)
    sku_code = series // locations
    sku = pd.array(np.char.add("SKU", sku_code.astype(str)), dtype="str")
    demand = pd.DataFrame(
        {
            "sku_id": sku,
            "location_id": pd.array(
                np.char.add("L", (series % locations).astype(str)), dtype="str"
            ),
            "period_start": raw["period_start"].astype("datetime64[us]").to_numpy(),
            "kind": pd.array(np.full(len(raw), "sale"), dtype="str"),
            "qty": raw["qty"].to_numpy(),
            "revenue": raw["revenue"].to_numpy(),
            "cost": raw["cost"].to_numpy(),
            "promo_qty": np.zeros(len(raw)),
            "n_lines": np.ones(len(raw), dtype=np.int64),
        }
    )
    codes = np.arange(-(-n_series // locations))
    products = pd.DataFrame(
        {
            "sku_id": pd.array(np.char.add("SKU", codes.astype(str)), dtype="str"),
            "family": pd.array(np.char.add("F", (codes % FAMILIES).astype(str)), dtype="str"),
            "category": pd.array(np.char.add("C", (codes % CATEGORIES).astype(str)), dtype="str"),
        }
    )
    return {"demand": demand, "products": products}


def _tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and every descendant (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class PeakRss:
    """Samples the resident memory of this process tree in a thread; `.peak` in bytes."""

    def __init__(self, every_s: float = 0.2) -> None:
        import os

        self.peak, self._every, self._pid = 0, every_s, os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_bytes(self._pid))
            self._stop.wait(self._every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss_bytes(self._pid))


def child(engine: str, n_series: int, locations: int, cores: int, partitions: int | None) -> dict:
    """One engine's derivation, timed in this (fresh) process."""
    import shutil
    import tempfile

    from ml.config import Calendar, FeaturesConfig, SparkConfig

    tables = tables_for(n_series, locations)
    calendar = Calendar(bucket="week", window_periods=52)
    config = FeaturesConfig(grain="product" if locations == 1 else "product_location")
    out: dict[str, Any] = {"engine": engine, "demand_rows": len(tables["demand"])}
    with PeakRss() as rss:
        t0 = time.perf_counter()
        if engine == "pandas":
            from features.derive import derive_attributes

            frame = derive_attributes(tables, AS_OF, calendar, config).frame
        else:
            from features.derive import catalogue_attributes, derivation_notes
            from features.sku_partitions import write_sku_partitions
            from features.spark_engine import (
                key_attributes_spark,
                partition_count,
                spark_session,
            )

            spark_config = SparkConfig(
                master=f"local[{cores}]",
                partitions=partitions,
                conf={"spark.driver.memory": "6g"},
            )
            n = partition_count(len(tables["products"]), spark_config)
            staging = Path(tempfile.mkdtemp(prefix="bench-spark-", dir=ROOT / "benchmarks" / "out"))
            try:
                with spark_session(spark_config) as spark:
                    t_session = time.perf_counter()
                    parts = write_sku_partitions(tables, staging, n)
                    t_staged = time.perf_counter()
                    found = key_attributes_spark(spark, parts, AS_OF, calendar, config)
                    t_collected = time.perf_counter()
                    frame = catalogue_attributes(
                        found.keyed, derivation_notes(tables), AS_OF, calendar, config
                    ).frame
                    t_done = time.perf_counter()
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            tasks = found.tasks
            out.update(
                partitions=n,
                session_s=t_session - t0,
                stage_s=t_staged - t_session,
                tasks_s=t_collected - t_staged,
                catalogue_s=t_done - t_collected,
                task_s_median=float(tasks["seconds"].median()),
                task_s_max=float(tasks["seconds"].max()),
                task_keys_median=float(tasks["keys"].median()),
                task_rows_per_s=float((tasks["rows"] / tasks["seconds"]).median()),
                task_keys_per_s=float((tasks["keys"] / tasks["seconds"]).median()),
            )
        out["wall_s"] = time.perf_counter() - t0
    out.update(keys=len(frame), peak_rss_gb=rss.peak / 1024**3)
    out["rows_per_s"] = out["demand_rows"] / out["wall_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=SERIES, help="product x location series")
    parser.add_argument("--locations", type=int, default=1, help="locations per product")
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]")
    parser.add_argument("--partitions", type=int, default=None, help="sku partitions")
    parser.add_argument("--engines", default="pandas,spark")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, args.series, args.locations, args.cores, args.partitions)
        sys.stdout.write("RESULT " + json.dumps(result) + "\n")
        return
    tables_for(args.series, args.locations)  # generate the cache outside the timed children
    results = []
    for engine in args.engines.split(","):
        cmd = [sys.executable, __file__, "--child", engine, "--series", str(args.series)]
        cmd += ["--locations", str(args.locations), "--cores", str(args.cores)]
        if args.partitions:
            cmd += ["--partitions", str(args.partitions)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
            raise SystemExit(f"{engine} engine failed (exit {done.returncode})")
        results.append(json.loads(line.removeprefix("RESULT ")))
    print(f"{args.series:,} series x 104 weeks, {results[0]['demand_rows']:,} demand rows")
    for r in results:
        print(
            f"{r['engine']:>6}: wall {r['wall_s']:.1f} s, peak RSS {r['peak_rss_gb']:.2f} GB, "
            f"{r['rows_per_s']:,.0f} rows/s, {r['keys']:,} keys"
        )
        if r["engine"] == "spark":
            print(
                f"        session {r['session_s']:.1f} s, stage partitions {r['stage_s']:.1f} s, "
                f"tasks+collect {r['tasks_s']:.1f} s, catalogue step {r['catalogue_s']:.1f} s; "
                f"{r['partitions']} partitions of ~{r['task_keys_median']:,.0f} keys: "
                f"task median {r['task_s_median']:.2f} s (max {r['task_s_max']:.2f}), "
                f"{r['task_rows_per_s']:,.0f} rows/s and {r['task_keys_per_s']:,.0f} keys/s "
                f"per task"
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
