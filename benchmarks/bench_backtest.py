"""Benchmark: the rolling backtest of 100,000 synthetic products x 4 origins x 52 weeks (target 60 s).

Run from the repo root::

    .venv/bin/python benchmarks/bench_backtest.py [--products 100000] [--origins 4] [--weeks 52]

(from another git worktree sharing that environment, prefix ``PYTHONPATH=.`` so the worktree's
code is the code measured, not the editable install's).

In memory: per origin, a snapshot frame computed from the demand before the origin (vectorised),
the catalogue's rules for the segments, every strategy's policies and the uniform sweeps
(:func:`planning.backtest.origin_strategies`, the optimiser refitted there) and their replay on
the 52 weeks after it (:func:`planning.backtest.replay_origin`). Only the parquet reads of the
snapshot and the demand are left out (they are timed by bench_features.py).

Per stage it prints wall-clock and CPU seconds (the CPU figure is the one to compare on a
shared machine: other jobs stretch the wall clock, far less the CPU time), summed over origins,
and the process's peak resident memory. Stages are timed by wrapping the functions named in
``STAGES``; nested stages (``poisson_gamma`` inside ``segment_policies``) are part of their
parent's time.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import platform
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from policy_ws import CATALOGUE

from ml import columns as C
from ml.attributes import snapshot_columns
from ml.config import Catalogue, Source, Workspace
from ml.config.policy import PolicyConfig
from ml.periods import shift_period
from planning import segment_source
from planning.backtest import origin_strategies, origin_windows, replay_origin
from planning.replay import Replayer
from planning.segment_source import SegmentSource

TARGET_SECONDS = 60.0
START = date(2022, 1, 3)  # a Monday: week 0

#: stage name -> (module, function) timed by wrapping, in report order
STAGES = {
    "segments (rules)": ("planning.segment_source", "segment_assignments"),
    "policy inputs": ("planning.policy_job", "_policy_inputs"),
    "segment_policies": ("planning.policy_job", "segment_policies"),
    "  of which poisson_gamma": ("ml.segment_policies", "_compound"),
    "  of which normal": ("ml.segment_policies", "_normal"),
    "optimiser": ("planning.backtest_strategies", "proposal_from_policies"),
    "common products": ("planning.backtest", "common_products"),
    "distinct policies": ("planning.replay", "_distinct_rows"),
    "replay kernel": ("planning.replay", "simulate_inventory"),
    "outcome tables": ("planning.replay", "outcome_frame"),
    "segment outcomes": ("planning.replay", "segment_outcomes"),
}


class Stopwatch:
    """Wall-clock and CPU seconds per stage, summed over calls."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, fn: Callable) -> Callable:
        """``fn`` with its time added to stage ``name``."""

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            w, c = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[name] += time.perf_counter() - w
                self.cpu[name] += time.process_time() - c
                self.calls[name] += 1

        return timed

    def install(self, stages: dict[str, tuple[str, str]]) -> None:
        """Wrap every stage's function in its module (the callers look it up there); a stage
        the code does not have (an older version, run for a before/after) is left out."""
        for name, (module, attr) in stages.items():
            mod = importlib.import_module(module)
            if hasattr(mod, attr):
                setattr(mod, attr, self.wrap(name, getattr(mod, attr)))


def peak_memory_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synthetic_demand(n: int, weeks: int, seed: int = 20261206) -> np.ndarray:
    """Weekly units: three in five products sell most weeks (Poisson), the rest intermittently."""
    rng = np.random.default_rng(seed)
    mean = np.exp(rng.normal(1.5, 1.2, n))
    frequent = rng.random(n) < 0.6
    p_sale = np.where(frequent, 1.0, rng.uniform(0.1, 0.5, n))
    sale = rng.random((n, weeks)) < p_sale[:, None]
    size = rng.poisson(np.where(frequent, mean, 2.0 * mean)[:, None], (n, weeks))
    return np.where(sale, size, 0).astype(np.float64)


