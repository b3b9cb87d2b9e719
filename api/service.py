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

__all__ = ["Outputs", "Records", "Service", "load_service"]


@dataclass(frozen=True)
class Records:
    """The workspace database's audit trail and overrides, with each subject's rows indexed."""

    stamp: tuple[Any, ...]
    audit: pd.DataFrame
    overrides: pd.DataFrame
    alerts: pd.DataFrame  # KPI alerts, newest first
    _audit_at: dict[str, np.ndarray] = field(repr=False)
    _overrides_at: dict[str, np.ndarray] = field(repr=False)

    def audit_of(self, subject: str) -> pd.DataFrame:
        """The audit rows of `subject`, oldest first (as ``read_audit(ws, subject)``)."""
        at = self._audit_at.get(str(subject))
        return self.audit.iloc[at] if at is not None else self.audit.iloc[0:0]

    def overrides_of(self, sku: str) -> pd.DataFrame:
        """Every override of `sku`."""
        at = self._overrides_at.get(str(sku))
        return self.overrides.iloc[at] if at is not None else self.overrides.iloc[0:0]


def _db_stamp(ws: Any) -> tuple[Any, ...]:
    """What changes when anything writes the workspace database (the file or its WAL)."""
    from store.db import db_path

    path = db_path(ws)
    stamps: list[Any] = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st = p.stat()
            stamps.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            stamps.append(None)
    return tuple(stamps)


def _grouped(frame: pd.DataFrame, column: str) -> dict[str, np.ndarray]:
    if frame.empty:
        return {}
    keys = frame[column].astype("str")
    return {str(k): v for k, v in keys.groupby(keys, sort=False).indices.items()}


@dataclass(frozen=True)
class Outputs:
    """The newest outputs of one workspace, with each product's rows found by a dictionary hit.

    Tables with one row per product are also kept as column arrays (`row` builds a dict from
    them in microseconds); explanations are sorted by product so its rows are one slice.
    """

    key: str
    assignments: pd.DataFrame
    explanations: pd.DataFrame
    policies: pd.DataFrame
    policy_flags: pd.DataFrame
    policy_segments: pd.DataFrame
    features: pd.DataFrame
    runs: pd.DataFrame
    descriptions: pd.Series  # aligned with assignments ("" when the snapshot has none)
    _index: dict[str, dict[str, Any]] = field(repr=False)
    _arrays: dict[str, dict[str, np.ndarray]] = field(repr=False)

    @property
    def empty(self) -> bool:
        return self.assignments.empty

    def ids(self, table: str) -> Any:
        """The product ids of `table` (a dict view: membership is one hash lookup)."""
        return self._index[table].keys()

    def row(self, table: str, sku: str) -> dict[str, Any] | None:
        """The one row of `sku` in `table` (assignments|policies|policy_flags|features), or None."""
        at = self._index[table].get(str(sku))
        if at is None:
            return None
        if isinstance(at, slice):
            at = at.start
        return {c: values[at] for c, values in self._arrays[table].items()}

    def rows(self, table: str, sku: str) -> pd.DataFrame:
        """The rows of `sku` in `table` as a frame (empty when it has none)."""
        frame: pd.DataFrame = getattr(self, table)
        at = self._index[table].get(str(sku))
        if at is None:
            return frame.iloc[0:0]
        return frame.iloc[at] if isinstance(at, slice) else frame.iloc[[at]]


def _index(frame: pd.DataFrame) -> dict[str, Any]:
    """sku_id -> row position, or the slice of its rows (the frame sorted by sku_id)."""
    if frame.empty or SKU_ID not in frame.columns:
        return {}
    skus = frame[SKU_ID].astype("str").to_numpy()
    if len(set(skus)) == len(skus):
        return dict(zip(skus.tolist(), range(len(skus)), strict=True))
    ids, first, counts = np.unique(skus, return_index=True, return_counts=True)
    return {str(k): slice(int(a), int(a + n)) for k, a, n in zip(ids, first, counts, strict=True)}


def _arrays(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {str(c): frame[c].to_numpy() for c in frame.columns}


def _descriptions(assignments: pd.DataFrame, features: pd.DataFrame) -> pd.Series:
    if "description" not in features.columns or features.empty or assignments.empty:
        return pd.Series("", index=assignments.index, dtype="str")
    uniq = features.drop_duplicates(SKU_ID)
    lookup = pd.Series(uniq["description"].to_numpy(), index=uniq[SKU_ID].astype("str"))
    return assignments[SKU_ID].astype("str").map(lookup).fillna("").astype("str")


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
    _records: Records | None = None
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

    def fresh(self) -> bool:
        """True when outputs and records are loaded and need no check now (no I/O to serve)."""
        recent = self._outputs is not None and time.monotonic() - self._checked < self.ttl
        return recent and self._records is not None and self._records.stamp == _db_stamp(self.ws)

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

    def records(self) -> Records:
        """Audit and overrides, re-read (with the CLI's readers) when the database changed."""
        from planning.kpis import read_alerts
        from serving.overrides import list_overrides
        from store.audit import read_audit

        stamp = _db_stamp(self.ws)
        if self._records is not None and self._records.stamp == stamp:
            return self._records
        with self._lock:
            audit, overrides = read_audit(self.ws), list_overrides(self.ws)
            self._records = Records(
                stamp,
                audit,
                overrides,
                read_alerts(self.ws),
                _grouped(audit, "subject"),
                _grouped(overrides, SKU_ID),
            )
            return self._records

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
        flags = summary = pd.DataFrame()
        if len(policies):
            partition = {
                "as_of": pd.Timestamp(policies[AS_OF].iloc[0]).date(),
                "model_version": str(policies[C.MODEL_VERSION].iloc[0]),
            }
            flags = _read(sink, C.POLICY_FLAGS, **partition)
            summary = _read(sink, C.POLICY_SEGMENTS, **partition)
        if len(explanations):
            explanations = explanations.sort_values([SKU_ID, "rank"], kind="stable")
            explanations = explanations.reset_index(drop=True)
        tables = {
            "assignments": assignments,
            "explanations": explanations,
            "policies": policies,
            "policy_flags": flags,
            "features": features,
        }
        index = {name: _index(frame) for name, frame in tables.items()}
        arrays = {n: _arrays(f) for n, f in tables.items() if n != "explanations"}
        return Outputs(
            key=key,
            runs=runs,
            descriptions=_descriptions(assignments, features),
            policy_segments=summary,
            _index=index,
            _arrays=arrays,
            **tables,
        )


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
