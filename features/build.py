"""`strata features build`: ingest -> quarantine -> derive per as_of -> snapshot with manifest."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from features.derive import derive_attributes
from features.ingest import ingest, write_tables
from features.snapshots import write_snapshot
from ml import columns as C
from ml.attributes import attribute_names
from ml.config import Workspace
from ml.errors import StrataError

__all__ = ["BuildResult", "build_features", "code_version"]


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
    ws: Workspace, as_of: date, frame: pd.DataFrame, sources: list[dict[str, Any]], imputation: Any
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
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
    }


def build_features(
    ws: Workspace,
    as_of: list[date] | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Ingest every source, write canonical tables, derive and write one snapshot per `as_of`."""
    say = progress or (lambda _msg: None)
    say("reading and validating sources")
    result = ingest(ws)
    sources = [_source_entry(ws, s) for s in result.report]
    dates = sorted(set(as_of or [_default_as_of(result.tables["demand_lines"])]))
    say("writing canonical tables")
    tables_dir = write_tables(ws, result)
    snapshots: list[Path] = []
    products: dict[str, int] = {}
    attributes: list[str] = []
    imputation: dict[str, Any] = {}
    for day in dates:
        say(f"deriving attributes as of {day.isoformat()}")
        derived = derive_attributes(result.tables, day, ws.calendar, ws.features)
        frame, imputation = derived.frame, derived.report
        manifest = _manifest(ws, day, frame, sources, imputation)
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
    )


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
