"""Run a registered segmenter on a snapshot: check the inputs, type them, predict (pandas engine).

The model's signature names every input column and its type (``double`` for attributes,
``string`` for sku_id and launch descriptors). A snapshot is checked against it before anything
runs: every missing column and every column of the wrong type is reported in one StrataError —
the pyfunc itself would fill a missing attribute with NaN and carry on, which is not what a
planner wants to discover after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.columns import SKU_ID
from ml.errors import StrataError
from ml.grain import at_grain

__all__ = [
    "InputSpec",
    "at_model_grain",
    "check_snapshot",
    "input_spec",
    "load_pyfunc",
    "model_inputs",
    "model_segments",
    "predict_pandas",
    "predict_snapshot",
    "prediction_params",
]

_SHOWN = 8  # example values per problem


@dataclass(frozen=True)
class InputSpec:
    """The columns a model reads, by type."""

    numeric: tuple[str, ...]
    text: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return [SKU_ID, *[c for c in (*self.numeric, *self.text) if c != SKU_ID]]


def load_pyfunc(model_uri: str) -> Any:
    """The pyfunc model at `model_uri` (``models:/<name>/<version>``), quietly."""
    import mlflow.pyfunc  # seconds to import: only the commands that load a model pay for it

    return mlflow.pyfunc.load_model(model_uri)


def input_spec(model: Any) -> InputSpec:
    """The input columns of `model`'s signature, split into numeric and text."""
    schema = model.metadata.get_input_schema()
    if schema is None:
        raise StrataError(
            f"model {model.metadata.model_uuid} has no input signature; it was not logged by "
            f"`strata train`. Retrain and register it with `strata train`"
        )
    numeric, text = [], []
    for col in schema.inputs:
        kind = getattr(col.type, "name", str(col.type))
        (text if kind == "string" else numeric).append(col.name)
    return InputSpec(tuple(numeric), tuple(c for c in text if c != SKU_ID))


def at_model_grain(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """The snapshot at the grain the model was trained at (family models: one row per family)."""
    info = getattr(model.unwrap_python_model(), "info", {}) or {}
    return at_grain(frame, str(info.get("grain", "product")))


def model_segments(model: Any) -> list[str]:
    """The segments the model assigns, in its class order."""
    meta = model.metadata.metadata or {}
    if meta.get("segments"):
        return [str(s) for s in meta["segments"]]
    return list(model.unwrap_python_model().segments)


def _examples(values: pd.Series) -> str:
    shown = ", ".join(repr(v) for v in values.unique()[:3])
    return f" (e.g. {shown})" if shown else ""


def check_snapshot(frame: pd.DataFrame, spec: InputSpec, where: str, model: str) -> None:
    """Raise one StrataError listing every column the model needs that is missing or mistyped."""
    problems: list[str] = []
    needed = [SKU_ID, *spec.numeric, *spec.text]
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if missing:
        problems.append(
            f"missing {len(missing)} column(s) the model needs: {', '.join(missing)}. Build the "
            f"snapshot with them (`strata features build`; `strata features list` names the "
            f"attributes) or score with a model trained without them"
        )
    for col in spec.numeric:
        if col not in frame.columns or col == SKU_ID:
            continue
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        as_num = pd.to_numeric(s, errors="coerce")
        bad = s[s.notna() & as_num.isna()]
        problems.append(
            f"column '{col}' must be numeric, but it is {s.dtype}"
            + (f" with {len(bad)} non-numbers{_examples(bad)}" if len(bad) else "")
            + "; fix its source or its harmonisation so it holds numbers"
        )
    for col in spec.text:
        if col not in frame.columns:
            continue
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s) and not s.isna().all():
            problems.append(
                f"column '{col}' must be text, but it is {s.dtype}{_examples(s.dropna())}; "
                f"keep codes such as families and suppliers as text in the snapshot"
            )
    if SKU_ID in frame.columns:
        dupes = frame[SKU_ID][frame[SKU_ID].duplicated()]
        if len(dupes):
            problems.append(
                f"{dupes.nunique()} sku_id(s) appear more than once{_examples(dupes)}; a "
                f"snapshot has one row per product"
            )
        if frame[SKU_ID].isna().any():
            problems.append(f"{int(frame[SKU_ID].isna().sum())} row(s) have no sku_id")
    if frame.empty and not missing:
        problems.append("it has no rows")
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise StrataError(
            f"cannot score {where} with {model}: {len(problems)} problem(s); nothing was "
            f"written:\n{listed}"
        )


def model_inputs(frame: pd.DataFrame, spec: InputSpec) -> pd.DataFrame:
    """The columns the model reads, typed as its signature says (text: str, "" for missing)."""
    out: dict[str, Any] = {SKU_ID: frame[SKU_ID].astype("str").to_numpy(dtype=object)}
    for col in spec.text:
        s = frame[col]
        out[col] = s.astype("str").where(s.notna(), "").to_numpy(dtype=object)
    for col in spec.numeric:
        out[col] = pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    return pd.DataFrame(out)


def prediction_params(top_k: int | None = None, num_threads: int = 0, explain: bool = True) -> dict:
    """The pyfunc's params: explain, top_k reasons, LightGBM threads (0 = all cores)."""
    params: dict[str, Any] = {"explain": bool(explain), "num_threads": int(num_threads)}
    if top_k is not None:
        params["top_k"] = int(top_k)
    return params


def predict_pandas(
    model: Any, inputs: pd.DataFrame, params: dict[str, Any], chunk_rows: int = 250_000
) -> pd.DataFrame:
    """The pyfunc's output for `inputs`, in chunks (bounded memory), rows in input order."""
    if len(inputs) <= chunk_rows:
        return model.predict(inputs, params=params).reset_index(drop=True)
    parts = [
        model.predict(inputs.iloc[i : i + chunk_rows].reset_index(drop=True), params=params)
        for i in range(0, len(inputs), chunk_rows)
    ]
    return pd.concat(parts, ignore_index=True)


def predict_snapshot(model: Any, snapshot: pd.DataFrame, where: str, label: str) -> pd.DataFrame:
    """The model's plain predictions (no reasons) for a snapshot: grain, checks, typed inputs.

    Pure (no sink, no hysteresis, no overrides): the backtest scores each as-of snapshot with it.
    ``where`` and ``label`` name the snapshot and the model in the error a bad snapshot raises.
    """
    spec = input_spec(model)
    rows = at_model_grain(model, snapshot)
    check_snapshot(rows, spec, where, label)
    return predict_pandas(model, model_inputs(rows, spec), prediction_params(explain=False))
