"""The scoring job (`strata score`): assign, explain, reclassify with hysteresis, override, audit, write.

One run: load a registered version (``@champion`` by default) and a feature snapshot, check the
snapshot against the model's signature (one error listing every problem, nothing written),
predict segments with top-k SHAP reasons (pandas, or Spark through ``mlflow.pyfunc.spark_udf``),
build the tables (``serving.tables.scoring_tables``: hysteresis against the previous run, the
active overrides, the output contracts), then write ``assignments`` and ``explanations``
together to every sink, all or none (``store.sinks.write_runs``: staged and verified
everywhere, then published) — and audit every first assignment (which model placed the product
where, as of when, and why) and every segment change. ``--shadow`` scores ``@staging`` into the shadow sinks instead and
compares it with the champion (``serving.shadow``); ``serving.rollback`` restores what a run
replaced.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from features.snapshots import load_features, read_manifest
from ml import columns as C
from ml.config import Workspace
from ml.config.scoring import ScoringConfig
from ml.errors import StrataError
from serving.overrides import active_overrides, expire_overrides
from serving.predict import (
    at_model_grain,
    check_snapshot,
    input_spec,
    load_pyfunc,
    model_inputs,
    model_segments,
    predict_pandas,
    prediction_params,
)
from serving.run_audit import repair_unaudited_run, run_audit_rows
from serving.runs import current_assignments, main_sinks, previous_assignments
from serving.shadow import ShadowComparison, shadow_comparison
from serving.spark_engine import predict_spark
from serving.tables import ScoredTables, scoring_tables
from store.audit import append_audit
from store.registry import ModelVersionInfo, RegistryRef, resolve_version
from store.sinks import write_runs

__all__ = ["ScoreResult", "new_run_id", "score"]


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring run did."""

    run_id: str
    as_of: date
    model_name: str
    model_version: str
    feature_set: str
    engine: str
    products: int
    changed: int
    held_back: int  # products whose model proposal hysteresis did not (yet) follow
    methods: dict[str, int]
    segments: dict[str, int]
    sinks: list[str]
    previous: str | None
    expired_overrides: int
    applied_overrides: int
    audited: int  # audit rows written: first assignments and segment changes
    shadow: ShadowComparison | None = None
    tables: ScoredTables | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Loaded:
    """The model version and the snapshot rows it scores."""

    info: ModelVersionInfo
    pyfunc: Any
    inputs: pd.DataFrame
    day: date
    feature_set: str


def new_run_id(now: datetime | None = None) -> str:
    """A scoring run id: ``score-YYYYmmddTHHMMSS-xxxxxxxx`` (UTC)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return f"score-{stamp}-{uuid.uuid4().hex[:8]}"


def _load(ws: Workspace, ref: RegistryRef, model: str, as_of: date | None) -> _Loaded:
    """Version, pyfunc and the snapshot's typed model inputs, checked for scoring."""
    info = resolve_version(ref, model)
    pyfunc = load_pyfunc(info.uri)
    spec = input_spec(pyfunc)
    manifest = read_manifest(ws, as_of)
    day = date.fromisoformat(str(manifest["as_of"]))
    frame = at_model_grain(pyfunc, load_features(day, workspace=ws))
    feature_set = str(manifest.get("feature_set", ws.features.feature_set))
    where = f"the snapshot as of {day.isoformat()} of workspace '{ws.name}'"
    check_snapshot(frame, spec, where, f"{ref.model_name} v{info.version}")
    # only the model's inputs are needed again: the snapshot's other columns are freed here
    return _Loaded(info, pyfunc, model_inputs(frame, spec), day, feature_set)


def _predict(loaded: _Loaded, engine: str, num_threads: int, spark: Any | None) -> pd.DataFrame:
    params = prediction_params(num_threads=num_threads)
    if engine == "pandas":
        return predict_pandas(loaded.pyfunc, loaded.inputs, params)
    return predict_spark(loaded.info.uri, loaded.inputs, params, spark=spark)