def snapshot_frame(history: np.ndarray, as_of: date, seed: int) -> pd.DataFrame:
    """The snapshot attributes the policies and rules read, from the trailing 52 weeks."""
    rng = np.random.default_rng(seed)
    n = history.shape[0]
    window = history[:, -52:]
    nonzero = (window > 0).sum(axis=1).astype(np.float64)
    nz_mean = np.where(
        nonzero > 0, np.where(window > 0, window, 0).sum(1) / np.maximum(nonzero, 1), 0
    )
    nz_var = np.where(
        nonzero > 1,
        ((np.where(window > 0, window - nz_mean[:, None], 0)) ** 2).sum(1) / np.maximum(nonzero, 1),
        0.0,
    )
    mean = window.mean(axis=1)
    std = window.std(axis=1, ddof=1)
    price = np.exp(rng.normal(2.5, 1.0, n))
    values = {
        C.SKU_ID: np.array([f"P{i:06d}" for i in range(n)], dtype=object),
        C.AS_OF: pd.Timestamp(as_of),
        C.FAMILY: "f",
        C.CATEGORY: "c",
        "periods_observed": 52.0,
        "nonzero_periods": nonzero,
        "total_qty": window.sum(axis=1),
        "mean_qty": mean,
        "std_qty": std,
        "cv": np.where(mean > 0, std / np.where(mean > 0, mean, 1), np.nan),
        "adi": np.where(nonzero > 0, 52.0 / np.maximum(nonzero, 1), np.nan),
        "cv2": np.where(nonzero > 0, nz_var / np.maximum(nz_mean, 1e-9) ** 2, np.nan),
        "age_periods": 104.0,
        "staleness_periods": 0.0,
        "zero_share": 1.0 - nonzero / 52.0,
        C.UNIT_PRICE: price,
        C.UNIT_COST: 0.6 * price,
        "lead_time_mean_days": rng.uniform(7.0, 42.0, n),
        "lead_time_sd_days": rng.uniform(0.0, 7.0, n),
        "revenue": window.sum(axis=1) * price,
        "margin_pct": 0.35,
    }
    frame = pd.DataFrame({c: values.get(c, np.nan) for c in snapshot_columns()}, index=range(n))
    for c in frame.columns:
        if c.endswith("_imputed"):
            frame[c] = False
    for c in (C.SKU_ID, C.FAMILY, C.CATEGORY, C.DESCRIPTION, C.REGION, C.BUSINESS_UNIT):
        frame[c] = frame[c].astype("str")
    frame[C.SUPPLIER_ID] = frame[C.SUPPLIER_ID].astype("str")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--origins", type=int, default=4)
    parser.add_argument("--weeks", type=int, default=52, help="measured weeks per origin")
    parser.add_argument("--spacing", type=int, default=13)
    args = parser.parse_args()
    warmup = 13
    total_weeks = 52 + warmup + args.weeks + (args.origins - 1) * args.spacing
    ws = Workspace(
        name="bench", sources=[Source(name="s", table="demand", kind="csv", path="x", columns={})]
    )
    catalogue = Catalogue.model_validate(CATALOGUE)
    config = PolicyConfig()
    newest = START + timedelta(days=7 * total_weeks - 1)  # the Sunday ending the last week
    windows = origin_windows(
        "week",
        newest,
        START,
        origins=args.origins,
        spacing=args.spacing,
        periods=args.weeks,
        warmup=warmup,
    )
    t0 = time.perf_counter()
    demand = synthetic_demand(args.products, total_weeks)
    print(f"synthetic demand {demand.shape} in {time.perf_counter() - t0:.1f} s (not timed)")
    watch = Stopwatch()
    watch.install(STAGES)
    timings = []
    cpu_total = 0.0
    for w in windows:
        at = (w.first - START).days // 7
        features = snapshot_frame(demand[:, :at], w.policy_as_of, seed=at)
        start, cpu_start = time.perf_counter(), time.process_time()
        segments, _ = segment_source.segment_assignments(
            ws, features, catalogue, [], w.policy_as_of
        )
        source = SegmentSource("rule", w.policy_as_of, "rules", "bench: the catalogue's rules")
        made = origin_strategies(ws, features, segments, catalogue, config, w.policy_as_of, source)
        fitted = time.perf_counter()

        def play(first: pd.DataFrame, w=w, at=at, features=features) -> Replayer:
            rows = pd.Index(features[C.SKU_ID]).get_indexer(first[C.SKU_ID])
            return Replayer(
                demand=demand[rows, at : at + w.periods],
                warm=demand[rows, at - w.warmup : at],
                periods=w.periods,
                periods_per_year=52.0,
                steps=7,
                seed=config.simulation.seed,
                distribution="gamma",
            )

        result = replay_origin(w, source, made, play)
        done = time.perf_counter()
        cpu_total += time.process_time() - cpu_start
        timings.append((w.first, fitted - start, done - fitted, result.products))
        last = shift_period(w.first, w.periods, "week") - timedelta(days=1)
        print(
            f"origin {w.first}..{last}: {result.products:,} products, policies + optimiser "
            f"{fitted - start:.1f} s, replay of {len(made.sets)} strategies + "
            f"{sum(len(v) for v in made.sweeps.values())} sweep sets {done - fitted:.1f} s; "
            f"peak memory {peak_memory_mb():,.0f} MB, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    total = sum(f + r for _, f, r, _ in timings)
    verdict = "within" if total <= TARGET_SECONDS else "OVER"
    print(f"\n{'stage (summed over origins)':<30} {'calls':>6} {'wall s':>8} {'cpu s':>8}")
    for name in STAGES:
        print(f"{name:<30} {watch.calls[name]:>6} {watch.wall[name]:>8.1f} {watch.cpu[name]:>8.1f}")
    print(
        f"\nbacktest {args.products:,} products x {args.origins} origins x {args.weeks} weeks: "
        f"{total:.1f} s wall, {cpu_total:.1f} s CPU ({verdict} the {TARGET_SECONDS:.0f} s "
        f"target); policies {sum(f for _, f, _, _ in timings):.1f} s, replays "
        f"{sum(r for _, _, r, _ in timings):.1f} s; peak memory {peak_memory_mb():,.0f} MB"
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
