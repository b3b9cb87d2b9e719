"""The supervised assigner: a LightGBM multiclass model on named attributes, as an estimator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ml.calibration import temperature_scaled
from ml.config.training import LightGBMParams
from training.contrib import assigned_contributions, class_boosters
from training.shap_tables import TreeTable, tree_tables

__all__ = [
    "BoosterPart",
    "SegmentAssigner",
    "categories_of",
    "design_matrix",
    "fit_booster",
    "lgb_params",
    "sample_weights",
    "segment_codes",
]

BASE_VALUE = "base_value"  # the column of SegmentAssigner.explain with the expected raw score


def categories_of(frame: pd.DataFrame, columns: Sequence[str], max_categories: int) -> dict:
    """Per categorical column, its most frequent values (at most `max_categories`), sorted."""
    out = {}
    for c in columns:
        counts = frame[c].dropna().astype(str).value_counts()
        out[c] = sorted(counts.index[:max_categories].tolist())
    return out


def design_matrix(
    frame: pd.DataFrame, features: Sequence[str], categories: dict[str, list[str]] | None = None
) -> np.ndarray:
    """float64 matrix of `features`; a categorical becomes its code (unknown or missing -> NaN)."""
    categories = categories or {}
    cols = []
    for f in features:
        if f in categories:
            codes = pd.Categorical(frame[f].astype("str"), categories=categories[f]).codes
            cols.append(np.where(codes < 0, np.nan, codes).astype(np.float64))
        else:
            cols.append(
                pd.to_numeric(frame[f], errors="coerce").to_numpy(np.float64, na_value=np.nan)
            )
    return np.column_stack(cols) if cols else np.empty((len(frame), 0))


def sample_weights(y: np.ndarray, n_classes: int, mode: str) -> np.ndarray:
    """balanced: each class weighs n / (k * n_class), as scikit-learn's class_weight='balanced'."""
    if mode == "none":
        return np.ones(len(y))
    counts = np.bincount(y, minlength=n_classes).astype(float)
    present = counts > 0
    per_class = np.zeros(n_classes)
    per_class[present] = len(y) / (present.sum() * counts[present])
    return per_class[y]


def lgb_params(
    params: LightGBMParams, n_classes: int, seed: int, num_threads: int = 0
) -> dict[str, Any]:
    """The LightGBM parameter dict of a compact multiclass model."""
    return {
        "objective": "multiclass",
        "num_class": n_classes,
        "num_leaves": params.num_leaves,
        "max_depth": params.max_depth,
        "learning_rate": params.learning_rate,
        "min_data_in_leaf": params.min_data_in_leaf,
        "feature_fraction": params.feature_fraction,
        "lambda_l2": params.lambda_l2,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads,
        "verbosity": -1,
    }


def fit_booster(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    params: LightGBMParams,
    n_classes: int,
    *,
    seed: int,
    categorical: Sequence[int] = (),
    num_threads: int = 0,
    valid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    callbacks: list[Callable[..., Any]] | None = None,
) -> lgb.Booster:
    """Train one multiclass booster; `valid` (X, y, w) is evaluated for pruning callbacks."""
    cat = list(categorical) or "auto"
    train = lgb.Dataset(X, y, weight=w, categorical_feature=cat, free_raw_data=True)
    valid_sets = []
    if valid is not None:
        valid_sets = [lgb.Dataset(valid[0], valid[1], weight=valid[2], reference=train)]
    p = lgb_params(params, n_classes, seed, num_threads)
    if valid is not None:
        p["metric"] = "multi_logloss"
    return lgb.train(
        p,
        train,
        num_boost_round=params.num_boost_round,
        valid_sets=valid_sets or None,
        valid_names=["valid"] if valid_sets else None,
        callbacks=callbacks,
    )


def segment_codes(y: Sequence[Any] | pd.Series, classes: Sequence[str]) -> np.ndarray:
    """Each label's position in `classes`; a label `classes` does not list is an error."""
    labels = pd.Series(np.asarray(y, dtype=object)).astype(str)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise ValueError(
            f"y holds segment(s) {', '.join(unknown)} that classes={list(classes)} does not list; "
            "add them to classes or drop those rows"
        )
    return labels.map(index).to_numpy(dtype=int)


