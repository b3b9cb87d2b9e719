"""Why a product is in its segment: SHAP contributions recomputed, checked for additivity, drawn.

The scoring job stores each product's top-k reasons (table ``explanations``). This module
recomputes a product's *full* contributions from the registered model when a picture needs them
(the waterfall goes from the base value through every attribute to the raw score), and measures
explanation additivity for the promotion gate: for each product, base value + the contributions
of its assigned segment (computed, as scoring does, from that segment's trees only) must equal
the full multiclass booster's raw score for that segment (LightGBM ``pred_contrib`` / TreeSHAP
local accuracy). The boosters are the SegmenterModel's own (``parts()``: the main and launch
``BoosterPart``), so explaining reads a product exactly as scoring does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.snapshots import load_features
from ml import columns as C
from ml.columns import AS_OF, SKU_ID
from ml.errors import StrataError
from ml.wording import segment_title
from serving.predict import input_spec, load_pyfunc, model_inputs
from serving.runs import current_assignments, main_sinks
from store.sinks import read_table

__all__ = [
    "Contributions",
    "ProductExplanation",
    "additivity_error",
    "contributions",
    "explain_sku",
    "product_explanation",
    "sku_waterfall",
    "waterfall_png",
]


@dataclass(frozen=True)
class Contributions:
    """Per row: SHAP values of the explained segment, its base value and the booster's raw score."""

    features: list[list[str]]  # per row: the feature names its part (main/launch) reads
    values: list[np.ndarray]  # per row: SHAP value of each feature
    inputs: list[np.ndarray]  # per row: the feature values as the booster saw them
    base: np.ndarray
    raw: np.ndarray


def _python_model(model: Any) -> Any:
    """The SegmenterModel behind a loaded pyfunc (or the SegmenterModel itself)."""
    return model.unwrap_python_model() if hasattr(model, "unwrap_python_model") else model


def contributions(
    model: Any, inputs: pd.DataFrame, segments: pd.Series | np.ndarray, num_threads: int = 0
) -> Contributions:
    """Full SHAP contributions of each input row to the segment given for it.

    `model` is the pyfunc (or the SegmenterModel); `inputs` are typed model inputs
    (``serving.predict.model_inputs``); `segments` one segment name per row.
    """
    py = _python_model(model)
    parts = py.parts()
    frame = inputs.reset_index(drop=True)
    n = len(frame)
    index = {s: i for i, s in enumerate(py.segments)}
    seg = pd.Series(np.asarray(segments, dtype=object))
    unknown = sorted(set(seg) - set(index))
    if unknown:
        raise StrataError(
            f"the model does not know segment(s) {', '.join(map(str, unknown))}; it assigns "
            f"{', '.join(py.segments)}"
        )
    cls = seg.map(index).to_numpy(dtype=int)
    young = py.young(frame)
    feats: list[list[str]] = [[] for _ in range(n)]
    vals: list[np.ndarray] = [np.zeros(0)] * n
    xs: list[np.ndarray] = [np.zeros(0)] * n
    base, raw = np.zeros(n), np.zeros(n)
    for name, rows in (("main", ~young), ("launch", young)):
        where = np.flatnonzero(rows)
        if not where.size:
            continue
        part = parts[name]
        X = part.matrix(frame.iloc[where])
        contrib = part.contributions(X, cls[where], num_threads)
        full_raw = part.raw_scores(X, num_threads)
        raw[where] = full_raw[np.arange(len(where)), cls[where]]
        base[where] = contrib[:, -1]
        for j, i in enumerate(where):
            feats[i] = part.features
            vals[i] = contrib[j, :-1]
            xs[i] = X[j]
    return Contributions(feats, vals, xs, base, raw)


def additivity_error(
    model: Any,
    inputs: pd.DataFrame,
    segments: pd.Series | np.ndarray,
    sample: int = 2000,
    seed: int = 0,
    num_threads: int = 0,
) -> float:
    """Largest |base + sum of SHAP values - raw score| over a sample of rows (0 for no rows)."""
    py = _python_model(model)
    segs = np.asarray(segments, dtype=object)
    # rows in a segment the model has no trees for (the new-product fallback) have no SHAP
    known = np.flatnonzero(pd.Series(segs).isin(py.segments).to_numpy())
    if known.size == 0:
        return 0.0
    pick = np.random.default_rng(seed).choice(
        known.size, size=min(sample, known.size), replace=False
    )
    rows = known[np.sort(pick)]
    c = contributions(model, inputs.iloc[rows], segs[rows], num_threads)
    sums = np.array([v.sum() for v in c.values]) + c.base
    return float(np.max(np.abs(sums - c.raw)))