def _held_back(a: pd.DataFrame) -> int:
    """Products whose model proposal the hysteresis did not (yet) follow."""
    held = (
        (a[C.PROPOSED_SEGMENT] != a[C.SEGMENT])
        & (a[C.METHOD] == "model")
        & a[C.PREVIOUS_SEGMENT].notna()
    )
    return int(held.sum())


def score(
    ws: Workspace,
    ref: RegistryRef,
    config: ScoringConfig,
    *,
    as_of: date | None = None,
    model: str | None = None,
    shadow: bool = False,
    engine: str = "pandas",
    num_threads: int = 0,
    spark: Any | None = None,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ScoreResult:
    """Score a snapshot (newest by default) with a registered version and write both tables.

    `model`: champion (default), staging, or a version number; with `shadow` the default is
    the shadow alias (staging) and the outputs go to the shadow sinks, nothing is audited, and
    the result carries the comparison with the champion.
    """
    say = progress or (lambda _msg: None)
    if engine not in ("pandas", "spark"):
        raise StrataError(f"--engine {engine!r} is not an engine; use pandas or spark")
    model = model or (config.shadow.alias if shadow else "champion")
    say(f"loading {ref.model_name}@{model} and the snapshot")
    loaded = _load(ws, ref, model, as_of)
    info, day, run_id = loaded.info, loaded.day, run_id or new_run_id()
    say(f"scoring {len(loaded.inputs):,} products with v{info.version} ({engine})")
    predictions = _predict(loaded, engine, num_threads, spark)

    say("reclassifying against the previous run; overrides")
    primary = main_sinks(ws, config)[0]
    if not shadow:  # a job killed after publishing its run, before auditing it
        repaired = repair_unaudited_run(ws, primary)
        if repaired:
            say(f"audited {repaired} rows of the previous run, which its job never audited")
    previous, previous_label = previous_assignments(primary, day)
    # what planners see now for this snapshot: a re-run's audit is against it, not the past
    visible = None if shadow else current_assignments(primary, day)
    expired = pd.DataFrame() if shadow else expire_overrides(ws, day)
    tables = scoring_tables(
        predictions,
        previous,
        config,
        day,
        segments=model_segments(loaded.pyfunc),
        model_name=ref.model_name,
        model_version=info.version,
        feature_set=loaded.feature_set,
        run_id=run_id,
        overrides=active_overrides(ws, day),
    )
    sinks = main_sinks(ws, config, shadow=shadow)
    say(f"writing assignments and explanations to {', '.join(s.kind for s in sinks)}")
    frames = {C.ASSIGNMENTS: tables.assignments, C.EXPLANATIONS: tables.explanations}
    results = write_runs(sinks, frames, as_of=day, model_version=info.version, run_id=run_id)
    written = [r.sink for r in results]

    audited, comparison = 0, None
    if shadow:
        comparison = shadow_comparison(
            ws, ref, config, tables.assignments, info, day, loaded.inputs
        )
    else:
        rows = run_audit_rows(tables.assignments, visible, info.version, run_id)
        if len(rows):
            append_audit(ws, rows)
        audited = len(rows)
    return _result(
        ref, loaded, engine, run_id, tables, written, previous_label, expired, audited, comparison
    )


def _result(
    ref: RegistryRef,
    loaded: _Loaded,
    engine: str,
    run_id: str,
    tables: ScoredTables,
    written: list[str],
    previous_label: str | None,
    expired: pd.DataFrame,
    audited: int,
    comparison: ShadowComparison | None,
) -> ScoreResult:
    a = tables.assignments
    return ScoreResult(
        run_id=run_id,
        as_of=loaded.day,
        model_name=ref.model_name,
        model_version=loaded.info.version,
        feature_set=loaded.feature_set,
        engine=engine,
        products=len(a),
        changed=int(a[C.CHANGED].sum()),
        held_back=_held_back(a),
        methods={str(k): int(v) for k, v in a[C.METHOD].value_counts().items()},
        segments={str(k): int(v) for k, v in a[C.SEGMENT].value_counts().items()},
        sinks=written,
        previous=previous_label,
        expired_overrides=len(expired),
        applied_overrides=int((a[C.METHOD] == "override").sum()),
        audited=audited,
        shadow=comparison,
        tables=tables,
    )
