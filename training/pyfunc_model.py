"""The registered model: an MLflow pyfunc that segments feature rows and words the top reasons.

`predict` takes feature rows (sku_id + attributes + launch descriptors, as the snapshot has them)
and returns one row per product (see OUTPUT_COLUMNS and `output_columns`). Established products
are assigned by the main LightGBM model; products with less history than the configured threshold
by the launch-attribute model, flagged `provisional` (and `review` below the confidence bar).
Reasons are the product's k largest |SHAP| contributions to its assigned segment, computed from
the per-class trees only (training.contrib) and worded from the attribute registry (ml.wording).
The boosters travel as LightGBM model text (rebuilt as training.assigner.BoosterPart, the one
booster wrapper); catalogue, registry wording and settings as plain data. The pickled state keys
(segments, main, launch, new_products, wordings, catalogue, top_k, num_threads, info, _parts) are
what registered versions hold: keep them.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from ml.columns import SKU_ID
from ml.wording import reason_texts, segment_title
from training.assigner import BoosterPart
from training.contrib import top_contributions

__all__ = [
    "OUTPUT_COLUMNS",
    "SegmenterModel",
    "new_product_mask",
    "output_columns",
    "probability_column",
]

# how a missing categorical value reads once written as text (None, NaN, pandas' NA, empty)
_MISSING_TEXT = ["", "nan", "None", "<NA>"]

# fixed leading columns; prob_<segment> and reason/feature/value/shap _1.._k follow
OUTPUT_COLUMNS = ["sku_id", "segment", "probability", "provisional", "review"]


def new_product_mask(frame: pd.DataFrame, attribute: str, min_periods: float) -> np.ndarray:
    """Rows with less history than `min_periods` of `attribute`; missing history counts as new."""
    if attribute not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    h = pd.to_numeric(frame[attribute], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    return ~(h >= float(min_periods))


def probability_column(segment: str) -> str:
    """The output column with the model's probability of `segment`."""
    return f"prob_{segment}"


def output_columns(segments: list[str], top_k: int) -> list[str]:
    """Every output column in order, for `segments` and `top_k` reasons."""
    cols = [*OUTPUT_COLUMNS, *(probability_column(s) for s in segments)]
    for i in range(1, top_k + 1):
        cols += [f"reason_{i}", f"feature_{i}", f"value_{i}", f"shap_{i}"]
    return cols


