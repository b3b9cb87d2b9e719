"""Feature derivation by the pandas engine vs the Spark engine on the same synthetic input.

Run from the repo root: `.venv/bin/python benchmarks/bench_spark_features.py` (default 100,000
series x 104 weeks); `--series 2000000 --locations 4` for the issue's 2M product x location
series.

1. Generates (cached in benchmarks/out/) the demand of `--series` series x 104 weeks with the
   generator of `benchmarks/bench_features.py` (same mix of patterns), then shapes it as the
   canonical tables: `demand` (selling weeks only, as ingestion writes it) and `products`
   (family and category, so the fallbacks have groups). With `--locations L` > 1, series i is
   sku i // L at location i % L and the grain is product_location.
2. In a fresh subprocess per engine (so peak memory is honest) runs the derivation the
   engine runs in `strata features build`: pandas `derive_attributes` on the tables in memory
   (loaded before the clock starts); Spark: the sku partitions staged one generator row group
   at a time (`SkuPartitionWriter`, so the driver never holds the demand: this stage includes
   reading the parquet) -> `key_attributes_spark` (one task per sku partition) ->
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


def _series_numbers(names: Any) -> Any:
    """The series number in each generator name (SKU0000012 -> 12)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pc.utf8_slice_codeunits(names, 3), pa.int64()).to_numpy()


def _series(column: Any) -> Any:
    """Each row's series number, decoded chunk by chunk from the dictionary-encoded names."""
    import numpy as np
    import pyarrow as pa

    parts = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            numbers = _series_numbers(chunk.dictionary)
            parts.append(numbers[chunk.indices.to_numpy(zero_copy_only=False)])
        else:
            parts.append(_series_numbers(chunk))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _labels(prefix: str, codes: Any) -> Any:
    """prefix + code, as an Arrow string array (no per-row Python or numpy unicode copies)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(prefix, pa.array(codes).cast(pa.string()), "")


def demand_rows(raw: Any, locations: int) -> Any:
    """The canonical demand rows of raw generator rows (an Arrow table of selling weeks):
    series i is sku i // locations at location i % locations."""
    import numpy as np
    import pyarrow as pa

    series = _series(raw.column("sku_id"))
    n = len(series)
    kind = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int8)), ["sale"])
    table = pa.table(
        {
            "sku_id": _labels("SKU", series // locations),
            "location_id": _labels("L", series % locations),
            "period_start": raw.column("period_start"),
            "kind": kind.cast(pa.string()),
            "qty": raw.column("qty"),
            "revenue": raw.column("revenue"),
            "cost": raw.column("cost"),
            "promo_qty": pa.array(np.zeros(n)),
            "n_lines": pa.array(np.ones(n, dtype=np.int64)),
        }
    )
    return table.to_pandas()


def products_table(n_series: int, locations: int) -> Any:
    """One row per sku with its family and category (so the fallbacks have groups)."""
    import numpy as np
    import pyarrow as pa

    codes = np.arange(-(-n_series // locations))
    return pa.table(
        {
            "sku_id": _labels("SKU", codes),
            "family": _labels("F", codes % FAMILIES),
            "category": _labels("C", codes % CATEGORIES),
        }
    ).to_pandas()


def _source(n_series: int) -> Path:
    """The cached generator parquet for n_series (generated on first use)."""
    from bench_features import generate, parquet_path

    path = parquet_path(n_series)
    if not path.exists():
        generate(path, n_series)
    return path


def tables_for(n_series: int, locations: int) -> dict[str, Any]:
    """The canonical demand and products tables of the cached synthetic demand, in memory."""
    import pyarrow.parquet as pq

    raw = pq.read_table(_source(n_series), filters=[("qty", "!=", 0.0)])
    demand = demand_rows(raw, locations)
    del raw
    return {"demand": demand, "products": products_table(n_series, locations)}


def stage_streamed(n_series: int, locations: int, root: Path, n: int) -> Any:
    """The tables of `tables_for` written to n sku partitions one generator row group at a
    time: the driver never holds the whole demand (the 2M-series run)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from features.sku_partitions import SkuPartitionWriter

    writer = SkuPartitionWriter(root, n)
    source = pq.ParquetFile(_source(n_series))
    for group in range(source.num_row_groups):
        raw = source.read_row_group(group)
        writer.append("demand", demand_rows(raw.filter(pc.not_equal(raw["qty"], 0.0)), locations))
    writer.append("products", products_table(n_series, locations))
    return writer.close()


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

    calendar = Calendar(bucket="week", window_periods=52)
    config = FeaturesConfig(grain="product" if locations == 1 else "product_location")
    out: dict[str, Any] = {"engine": engine}
    if engine == "pandas":
        from features.derive import derive_attributes

        loading = time.perf_counter()
        tables = tables_for(n_series, locations)
        out.update(demand_rows=len(tables["demand"]), load_s=time.perf_counter() - loading)
    with PeakRss() as rss:
        t0 = time.perf_counter()
        if engine == "pandas":
            frame = derive_attributes(tables, AS_OF, calendar, config).frame
        else:
            from features.derive import catalogue_attributes, derivation_notes
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
            n = partition_count(-(-n_series // locations), spark_config)
            staging = Path(tempfile.mkdtemp(prefix="bench-spark-", dir=ROOT / "benchmarks" / "out"))
            try:
                with spark_session(spark_config) as spark:
                    t_session = time.perf_counter()
                    # read, shaped and written one row group at a time: the driver never holds
                    # the demand, so this stage also pays what tables_for pays untimed for pandas
                    parts = stage_streamed(n_series, locations, staging, n)
                    t_staged = time.perf_counter()
                    found = key_attributes_spark(spark, parts, AS_OF, calendar, config)
                    t_collected = time.perf_counter()
                    frame = catalogue_attributes(
                        found.keyed, derivation_notes(parts.empty), AS_OF, calendar, config
                    ).frame
                    t_done = time.perf_counter()
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            tasks = found.tasks
            out.update(
                demand_rows=parts.rows["demand"],
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
    _source(args.series)  # generate the cache outside the timed children
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
    rows = {r["demand_rows"] for r in results}
    if len(rows) != 1:
        raise SystemExit(f"the engines read different demand: {sorted(rows)} rows")
    print(f"{args.series:,} series x 104 weeks, {results[0]['demand_rows']:,} demand rows")
    for r in results:
        print(
            f"{r['engine']:>6}: wall {r['wall_s']:.1f} s, peak RSS {r['peak_rss_gb']:.2f} GB, "
            f"{r['rows_per_s']:,.0f} rows/s, {r['keys']:,} keys"
            + (f" (tables loaded before, untimed: {r['load_s']:.1f} s)" if "load_s" in r else "")
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
