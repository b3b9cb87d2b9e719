"""The registered model of a run: the SegmenterModel of its assigners, its inputs, its signature."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from ml.attributes import attributes_for
from ml.columns import SKU_ID
from ml.config import Workspace
from ml.segment_rules import AGE_PERIODS
from ml.wording import wording_table
from training.assigner import SegmentAssigner
from training.labels import Training
from training.pyfunc_model import SegmenterModel

__all__ = [
    "categorical_inputs",
    "input_columns",
    "input_frame",
    "launch_extra",
    "model_signature",
    "segmenter_model",
]

_OUTPUT_KINDS = {
    "sku_id": "string",
    "segment": "string",
    "provisional": "boolean",
    "review": "boolean",
}


def launch_extra(launch: dict[str, Any] | None) -> list[str]:
    """Input columns the model reads besides features: the history attribute for routing."""
    return [launch["history_attribute"]] if launch else []


def input_columns(main_features: list[str], launch: dict[str, Any] | None) -> list[str]:
    """sku_id, then every column the main and launch models read, each once, in order."""
    read = [*main_features, *(launch["features"] if launch else []), *launch_extra(launch)]
    return list(dict.fromkeys([SKU_ID, *read]))


def input_frame(frame: pd.DataFrame, columns: list[str], categorical: set[str]) -> pd.DataFrame:
    """`columns` of `frame` typed as the signature says: text for ids and categoricals, else float."""
    out = {}
    for c in columns:
        if c == SKU_ID or c in categorical:
            out[c] = frame[c].astype("str").where(frame[c].notna(), "")
        else:
            out[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    return pd.DataFrame(out)


def model_signature(
    main_features: list[str],
    launch: dict[str, Any] | None,
    outputs: list[str],
    top_k: int,
    categorical: set[str],
    num_threads: int,
) -> ModelSignature:
    """Inputs (optional but sku_id), outputs and the predict params (explain, top_k, threads)."""
    inputs = [ColSpec("string", SKU_ID)]
    for f in input_columns(main_features, launch)[1:]:
        inputs.append(ColSpec("string" if f in categorical else "double", f, required=False))
    out_specs = []
    for c in outputs:
        if c in _OUTPUT_KINDS:
            out_specs.append(ColSpec(_OUTPUT_KINDS[c], c))
        elif c.startswith(("reason_", "feature_")):
            out_specs.append(ColSpec("string", c))
        else:
            out_specs.append(ColSpec("double", c))
    params = ParamSchema(
        [
            ParamSpec("explain", "boolean", True),
            ParamSpec("top_k", "long", top_k),
            ParamSpec("num_threads", "long", num_threads),
        ]
    )
    return ModelSignature(Schema(inputs), Schema(out_specs), params)


def categorical_inputs(t: Training) -> set[str]:
    """The input columns the model reads as text categories (the launch model's)."""
    np_cfg = t.config.new_products
    return set(np_cfg.categorical) if np_cfg.enabled else set()


def segmenter_model(
    ws: Workspace,
    t: Training,
    main: SegmentAssigner,
    launch: SegmentAssigner | None,
    info: dict[str, Any],
) -> SegmenterModel:
    """The pyfunc of fitted assigners: boosters as text, catalogue and registry wording as data."""
    np_cfg = t.config.new_products
    launch_spec = None
    if launch is not None:
        launch_spec = {**launch.part_.spec(), "history_attribute": AGE_PERIODS}
    calendar = ws.calendar
    registry = attributes_for(
        calendar.bucket, calendar.recent_periods, ws.harmonisation.reporting_currency
    )
    return SegmenterModel(
        segments=t.classes,
        main=main.part_.spec(),
        launch=launch_spec,
        new_products={
            "enabled": np_cfg.enabled,
            "history_attribute": AGE_PERIODS,
            "min_periods": t.catalogue.drivers.history.min_periods,
            "review_below": np_cfg.review_below,
            "fallback_segment": np_cfg.fallback_segment,
        },
        wordings=wording_table(registry),
        catalogue=t.catalogue.model_dump(mode="json"),
        top_k=t.config.explain.top_k,
        num_threads=t.config.assigner.num_threads,
        info=info,
    )