# ---------------------------------------------------------------------------------------------
# one product, for planners


@dataclass(frozen=True)
class ProductExplanation:
    """A product's current assignment and its stored reasons."""

    sku_id: str
    as_of: date
    assignment: dict[str, Any]
    reasons: pd.DataFrame  # rank, feature, value, shap, reason (of the explained segment)

    @property
    def explained_segment(self) -> str:
        return str(self.reasons[C.SEGMENT].iloc[0]) if len(self.reasons) else ""

    def to_text(self) -> str:
        """The explanation in plain words."""
        a = self.assignment
        seg, prob = str(a[C.SEGMENT]), a.get(C.PROBABILITY)
        prob_text = "n/a" if prob is None or pd.isna(prob) else f"{float(prob):.0%}"
        method = a.get(C.METHOD, "model")
        whose = "the model's probability" if method == "override" else "probability"
        lines = [
            f"Product {self.sku_id}, as of {self.as_of.isoformat()}: {segment_title(seg)} "
            f"({seg}), {whose} {prob_text}, assigned by {method} "
            f"(model {a.get(C.MODEL_NAME, '')} v{a.get(C.MODEL_VERSION, '')}, "
            f"run {a.get(C.RUN_ID, '')}).",
        ]
        if bool(a.get("provisional", False)):
            review = " and flagged for review" if bool(a.get("review", False)) else ""
            lines.append(
                "Provisional: the product has too little sales history, so it was placed from "
                f"what is known at launch (family, category, supplier, price){review}."
            )
        else:
            lines.append("Not provisional: placed from its own sales history.")
        prev = a.get(C.PREVIOUS_SEGMENT)
        if bool(a.get(C.CHANGED, False)):
            lines.append(f"Changed this run from {prev}: {a.get(C.CHANGE_REASON, '')}.")
        elif prev is not None and not pd.isna(prev):
            lines.append(f"Segment this run: {a.get(C.CHANGE_REASON, '')}.")
        explained = self.explained_segment
        if len(self.reasons):
            if explained != seg:
                lines.append(
                    f"The model itself now proposes {segment_title(explained)}; its reasons:"
                )
            else:
                lines.append("Reasons, strongest first:")
            ranks, texts = self.reasons["rank"].tolist(), self.reasons["reason"].tolist()
            lines += [f"  {int(k)}. {t}" for k, t in zip(ranks, texts, strict=True)]
        return "\n".join(lines)


def product_explanation(
    assignments: pd.DataFrame, explanations: pd.DataFrame, sku_id: str
) -> ProductExplanation:
    """The explanation of `sku_id` from one scoring partition (assignments + explanations)."""
    rows = assignments[assignments[SKU_ID].astype("str") == str(sku_id)]
    if rows.empty:
        close = get_close_matches(str(sku_id), assignments[SKU_ID].astype("str").tolist(), n=3)
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise StrataError(
            f"product '{sku_id}' is not in the newest scored assignments ({len(assignments)} "
            f"products){hint}. Check the id, or run `strata score` on a snapshot that has it"
        )
    row = rows.iloc[0].to_dict()
    reasons = explanations[explanations[SKU_ID].astype("str") == str(sku_id)]
    reasons = reasons.sort_values("rank").reset_index(drop=True)
    return ProductExplanation(str(sku_id), pd.Timestamp(row[AS_OF]).date(), row, reasons)


