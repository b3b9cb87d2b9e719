"""Run artifacts as PNG (matplotlib, Agg): confusion matrix, SHAP summaries, cluster profiles.

Figures are made without pyplot (``matplotlib.figure.Figure`` saves through Agg), so drawing
neither selects a backend for the process nor keeps figures alive after saving.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["cluster_profiles_png", "confusion_matrix_png", "shap_summary_png"]


def confusion_matrix_png(cm: np.ndarray, classes: Sequence[str], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix (rows: label, columns: predicted) with counts."""
    k = len(classes)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    fig = Figure(figsize=(1.0 + 0.8 * k, 0.8 + 0.7 * k), dpi=100)
    ax = fig.subplots()
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=8)
    ax.set_xlabel("predicted (out of fold)")
    ax.set_ylabel("label")
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                str(int(cm[i, j])),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    return path


def shap_summary_png(
    shap: np.ndarray,
    X: np.ndarray,
    features: Sequence[str],
    path: Path,
    title: str,
    top: int = 12,
    max_points: int = 3000,
) -> Path:
    """Beeswarm-style summary: per feature (most important first) each product's SHAP value,
    coloured by the feature's value (rank within the feature: blue low, red high). Importance is
    ranked on every product; at most `max_points` random products are drawn."""
    order = np.argsort(-np.abs(shap).mean(axis=0))[:top]
    rng = np.random.default_rng(0)
    if len(shap) > max_points:
        keep = rng.choice(len(shap), size=max_points, replace=False)
        shap, X = shap[keep], X[keep]
    fig = Figure(figsize=(7.5, 0.45 * len(order) + 1.2), dpi=100)
    ax = fig.subplots()
    for pos, f in enumerate(order[::-1]):
        s = shap[:, f]
        x = X[:, f]
        ranks = pd.Series(x).rank(pct=True).to_numpy()
        colour = np.where(np.isnan(ranks), 0.5, ranks)
        y = pos + rng.uniform(-0.3, 0.3, size=len(s))
        ax.scatter(s, y, c=colour, cmap="coolwarm", s=4, alpha=0.6, linewidths=0)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(order)), [features[f] for f in order[::-1]], fontsize=8)
    ax.set_xlabel(
        "SHAP value (raw score; > 0 pushes towards the segment)\n"
        "colour: the feature's value, blue low to red high"
    )
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    return path


def cluster_profiles_png(profiles: pd.DataFrame, attributes: Sequence[str], path: Path) -> Path:
    """Heatmap of each cluster's median attributes (column-scaled), annotated with the medians."""
    cols = [f"median_{a}" for a in attributes]
    values = profiles[cols].to_numpy(float)
    lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    scaled = np.divide(values - lo, hi - lo, out=np.zeros_like(values), where=(hi - lo) > 0)
    labels = [
        f"{int(r.cluster)} {r.label} (n={int(r.size)})" for r in profiles.itertuples(index=False)
    ]
    fig = Figure(figsize=(1.4 + 1.1 * len(attributes), 0.9 + 0.45 * len(profiles)), dpi=100)
    ax = fig.subplots()
    ax.imshow(scaled, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(attributes)), list(attributes), rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(
                j,
                i,
                "" if np.isnan(v) else f"{v:.3g}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if scaled[i, j] < 0.5 else "black",
            )
    ax.set_title("HDBSCAN clusters: median attributes (colour scaled per column)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    return path
