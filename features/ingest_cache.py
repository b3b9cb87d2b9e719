"""Harmonised source files kept between ingests, each under a key of everything it was made from.

Harmonising is most of an ingest. A file whose bytes (sha256), source declaration,
harmonisation and calendar settings, reference tables (the keys of the sku_xref, uom and fx
files) and code version equal an earlier ingest's gives the same rows and problems, so
:class:`IngestCache` reads them back from ``<warehouse>/ingest_cache/<key>/`` instead: a
refresh of a source made of monthly extracts (``path: erp/*.csv``) harmonises only the new
month. Entries are written to a temporary folder and renamed into place, so a killed ingest
leaves whole entries or none; :meth:`IngestCache.keep_only` drops the entries the last
successful ingest did not use.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.harmonise import Harmonised
from ml.config import Source, Workspace

__all__ = ["CACHE_DIR", "FilePart", "IngestCache", "file_digest", "part_key"]

CACHE_DIR = "ingest_cache"
_ROWS, _PROBLEMS, _NUMBERING, _ABOUT = "rows.parquet", "problems.parquet", "rows.npz", "about.json"


@dataclass(frozen=True)
class FilePart:
    """One source file harmonised: where it came from, its rows' numbering and the result."""

    path: str  # as shown to users (the config's folder and the file's name)
    sha256: str
    source_rows: pd.Series  # int64, the source_row of each raw row (position = raw row)
    ragged: tuple[tuple[int, str], ...]  # csv rows with the wrong number of cells
    harmonised: Harmonised
    row_hashes: np.ndarray | None  # uint64 hash of each raw row (sources of several files)
    cached: bool = False  # read back from the cache, not harmonised by this ingest


@functools.cache
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes, computed once per process for an unchanged file."""
    stat = path.stat()
    return _digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def part_key(
    ws: Workspace,
    source: Source,
    shown: str,
    sha256: str,
    references: list[str],
    code_version: str,
) -> str:
    """The cache key of file `shown` of `source`: its bytes' sha256 and everything that
    harmonising it reads (`references`: the keys of the reference files it is mapped by)."""
    about = {
        "source": source.model_dump(mode="json"),
        "file": shown,
        "harmonisation": ws.harmonisation.model_dump(mode="json"),
        "calendar": ws.calendar.model_dump(mode="json"),
        "sha256": sha256,
        "references": references,
        "code_version": code_version,
    }
    return hashlib.sha256(json.dumps(about, sort_keys=True).encode()).hexdigest()


class IngestCache:
    """The harmonised files of earlier ingests under one warehouse, by :func:`part_key`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, key: str) -> FilePart | None:
        """The part stored under `key`, or None (absent or unreadable: harmonise again)."""
        entry = self.root / key
        try:
            about: dict[str, Any] = json.loads((entry / _ABOUT).read_text(encoding="utf-8"))
            numbering = np.load(entry / _NUMBERING)
            rows = pd.read_parquet(entry / _ROWS)
            found = pd.read_parquet(entry / _PROBLEMS)
        except (OSError, ValueError, KeyError):
            return None
        hashes = numbering["row_hashes"] if "row_hashes" in numbering.files else None
        return FilePart(
            path=about["path"],
            sha256=about["sha256"],
            source_rows=pd.Series(numbering["source_rows"], dtype="int64"),
            ragged=tuple((int(r), str(t)) for r, t in about["ragged"]),
            harmonised=Harmonised(rows, found, int(about["duplicates_removed"])),
            row_hashes=hashes,
            cached=True,
        )

    def save(self, key: str, part: FilePart) -> None:
        """Store `part` under `key` (written aside, then renamed into place)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.root / key).exists():
            return
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))
        try:
            part.harmonised.rows.to_parquet(staging / _ROWS, index=True)
            part.harmonised.problems.to_parquet(staging / _PROBLEMS, index=False)
            arrays = {"source_rows": part.source_rows.to_numpy(dtype=np.int64)}
            if part.row_hashes is not None:
                arrays["row_hashes"] = part.row_hashes
            np.savez(staging / _NUMBERING, **arrays)
            about = {
                "path": part.path,
                "sha256": part.sha256,
                "ragged": [list(r) for r in part.ragged],
                "duplicates_removed": part.harmonised.duplicates_removed,
            }
            (staging / _ABOUT).write_text(json.dumps(about) + "\n", encoding="utf-8")
            staging.rename(self.root / key)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not (self.root / key).exists():
                raise

    def keep_only(self, keys: set[str]) -> None:
        """Remove every entry (and leftover temporary folder) whose key is not in `keys`."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry.name not in keys:
                shutil.rmtree(entry, ignore_errors=True)
