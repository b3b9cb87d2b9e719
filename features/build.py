"""`strata features build`: ingest -> quarantine -> derive per as_of -> snapshot with manifest.

Two engines derive the same snapshot: `pandas` (every key in one process) and `spark` (the
per-sku step in one Spark task per sku partition, `features.spark_engine`); ingest,
quarantine and the cross-key step are the same code in both.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from features.derive import (
    DerivedAttributes,
    catalogue_attributes,
    derivation_notes,
    derive_attributes,
)
from features.ingest import ingest, write_tables
from features.ingest_cache import CACHE_DIR, IngestCache
from features.ingest_reuse import ingest_fingerprint, reused_ingest
from features.snapshots import write_snapshot
from ml import columns as C
from ml.attributes import attribute_names
from ml.config import Workspace
from ml.errors import StrataError

__all__ = ["ENGINES", "BuildResult", "build_features", "code_version"]

ENGINES = ("pandas", "spark")


@dataclass(frozen=True)
class BuildResult:
    """What one build did: per-source accounting, quarantine by reason, snapshots written."""

    workspace: str
    tables_dir: Path
    sources: list[dict[str, Any]]
    quarantined_by_reason: dict[str, int]
    snapshots: list[Path] = field(default_factory=list)
    products: dict[str, int] = field(default_factory=dict)
    attributes: list[str] = field(default_factory=list)
    imputation: dict[str, Any] = field(default_factory=dict)
    engine: str = "pandas"
    tasks: pd.DataFrame | None = None


def code_version() -> str:
    """The git commit of the code that built a snapshot (package version when not in git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
        sha = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        ).stdout.strip()
        if sha:
            return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return f"strata {version('strata')}"


def _default_as_of(lines: pd.DataFrame) -> date:
    if lines.empty:
        raise StrataError(
            "no demand line was accepted, so there is no date to build a snapshot as of"
        )
    return pd.Timestamp(lines[C.DATE].max()).date()


def _manifest(
    ws: Workspace,
    as_of: date,
    frame: pd.DataFrame,
    sources: list[dict[str, Any]],
    imputation: Any,
    engine: dict[str, Any],
) -> dict[str, Any]:
    attrs = [c for c in attribute_names() if c in frame.columns]
    totals = {
        k: int(sum(s[k] for s in sources)) for k in ("rows_in", "rows_accepted", "rows_quarantined")
    }
    return {
        "workspace": ws.name,
        "feature_set": ws.features.feature_set,
        "as_of": as_of.isoformat(),
        "grain": ws.features.grain,
        "window": {"bucket": ws.calendar.bucket, "periods": ws.calendar.window_periods},
        "products": int(frame[C.SKU_ID].nunique()),
        "rows": len(frame),
        "attributes": attrs,
        "columns": list(frame.columns),
        "sources": sources,
        **totals,
        "imputation": imputation,
        "engine": engine,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
    }


