"""Training benchmark: 100,000 planted products, clusters labeller on a 50,000 sample + LightGBM CV.

Run from the repo root: `.venv/bin/python benchmarks/bench_training.py [--products N]`.
Prints the phases of one `train()` run (budget: labelling + clustering + CV + final fit <= 120 s,
exit 1 when over), then prediction for every product with and without the top-5 reasons, and
the quality / explanation-cost trade-off of a few model sizes on a harder (overlapping) variant.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.pop("MLFLOW_TRACKING_URI", None)
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]

from planted import TRUTH, planted_catalogue, planted_frame, planted_workspace  # noqa: E402

from ml.config.training import DEFAULT_ASSIGNER_FEATURES, LightGBMParams, TrainingConfig  # noqa: E402

BUDGET_S = 120.0


def _phases(ws, config) -> tuple[object, dict[str, float]]:
    from training.train import train

    marks: list[tuple[str, float]] = []
    result = train(
        ws,
        labels="clusters",
        config=config,
        catalogue=planted_catalogue(),
        progress=lambda msg: marks.append((msg, time.perf_counter())),
    )
    end = time.perf_counter()
    spans = {}
    for (msg, t0), (_next, t1) in zip(marks, [*marks[1:], ("end", end)], strict=True):
        spans[msg] = t1 - t0
    return result, spans


def _tradeoff(n: int, threads: int) -> list[tuple[str, float, float, float]]:
    """(size, holdout macro-F1, explain s per 100k (assigned class), full pred_contrib s per 100k)."""
    from sklearn.metrics import f1_score

    from training.assigner import design_matrix, fit_booster, sample_weights
    from training.contrib import assigned_contributions, class_boosters

    frame = planted_frame(n, seed=7, spread_scale=3.0)
    frame = frame[frame["age_periods"] >= 13]
    classes = sorted(frame[TRUTH].unique())
    y = frame[TRUTH].map({c: i for i, c in enumerate(classes)}).to_numpy()
    X = design_matrix(frame, DEFAULT_ASSIGNER_FEATURES)
    cut = int(0.8 * len(y))
    rows = []
    for rounds, leaves, depth in [
        (30, 7, 3),
        (50, 7, 3),  # the default
        (60, 15, 4),
        (100, 15, 4),
        (100, 31, -1),
        (300, 31, -1),
    ]:
        p = LightGBMParams(num_boost_round=rounds, num_leaves=leaves, max_depth=depth)
        w = sample_weights(y[:cut], len(classes), "balanced")
        b = fit_booster(X[:cut], y[:cut], w, p, len(classes), seed=0, num_threads=threads)
        pred = b.predict(X[cut:], num_threads=threads)
        f1 = f1_score(y[cut:], pred.argmax(axis=1), average="macro")
        assigned = pred.argmax(axis=1)
        t0 = time.perf_counter()
        assigned_contributions(class_boosters(b), X[cut:], assigned, threads)
        per_class = (time.perf_counter() - t0) * 100_000 / len(assigned)
        few = X[cut : cut + 2000]  # every class's trees: slow, so timed on 2,000 rows
        t0 = time.perf_counter()
        b.predict(few, pred_contrib=True, num_threads=threads)
        full = (time.perf_counter() - t0) * 100_000 / len(few)
        size = f"{rounds} rounds x {leaves} leaves, depth {depth if depth > 0 else 'unlimited'}"
        rows.append((size, f1, per_class, full))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1, help="LightGBM threads (0 = all)")
    parser.add_argument("--skip-tradeoff", action="store_true")
    args = parser.parse_args()

    import mlflow

    frame = planted_frame(args.products, seed=42)
    config = TrainingConfig.model_validate(
        {
            "clusters": {"min_cluster_size": 250, "min_samples": 25, "sample_cap": 50_000},
            "assigner": {"cv_folds": 5, "num_threads": args.threads},
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        ws = planted_workspace(Path(tmp), frame)
        # create the store first: a new SQLite store runs MLflow's migrations once (~5-10 s)
        from training.tracking import ensure_experiment, use_workspace_store

        t0 = time.perf_counter()
        use_workspace_store(ws)
        ensure_experiment(ws, config.experiment)
        store_s = time.perf_counter() - t0
        t_start = time.perf_counter()
        result, spans = _phases(ws, config)
        total = time.perf_counter() - t_start
        print(
            f"products: {args.products:,} ({int(result.metrics['n_trainable']):,} trainable, "
            f"{int(result.metrics['clustered_sample_size']):,} clustered by HDBSCAN)"
        )
        print(f"new MLflow sqlite store (migrations, once): {store_s:.1f} s")
        for msg, s in spans.items():
            print(f"  {s:7.2f} s  {msg}")
        budgeted = sum(
            s for msg, s in spans.items() if msg.startswith(("checking", "cross-val", "fitting"))
        )
        print(
            f"train() end to end: {total:.1f} s; labels + clustering + CV + final fits: "
            f"{budgeted:.1f} s (budget {BUDGET_S:.0f} s)"
        )
        m = result.metrics
        print(
            f"n_clusters {m['n_clusters']:.0f}, noise_share {m['noise_share']:.3f}, "
            f"dbcv {m['dbcv']:.3f}, silhouette {m['silhouette']:.3f}, "
            f"cv_macro_f1 {m['cv_macro_f1']:.4f}, cv_log_loss {m['cv_log_loss']:.4f}"
        )

        model = mlflow.pyfunc.load_model(result.model_uri)
        rows = frame.drop(columns=[TRUTH])
        params = {"num_threads": args.threads}
        t0 = time.perf_counter()
        plain = model.predict(rows, params={**params, "explain": False})
        plain_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        explained = model.predict(rows, params=params)
        explained_s = time.perf_counter() - t0
        assert len(plain) == len(explained) == len(rows)
        print(
            f"predict {len(rows):,} products: plain {plain_s:.2f} s; with top-5 reasons "
            f"{explained_s:.2f} s (x{explained_s / plain_s:.1f})"
        )
        print(f"  e.g. {explained['reason_1'].iloc[0]}")

    if not args.skip_tradeoff:
        print("\nmodel size vs quality and explanation cost (overlapping variant, 6 segments):")
        print(
            "| model | holdout macro-F1 | explain 100k, assigned class only (s) | "
            "full pred_contrib 100k (s) |"
        )
        print("|---|---|---|---|")
        for size, f1, per_class, full in _tradeoff(60_000, args.threads):
            print(f"| {size} | {f1:.4f} | {per_class:.2f} | {full:.2f} |")
    return 0 if budgeted <= BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
