"""Reuse of the canonical tables when nothing they were built from has changed.

A build records, beside its tables, a fingerprint of everything ingest reads: the bytes of every
source file (sha256), the source declarations, the harmonisation and calendar settings and the
code version. The next build computes it again before parsing anything; when it is equal, the
tables, quarantine and report are read back instead of ingested again (a scheduled refresh whose
extracts did not change skips the parse). Any difference, a SQL source (a query's result cannot
be hashed without running it) or a missing file means a full ingest.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from features.connectors import source_files
from features.ingest import TABLES, IngestResult
from features.ingest_cache import file_digest
from ml.config import Workspace

__all__ = ["FINGERPRINT_FILE", "ingest_fingerprint", "reused_ingest"]

FINGERPRINT_FILE = "ingest_fingerprint.json"


def ingest_fingerprint(ws: Workspace, code_version: str) -> str | None:
    """The fingerprint of what ingest would read now; None when it cannot be known (SQL source,
    missing file, or code with uncommitted changes)."""
    if code_version.endswith("-dirty"):
        return None
    files: dict[str, str] = {}
    for source in ws.sources:
        found = source_files(ws, source)
        if source.kind == "sql" or not found or not all(p.is_file() for p in found):
            return None
        for path in found:
            files[str(path.resolve())] = file_digest(path)
    about = {
        "sources": [s.model_dump(mode="json") for s in ws.sources],
        "harmonisation": ws.harmonisation.model_dump(mode="json"),
        "calendar": ws.calendar.model_dump(mode="json"),
        "root": str(ws.root),
        "code_version": code_version,
        "files": files,
    }
    return hashlib.sha256(json.dumps(about, sort_keys=True).encode()).hexdigest()


def reused_ingest(ws: Workspace, fingerprint: str | None) -> IngestResult | None:
    """The last build's ingest read back when its fingerprint equals `fingerprint`, else None."""
    tables = ws.warehouse / "tables"
    recorded = tables / FINGERPRINT_FILE
    if fingerprint is None or not recorded.is_file():
        return None
    if json.loads(recorded.read_text(encoding="utf-8")).get("fingerprint") != fingerprint:
        return None
    try:
        frames = {name: pd.read_parquet(tables / f"{name}.parquet") for name in TABLES}
        quarantine = pd.read_parquet(tables / "quarantine.parquet")
        report = json.loads((tables / "ingest_report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a damaged folder: ingest again
    return IngestResult(tables=frames, quarantine=quarantine, report=report)