def build_features(
    ws: Workspace,
    as_of: list[date] | None = None,
    progress: Callable[[str], None] | None = None,
    engine: str = "pandas",
    spark: Any | None = None,
) -> BuildResult:
    """Ingest every source, write canonical tables, derive and write one snapshot per `as_of`.

    `engine` is pandas or spark (`ws.spark`; `spark` is an active SparkSession to use).
    """
    if engine not in ENGINES:
        raise StrataError(f"--engine {engine!r} is not an engine; use {' or '.join(ENGINES)}")
    say = progress or (lambda _msg: None)
    version = code_version()
    fingerprint = ingest_fingerprint(ws, version)
    result = reused_ingest(ws, fingerprint)
    if result is not None:
        say("sources unchanged since the last build: canonical tables reused")
        tables_dir = ws.warehouse / "tables"
    else:
        say("reading and validating sources")
        cacheable = None if version.endswith("-dirty") else version
        result = ingest(ws, cacheable)
        say("writing canonical tables")
        tables_dir = write_tables(ws, result, fingerprint)
        if cacheable is not None:  # the files this build harmonised stay for the next one
            IngestCache(ws.warehouse / CACHE_DIR).keep_only(result.cache_keys)
    sources = [_source_entry(ws, s) for s in result.report]
    dates = sorted(set(as_of or [_default_as_of(result.tables["demand_lines"])]))
    snapshots: list[Path] = []
    products: dict[str, int] = {}
    attributes: list[str] = []
    imputation: dict[str, Any] = {}
    tasks: list[pd.DataFrame] = []
    with _deriver(ws, result.tables, engine, spark, tasks) as derive:
        for day in dates:
            say(f"deriving attributes as of {day.isoformat()} ({engine})")
            derived = derive(day)
            frame, imputation = derived.frame, derived.report
            about = _engine_entry(engine, tasks[-1] if tasks else None)
            manifest = _manifest(ws, day, frame, sources, imputation, about)
            # every key a fallback could not fill, beside the snapshot (the manifest keeps counts)
            extras = {"unresolved": derived.unresolved}
            snapshots.append(write_snapshot(ws, frame, manifest, extras))
            products[day.isoformat()] = manifest["products"]
            attributes = manifest["attributes"]
    by_reason = _quarantined_by_reason(result.report)
    return BuildResult(
        workspace=ws.name,
        tables_dir=tables_dir,
        sources=sources,
        quarantined_by_reason=by_reason,
        snapshots=snapshots,
        products=products,
        attributes=attributes,
        imputation=imputation,
        engine=engine,
        tasks=pd.concat(tasks, ignore_index=True) if tasks else None,
    )


@contextmanager
def _deriver(
    ws: Workspace,
    tables: Mapping[str, pd.DataFrame],
    engine: str,
    spark: Any | None,
    tasks: list[pd.DataFrame],
) -> Iterator[Callable[[date], DerivedAttributes]]:
    """as_of -> DerivedAttributes by the chosen engine (Spark: partitions written once)."""
    if engine == "pandas":
        yield lambda day: derive_attributes(tables, day, ws.calendar, ws.features)
        return
    from features.sku_partitions import write_sku_partitions
    from features.spark_engine import key_attributes_spark, partition_count, spark_session

    n = partition_count(int(tables["products"][C.SKU_ID].nunique()), ws.spark)
    base = Path(ws.spark.staging_dir) if ws.spark.staging_dir else ws.warehouse / "spark_staging"
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"build-{uuid.uuid4().hex[:8]}-", dir=base))
    notes = derivation_notes(tables)
    try:
        parts = write_sku_partitions(tables, staging, n)
        with _session(spark, ws, spark_session) as session:

            def derive(day: date) -> DerivedAttributes:
                found = key_attributes_spark(session, parts, day, ws.calendar, ws.features)
                done = found.tasks.assign(as_of=day.isoformat())
                done.attrs.update(master=str(session.sparkContext.master), partitions=n)
                tasks.append(done)
                return catalogue_attributes(found.keyed, notes, day, ws.calendar, ws.features)

            yield derive
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _session(spark: Any | None, ws: Workspace, make: Callable[..., Any]) -> Iterator[Any]:
    if spark is not None:
        yield spark
        return
    with make(ws.spark) as session:
        yield session


def _engine_entry(engine: str, tasks: pd.DataFrame | None) -> dict[str, Any]:
    """The engine that derived a snapshot, for its manifest."""
    if engine == "pandas" or tasks is None:
        return {"name": engine}
    return {
        "name": engine,
        "master": tasks.attrs["master"],
        "partitions": tasks.attrs["partitions"],
        "task_seconds_max": round(float(tasks["seconds"].max()), 3) if len(tasks) else 0.0,
    }


def _source_entry(ws: Workspace, report: dict[str, Any]) -> dict[str, Any]:
    entry = dict(report)
    path = entry.get("path")
    if path:
        try:
            entry["path"] = str(Path(path).resolve().relative_to(ws.root.resolve()))
        except ValueError:
            entry["path"] = str(path)
    return entry


def _quarantined_by_reason(report: list[dict[str, Any]]) -> dict[str, int]:
    """Rows quarantined per reason over all sources; each row counted once, under its first reason."""
    totals: dict[str, int] = {}
    for source in report:
        for reason, n in source.get("quarantined_by_reason", {}).items():
            totals[reason] = totals.get(reason, 0) + int(n)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))