class SegmenterModel(mlflow.pyfunc.PythonModel):
    """Segment, probability, provisional/review flags and top-k worded SHAP reasons per product."""

    def __init__(
        self,
        *,
        segments: list[str],
        main: dict[str, Any],
        launch: dict[str, Any] | None,
        new_products: dict[str, Any],
        wordings: dict[str, dict[str, str]],
        catalogue: dict[str, Any],
        top_k: int,
        num_threads: int = 0,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.segments = list(segments)
        self.main = main
        self.launch = launch
        self.new_products = new_products
        self.wordings = wordings
        self.catalogue = catalogue
        self.top_k = int(top_k)
        self.num_threads = int(num_threads)
        self.info = dict(info or {})
        self._parts: dict[str, BoosterPart] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_parts"] = None
        return state

    def load_context(self, context: Any) -> None:
        """Build the boosters from their saved text once, when MLflow loads the model."""
        self.parts()

    def parts(self) -> dict[str, BoosterPart]:
        """The boosters by route ("main", and "launch" when there is a launch model), built once."""
        if self._parts is None:
            parts = {"main": BoosterPart.from_spec(self.main)}
            if self.launch is not None:
                parts["launch"] = BoosterPart.from_spec(self.launch)
            self._parts = parts
        return self._parts

    def young(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows with less history than the threshold (missing history counts as new)."""
        if self.launch is None or not self.new_products.get("enabled", False):
            return np.zeros(len(frame), dtype=bool)
        return new_product_mask(
            frame, self.new_products["history_attribute"], self.new_products["min_periods"]
        )

    # pd.DataFrame hints: MLflow neither infers a signature from them (ours is explicit) nor
    # wraps predict for validation, and it does not warn about missing hints
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """One row per input row: segment, probability, flags, prob_<segment>, top-k reasons."""
        params = params or {}
        explain = bool(params.get("explain", True))
        top_k = int(params.get("top_k", self.top_k) or self.top_k)
        threads = int(params.get("num_threads", self.num_threads) or 0)
        frame = pd.DataFrame(model_input).reset_index(drop=True)
        parts = self.parts()
        n, k_cls = len(frame), len(self.segments)
        young = self.young(frame)
        proba = np.zeros((n, k_cls))
        routes = [("main", ~young), ("launch", young)]
        matrices: dict[str, np.ndarray] = {}
        for name, rows in routes:
            if rows.any():
                X = parts[name].matrix(frame.loc[rows])
                matrices[name] = X
                proba[rows] = parts[name].proba(X, threads)
        assigned = proba.argmax(axis=1) if n else np.zeros(0, dtype=int)
        probability = proba[np.arange(n), assigned] if n else np.zeros(0)
        review_below = float(self.new_products.get("review_below", 0.0))
        ids = (
            frame[SKU_ID].astype(str)
            if SKU_ID in frame.columns
            else pd.Series(range(n)).astype(str)
        )
        out = {
            SKU_ID: ids.to_numpy(),
            "segment": np.array(self.segments, dtype=object)[assigned]
            if n
            else np.array([], dtype=object),
            "probability": probability,
            "provisional": young,
            "review": young & (probability < review_below),
        }
        for c, s in enumerate(self.segments):
            out[probability_column(s)] = proba[:, c]
        result = pd.DataFrame(out)
        if explain:
            result = pd.concat(
                [result, self._reasons(frame, matrices, routes, assigned, top_k, threads)],
                axis=1,
            )
        return self._unsure_launches_to_fallback(result, explain)

    def _unsure_launches_to_fallback(self, result: pd.DataFrame, explain: bool) -> pd.DataFrame:
        """New products the launch model is unsure of go to the catalogue's fallback segment.

        Their launch guess is kept, in words, as the first reason: a planner sees both where
        the product sits (with that segment's cautious policy) and where it seems headed.
        """
        fallback = self.new_products.get("fallback_segment")
        unsure = result["review"].to_numpy(dtype=bool)
        if not fallback or not unsure.any():
            return result
        result = result.copy()
        guess = result.loc[unsure, "segment"].astype(str)
        result.loc[unsure, "segment"] = fallback
        if explain and "reason_1" in result.columns:
            title = segment_title(fallback)

            lead = [
                f"New product with short history: launch attributes point to "
                f"{segment_title(g)} only {p:.0%} sure, so it sits in {title} until it has "
                f"history; "
                for g, p in zip(guess, result.loc[unsure, "probability"], strict=True)
            ]
            result.loc[unsure, "reason_1"] = [
                a + str(b) for a, b in zip(lead, result.loc[unsure, "reason_1"], strict=True)
            ]
        return result

    def _reasons(
        self,
        frame: pd.DataFrame,
        matrices: dict[str, np.ndarray],
        routes: list[tuple[str, np.ndarray]],
        assigned: np.ndarray,
        top_k: int,
        threads: int = 0,
    ) -> pd.DataFrame:
        n = len(frame)
        cols: dict[str, np.ndarray] = {}
        for i in range(1, top_k + 1):
            cols[f"reason_{i}"] = np.full(n, "", dtype=object)
            cols[f"feature_{i}"] = np.full(n, "", dtype=object)
            cols[f"value_{i}"] = np.full(n, np.nan)
            cols[f"shap_{i}"] = np.full(n, np.nan)
        segs = np.array(self.segments, dtype=object)
        for name, rows in routes:
            if not rows.any():
                continue
            part = self.parts()[name]
            X = matrices[name]
            contrib = part.contributions(X, assigned[rows], threads)
            idx, shap = top_contributions(contrib, top_k)
            where = np.flatnonzero(rows)
            feats = np.array(part.features, dtype=object)
            sub = frame.loc[rows]
            for j in range(idx.shape[1]):
                fj = feats[idx[:, j]]
                vals = X[np.arange(len(where)), idx[:, j]]
                shown: np.ndarray = vals
                for f in part.categories:
                    m = fj == f
                    if m.any():
                        if shown.dtype != object:
                            shown = vals.astype(object)
                        raw = sub[f].to_numpy(dtype=object)[m].astype(str)
                        shown[m] = np.where(np.isin(raw, _MISSING_TEXT), None, raw)
                        vals = np.where(m, np.nan, vals)
                texts = reason_texts(
                    fj,
                    shown,
                    shap[:, j],
                    segs[assigned[where]],
                    np.full(len(where), j + 1),
                    self.wordings,
                    part.typical,
                )
                cols[f"reason_{j + 1}"][where] = texts
                cols[f"feature_{j + 1}"][where] = fj
                cols[f"value_{j + 1}"][where] = vals
                cols[f"shap_{j + 1}"][where] = shap[:, j]
        return pd.DataFrame(cols)
