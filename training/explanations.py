"""The explain step of a run: segment shares, SHAP additivity, global importance, SHAP plots."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training import plots
from training.assigner import SegmentAssigner, segment_codes
from training.labels import Training
from training.pyfunc_model import SegmenterModel
from training.run_log import RunLog

__all__ = ["Explained", "assignment_metrics", "explain_assignments", "global_importance"]

SAMPLE_ROWS = 200  # products whose worded reasons are logged as an example


@dataclass(frozen=True)
class Explained:
    """The step's metrics and how many products the model puts in each segment."""

    metrics: dict[str, float]
    assigned_mix: dict[str, int]


def assignment_metrics(scored: pd.DataFrame, classes: list[str]) -> dict[str, float]:
    """Smallest segment share, provisional and review shares, and each segment's share."""
    mix = scored["segment"].value_counts().to_dict()
    metrics = {
        "min_segment_share": float(min(mix.values()) / len(scored)),
        "provisional_share": float(scored["provisional"].mean()),
        "review_share": float(scored["review"].mean()),
    }
    for name in classes:
        metrics[f"share_{name}"] = float(mix.get(name, 0) / len(scored))
    return metrics


def global_importance(
    contrib: np.ndarray, assigned: np.ndarray, classes: list[str], features: list[str]
) -> pd.DataFrame:
    """Per segment and feature: mean |SHAP|, mean SHAP and its rank, over the segment's products."""
    rows = []
    for c, name in enumerate(classes):
        m = assigned == c
        if not m.any():
            continue
        mean_abs = np.abs(contrib[m, :-1]).mean(axis=0)
        mean = contrib[m, :-1].mean(axis=0)
        for f, a, s in zip(features, mean_abs, mean, strict=True):
            rows.append(
                {
                    "segment": name,
                    "feature": f,
                    "mean_abs_shap": a,
                    "mean_shap": s,
                    "products": int(m.sum()),
                }
            )
    table = pd.DataFrame(rows)
    if not table.empty:
        table["rank"] = table.groupby("segment")["mean_abs_shap"].rank(
            ascending=False, method="first"
        )
        table = table.sort_values(["segment", "rank"]).reset_index(drop=True)
    return table


def _additivity_error(contrib: np.ndarray, raw: np.ndarray, assigned: np.ndarray) -> float:
    """Largest |sum of SHAP values + base - raw score of the assigned segment| (0 for no rows)."""
    if not len(assigned):
        return 0.0
    raw_assigned = raw[np.arange(len(assigned)), assigned]
    return float(np.max(np.abs(contrib.sum(axis=1) - raw_assigned)))


def explain_assignments(
    run: RunLog, t: Training, model: SegmenterModel, main: SegmentAssigner, inputs: pd.DataFrame
) -> Explained:
    """Score every product, explain the established ones (main model), log what it shows."""
    # plain predictions for the mix; SHAP once below; worded reasons for a sample only
    scored = model.predict(None, inputs, params={"explain": False})
    metrics = assignment_metrics(scored, t.classes)
    established = t.frame.loc[~t.young]
    segments = scored.loc[~t.young, "segment"].to_numpy()
    assigned = segment_codes(segments, t.classes)
    # row-major like the SHAP arrays it came from, so that sums add in the same order
    contrib = np.ascontiguousarray(main.explain(established, segments).to_numpy())
    metrics["shap_additivity_error"] = _additivity_error(
        contrib, main.decision_function(established), assigned
    )
    run.table(
        global_importance(contrib, assigned, t.classes, main.features_),
        "global_importance.csv",
        "explanations",
    )
    X = main.part_.matrix(established)
    for c, name in enumerate(t.classes):
        m = assigned == c
        if m.sum() >= 2:
            png = plots.shap_summary_png(
                contrib[m, :-1],
                X[m],
                main.features_,
                run.tmp / f"shap_{name}.png",
                f"Why products are {name} ({int(m.sum())} products)",
            )
            run.file(png, "explanations")
    sample = model.predict(None, inputs.head(SAMPLE_ROWS))
    run.table(sample, "sample_predictions.csv", "explanations")
    mix = scored["segment"].value_counts().to_dict()
    return Explained(metrics, {str(k): int(v) for k, v in mix.items()})