class BoosterPart:
    """A fitted booster with the features it reads: design matrix, probabilities, raw scores, SHAP.

    The one booster wrapper: the assigner builds it when it fits, the registered model and the
    explanations rebuild it from the saved spec (model text, features, categories, medians,
    temperature). `temperature` (T > 0, ml.calibration) scales the probabilities only:
    softmax(raw / T) keeps every row's argmax, and the raw scores (hence SHAP) are the booster's.
    """

    def __init__(
        self,
        booster: lgb.Booster,
        features: Sequence[str],
        categories: dict[str, list[str]] | None = None,
        typical: dict[str, float] | None = None,
        temperature: float = 1.0,
    ) -> None:
        self.booster = booster
        self.features: list[str] = list(features)
        self.categories: dict[str, list[str]] = dict(categories or {})
        self.typical: dict[str, float] = dict(typical or {})
        self.temperature = float(temperature)
        self.per_class = class_boosters(booster)
        self._tables: list[list[TreeTable] | None] | None = None

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> BoosterPart:
        """The part saved by `spec()` (the pyfunc's `main` / `launch` entries).

        A spec without `temperature` (versions registered before calibration) has T = 1.
        """
        booster = lgb.Booster(model_str=spec["model"])
        return cls(
            booster,
            spec["features"],
            spec.get("categories"),
            spec.get("typical"),
            float(spec.get("temperature", 1.0)),
        )

    def spec(self) -> dict[str, Any]:
        """Plain data to rebuild the part from: model text, features, categories, medians, T."""
        return {
            "model": self.booster.model_to_string(),
            "features": self.features,
            "categories": self.categories,
            "typical": self.typical,
            "temperature": self.temperature,
        }

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The design matrix of `frame`; a feature the frame lacks is missing on every row."""
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            frame = frame.assign(**{f: np.nan for f in missing})
        return design_matrix(frame, self.features, self.categories)

    def proba(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:
        """Class probabilities (n, n_classes) of design matrix `X`: softmax(raw / temperature)."""
        if self.temperature == 1.0:
            return self.booster.predict(X, num_threads=num_threads)
        return temperature_scaled(self.raw_scores(X, num_threads), self.temperature)

    def raw_scores(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:
        """Raw (log-odds) scores (n, n_classes) of design matrix `X`."""
        return self.booster.predict(X, raw_score=True, num_threads=num_threads)

    def contributions(self, X: np.ndarray, codes: np.ndarray, num_threads: int = 0) -> np.ndarray:
        """SHAP values (n, n_features + 1) of each row for class `codes[i]`; last column: base."""
        if self._tables is None:  # built on first use: fitting alone never needs them
            self._tables = [tree_tables(b) for b in self.per_class]
        return assigned_contributions(self.per_class, X, codes, num_threads, self._tables)


class SegmentAssigner(ClassifierMixin, BaseEstimator):
    """Segments from attributes: LightGBM multiclass with class weights, in scikit-learn's manner.

    `fit(X, y)` takes a frame holding the `features` columns (None: every column) and one segment
    name per row; `classes` fixes the segments' order (None: sorted). A feature named in
    `categories` is coded against its known values (any other value is missing). Learned:
    `classes_`, `part_` (the BoosterPart), `features_`, `typical_` (medians, for the wording),
    `temperature_` (1 after `fit`; `set_temperature` applies one fitted on out-of-fold scores).
    """

    def __init__(
        self,
        features: Sequence[str] | None = None,
        *,
        classes: Sequence[str] | None = None,
        params: LightGBMParams | None = None,
        class_weight: str = "balanced",
        categories: dict[str, list[str]] | None = None,
        seed: int = 0,
        num_threads: int = 0,
    ) -> None:
        self.features = features
        self.classes = classes
        self.params = params
        self.class_weight = class_weight
        self.categories = categories
        self.seed = seed
        self.num_threads = num_threads

    def fit(self, X: pd.DataFrame, y: Sequence[Any] | pd.Series) -> SegmentAssigner:
        """Fit one booster on every row of `X` with segment labels `y`; returns self."""
        frame, labels = self._checked(X, y)
        features = self._feature_list(frame)
        classes = list(self.classes) if self.classes is not None else sorted(set(labels))
        codes = segment_codes(labels, classes)
        categories = dict(self.categories or {})
        matrix = design_matrix(frame, features, categories)
        booster = fit_booster(
            matrix,
            codes,
            sample_weights(codes, len(classes), self.class_weight),
            self.params if self.params is not None else LightGBMParams(),
            len(classes),
            seed=self.seed,
            categorical=[i for i, f in enumerate(features) if f in categories],
            num_threads=self.num_threads,
        )
        typical = {
            f: float(np.nanmedian(matrix[:, i])) if np.isfinite(matrix[:, i]).any() else np.nan
            for i, f in enumerate(features)
            if f not in categories
        }
        self.classes_ = np.asarray(classes, dtype=object)
        self.part_ = BoosterPart(booster, features, categories, typical)
        self.features_ = list(features)
        self.typical_ = typical
        self.temperature_ = 1.0
        self.n_features_in_ = len(features)
        return self

    def set_temperature(self, temperature: float) -> SegmentAssigner:
        """Scale the probabilities as softmax(raw / `temperature`) from now on; returns self.

        `temperature` comes from held-out scores (ml.calibration.fit_temperature on the
        cross-validation's out-of-fold `decision_function`); predict and explain are unchanged.
        """
        part = self._fitted("set_temperature")
        if not (np.isfinite(temperature) and temperature > 0):
            raise ValueError(
                f"temperature={temperature!r} must be a finite number > 0; fit it with "
                "ml.calibration.fit_temperature on out-of-fold raw scores"
            )
        part.temperature = float(temperature)
        self.temperature_ = float(temperature)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities (n, n_classes), columns in `classes_` order."""
        part = self._fitted("predict_proba")
        return part.proba(part.matrix(X), self.num_threads)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The most probable segment of each row."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Raw (log-odds) scores (n, n_classes), columns in `classes_` order."""
        part = self._fitted("decision_function")
        return part.raw_scores(part.matrix(X), self.num_threads)

    def explain(self, X: pd.DataFrame, segments: Sequence[str] | None = None) -> pd.DataFrame:
        """SHAP values of each row for its segment (default: the predicted one), and the base.

        Per row, `base_value` + the feature columns = the raw score of that segment.
        """
        part = self._fitted("explain")
        matrix = part.matrix(X)
        if segments is None:
            codes = part.proba(matrix, self.num_threads).argmax(axis=1)
        else:
            codes = segment_codes(segments, list(self.classes_))
        values = part.contributions(matrix, codes, self.num_threads)
        return pd.DataFrame(values, index=X.index, columns=[*part.features, BASE_VALUE])

    def _fitted(self, method: str) -> BoosterPart:
        check_is_fitted(
            self,
            "part_",
            msg=f"This SegmentAssigner is not fitted yet; call fit(X, y) before {method}(X).",
        )
        return self.part_

    def _feature_list(self, frame: pd.DataFrame) -> list[str]:
        features = list(self.features) if self.features is not None else list(frame.columns)
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise ValueError(
                f"X lacks feature column(s) {', '.join(map(str, missing))} that features= names; "
                "add them to X or drop them from features"
            )
        return [str(f) for f in features]

    def _checked(self, X: Any, y: Any) -> tuple[pd.DataFrame, np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(
                f"X must be a pandas DataFrame with the feature columns, got {type(X).__name__}"
            )
        labels = np.asarray(y, dtype=object)
        if labels.ndim != 1 or len(labels) != len(X):
            raise ValueError(
                f"y must hold one segment per row of X: X has {len(X)} rows, y has shape "
                f"{labels.shape}"
            )
        if self.class_weight not in ("balanced", "none"):
            raise ValueError(
                f"class_weight={self.class_weight!r} is not a weighting; use 'balanced' or 'none'"
            )
        return X, labels
