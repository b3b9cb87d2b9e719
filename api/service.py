"""What the service reads once at start (configs, registry) and the newest outputs, indexed by product.

The newest scoring run's assignments and explanations, the newest policies and the snapshot they
were scored on are read with the same store functions the CLI uses and kept in memory, indexed
by sku_id, so a product lookup is a dictionary hit. They are re-read when the sinks' current
runs change (checked at most every `ttl` seconds).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import AS_OF, SKU_ID
from ml.errors import StrataError

__all__ = ["Outputs", "Service", "load_service"]


@dataclass(frozen=True)
class Outputs:
    """The newest outputs of one workspace, with row positions per product."""

    key: str
    assignments: pd.DataFrame
    explanations: pd.DataFrame
    policies: pd.DataFrame
    policy_flags: pd.DataFrame
    features: pd.DataFrame
    runs: pd.DataFrame
    _rows: dict[str, dict[str, Any]] = field(repr=False)

    @property
    def empty(self) -> bool:
        return self.assignments.empty

    def rows(self, table: str, sku: str) -> pd.DataFrame:
        """The rows of `table` (assignments|explanations|policies|policy_flags|features) of `sku`."""
        frame: pd.DataFrame = getattr(self, table)
        where = self._rows[table].get(str(sku))
        if where is None:
            return frame.iloc[0:0]
        return frame.iloc[np.atleast_1d(where)]


def _positions(frame: pd.DataFrame) -> dict[str, Any]:
    """sku_id -> row position (unique ids) or positions (several rows per id)."""
    if frame.empty or SKU_ID not in frame.columns:
        return {}
    skus = frame[SKU_ID].astype("str")
    if skus.is_unique:
        return dict(zip(skus.tolist(), range(len(skus)), strict=True))
    return {str(k): v for k, v in skus.groupby(skus, sort=False).indices.items()}


def _read(sink: Any, table: str, **kw: Any) -> pd.DataFrame:
    from store.sinks import read_table

    try:
        return read_table(sink, table, **kw)
    except StrataError:  # nothing written yet
        return pd.DataFrame()


@dataclass
class Service:
    """The workspace, its configs and registry, and the cached newest outputs."""

    ws: Any
    ref: Any
    training: Any
    scoring: Any
    catalogue: Any
    policy: Any
    gates: Any
    roles: Any
    ttl: float = 2.0
    _outputs: Outputs | None = None
    _checked: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sink(self) -> Any:
        from serving.runs import main_sinks

        return main_sinks(self.ws, self.scoring)[0]

    def _key(self) -> tuple[str, pd.DataFrame]:
        from store.sinks import list_runs

        runs = list_runs(self.sink)
        current = runs[runs[C.STATUS] == "current"] if len(runs) else runs
        key = ",".join(sorted(current[C.RUN_ID].astype("str"))) if len(current) else ""
        return key, runs

    def outputs(self) -> Outputs:
        """The newest outputs, re-read when a run was written or rolled back since."""
        now = time.monotonic()
        if self._outputs is not None and now - self._checked < self.ttl:
            return self._outputs
        with self._lock:
            if self._outputs is not None and time.monotonic() - self._checked < self.ttl:
                return self._outputs
            key, runs = self._key()
            if self._outputs is None or self._outputs.key != key:
                self._outputs = self._load(key, runs)
            self._checked = time.monotonic()
            return self._outputs

    def _load(self, key: str, runs: pd.DataFrame) -> Outputs:
        from features.snapshots import load_features
        from serving.runs import current_assignments

        sink = self.sink
        assignments = current_assignments(sink)
        if assignments is None:
            assignments = pd.DataFrame(columns=[SKU_ID, C.SEGMENT])
        explanations = features = pd.DataFrame(columns=[SKU_ID])
        if len(assignments):
            day = pd.Timestamp(assignments[AS_OF].iloc[0]).date()
            version = str(assignments[C.MODEL_VERSION].iloc[0])
            explanations = _read(sink, C.EXPLANATIONS, as_of=day, model_version=version)
            try:
                features = load_features(day, workspace=self.ws)
            except StrataError:
                features = pd.DataFrame(columns=[SKU_ID])
        policies = _read(sink, C.POLICIES)
        flags = pd.DataFrame()
        if len(policies):
            flags = _read(
                sink,
                C.POLICY_FLAGS,
                as_of=pd.Timestamp(policies[AS_OF].iloc[0]).date(),
                model_version=str(policies[C.MODEL_VERSION].iloc[0]),
            )
        tables = {
            "assignments": assignments,
            "explanations": explanations,
            "policies": policies,
            "policy_flags": flags,
            "features": features,
        }
        rows = {name: _positions(frame) for name, frame in tables.items()}
        return Outputs(key=key, runs=runs, _rows=rows, **tables)


def load_service(ws: Any, ttl: float = 2.0) -> Service:
    """The workspace's configs loaded once, as the CLI loads them, and the registry reference."""
    from ml.config.files import (
        load_catalogue,
        load_gates_config,
        load_policy_config,
        load_roles_config,
        load_scoring_config,
        load_training_config,
    )
    from store.registry import RegistryRef
    from training.tracking import tracking_uri

    training = load_training_config(ws)
    return Service(
        ws=ws,
        ref=RegistryRef(training.registered_model, tracking_uri(ws)),
        training=training,
        scoring=load_scoring_config(ws),
        catalogue=load_catalogue(ws),
        policy=load_policy_config(ws),
        gates=load_gates_config(ws),
        roles=load_roles_config(ws),
        ttl=ttl,
    )