def waterfall_png(
    path: Path | str,
    sku_id: str,
    segment: str,
    features: list[str],
    values: np.ndarray,
    shap: np.ndarray,
    base: float,
    raw: float | None = None,
    max_bars: int = 10,
) -> Path:
    """A SHAP waterfall: base value, the largest contributions, the rest grouped, the raw score.

    With `raw` None (only the stored top-k reasons are known) the rest is not drawn and the end
    bar is base + the shown contributions.
    """
    order = np.argsort(-np.abs(np.asarray(shap, dtype=float)), kind="stable")
    shown = order[:max_bars]
    labels = []
    for i in shown:
        v = values[i]
        text = v if isinstance(v, str) else ("missing" if pd.isna(v) else f"{float(v):.3g}")
        labels.append(f"{features[i]} = {text}")
    steps = [float(shap[i]) for i in shown]
    if raw is not None and len(order) > len(shown):
        rest = float(raw) - float(base) - sum(steps)
        labels.append(f"{len(order) - len(shown)} other attributes")
        steps.append(rest)
    end = float(base) + sum(steps) if raw is None else float(raw)

    # a Figure without pyplot renders with Agg and leaves the process's backend alone
    fig = Figure(figsize=(8, 0.45 * (len(steps) + 2) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(steps) + 2)[::-1]
    ax.barh(y[0], float(base), color="#9e9e9e")
    running = float(base)
    for k, step in enumerate(steps, start=1):
        ax.barh(y[k], step, left=running, color="#d62728" if step > 0 else "#1f77b4")
        ax.text(
            running + step,
            y[k],
            f" {step:+.3f}",
            va="center",
            ha="left" if step > 0 else "right",
            fontsize=8,
        )
        running += step
    ax.barh(y[-1], end, color="#2ca02c")
    ax.set_yticks(y, ["base value", *labels, "raw score" if raw is not None else "sum shown"])
    ax.axvline(0, color="black", linewidth=0.5)
    ax.margins(x=0.12)
    ax.set_xlabel(f"contribution to the raw score of {segment_title(segment)} (log-odds)")
    ax.set_title(f"Why {sku_id} is {segment_title(segment)}", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def explain_sku(ws: Any, config: Any, sku_id: str, as_of: date | None = None) -> ProductExplanation:
    """The newest scored assignment of `sku_id` (of `as_of`) with its stored reasons."""
    sink = main_sinks(ws, config)[0]
    assignments = current_assignments(sink, as_of)
    if assignments is None:
        when = f" for as_of {as_of.isoformat()}" if as_of else ""
        raise StrataError(
            f"nothing has been scored{when} in {sink.kind}:{getattr(sink, 'path', '')}; run "
            f"`strata score` first"
        )
    day = pd.Timestamp(assignments[AS_OF].iloc[0]).date() if len(assignments) else as_of
    version = str(assignments[C.MODEL_VERSION].iloc[0]) if len(assignments) else None
    explanations = read_table(sink, C.EXPLANATIONS, as_of=day, model_version=version)
    return product_explanation(assignments, explanations, sku_id)


def sku_waterfall(ws: Any, ref: Any, explanation: ProductExplanation, path: Path | str) -> Path:
    """The SHAP waterfall PNG of an explained product: recomputed from its model version on its
    snapshot (all attributes, base value and raw score); from the stored top-k reasons when the
    model or the snapshot is gone."""
    # mlflow takes seconds to import and only this picture needs it: `strata explain` without
    # --plot reads the stored tables alone
    from mlflow.exceptions import MlflowException

    from store.registry import registry_client

    a = explanation.assignment
    segment = explanation.explained_segment or str(a[C.SEGMENT])
    try:
        registry_client(ref)
        pyfunc = load_pyfunc(f"models:/{ref.model_name}/{a[C.MODEL_VERSION]}")
        frame = load_features(explanation.as_of, workspace=ws)
        row = frame[frame[SKU_ID].astype("str") == explanation.sku_id]
        if row.empty:
            raise StrataError(f"{explanation.sku_id} is not in the snapshot")
        inputs = model_inputs(row, input_spec(pyfunc))
        c = contributions(pyfunc, inputs, [segment])
        shown = np.array([inputs.iloc[0][f] for f in c.features[0]], dtype=object)
        return waterfall_png(
            path,
            explanation.sku_id,
            segment,
            c.features[0],
            shown,
            c.values[0],
            float(c.base[0]),
            float(c.raw[0]),
        )
    except (StrataError, MlflowException):  # model or snapshot gone: draw the stored reasons
        r = explanation.reasons
        return waterfall_png(
            path,
            explanation.sku_id,
            segment,
            r[C.FEATURE].astype("str").tolist(),
            r["value"].to_numpy(),
            r[C.SHAP].to_numpy(dtype=float),
            0.0,
            None,
        )
