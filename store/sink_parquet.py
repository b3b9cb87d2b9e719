"""Parquet sink: each run a folder under _runs/, published by an atomic symlink swap."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from ml import columns as C
from ml.columns import AS_OF
from ml.config.scoring import ParquetSink
from ml.errors import StrataError
from store.locks import workspace_lock
from store.sink_common import (
    MANIFEST,
    PART,
    ROLLED_BACK,
    RollbackResult,
    TableHook,
    WriteResult,
    normalise,
    not_current,
    nothing_to_read,
    pruned,
    runs_frame,
    sink_label,
    utc_now,
)

__all__ = ["list_runs", "read", "read_replaced", "rollback", "stage"]


def _run_folder_name(as_of: date, model_version: str, run_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)[:80]
    return f"{as_of.isoformat()}_{model_version}_{safe}_{uuid.uuid4().hex[:8]}"


def _partition_link(root: Path, as_of: date, model_version: str) -> Path:
    return root / f"as_of={as_of.isoformat()}" / f"model_version={model_version}"


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _linked(root: Path) -> dict[str, Path]:
    """Run folder name -> its partition link, for every published partition."""
    out: dict[str, Path] = {}
    for link in root.glob("as_of=*/model_version=*"):
        if link.is_symlink() and (link / MANIFEST).is_file():
            out[Path(os.readlink(link)).name] = link
    return out


def _runs_parquet(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    runs_dir = root / "_runs"
    if not runs_dir.is_dir():
        return []
    found = []
    for folder in sorted(runs_dir.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        manifest = _manifest(folder)
        if manifest is not None:
            found.append((folder, manifest))
    return found


def _parquet_status(folder: Path, linked: dict[str, Path], referenced: set[str]) -> str | None:
    if folder.name in linked:
        return "current"
    if (folder / ROLLED_BACK).exists():
        return "rolled_back"
    if folder.name in referenced:
        return "superseded"
    return None  # complete but never published: a crash between rename and link swap


def _cleanup_parquet(root: Path) -> None:
    """Remove unfinished temp folders and run folders a crash left unpublished (under the lock)."""
    runs_dir = root / "_runs"
    if not runs_dir.is_dir():
        return
    for tmp in runs_dir.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for stale in root.glob("as_of=*/.*.tmp-*"):
        with contextlib.suppress(OSError):
            stale.unlink()
    runs = _runs_parquet(root)
    linked = _linked(root)
    referenced = {m.get("replaced_folder") for _, m in runs} - {None}
    for folder in runs_dir.iterdir():
        if folder.name.startswith("."):
            continue
        if _manifest(folder) is None or _parquet_status(folder, linked, referenced) is None:
            shutil.rmtree(folder, ignore_errors=True)


def _verify(sink: ParquetSink, tmp: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Every staged file is readable and holds the run's rows (footer row counts)."""
    for name, frame in frames.items():
        found = pq.read_metadata(tmp / name / PART).num_rows
        if found != len(frame):
            raise StrataError(
                f"sink {sink_label(sink)}: staged {name} holds {found} rows, expected "
                f"{len(frame)}; nothing was published"
            )


@contextlib.contextmanager
def stage(
    sink: ParquetSink,
    frames: dict[str, pd.DataFrame],
    as_of: date,
    model_version: str,
    run_id: str,
    on_table_written: TableHook | None,
    timeout: float,
) -> Iterator[WriteResult]:
    """Write and verify the run in a temp folder; leaving the block publishes it (link swap).

    An exception inside the block removes the temp folder: the partition stays as it was.
    """
    root = Path(sink.path)
    root.mkdir(parents=True, exist_ok=True)
    with workspace_lock(root, "parquet-sink", timeout=timeout):
        _cleanup_parquet(root)
        runs = _runs_parquet(root)
        for _, m in runs:
            if m["run_id"] == run_id and (m["as_of"], m["model_version"]) != (
                as_of.isoformat(),
                model_version,
            ):
                raise StrataError(
                    f"run {run_id} already wrote as_of {m['as_of']} model_version "
                    f"{m['model_version']} to {sink_label(sink)}; a run writes one partition — "
                    f"give this one its own run_id"
                )
        link = _partition_link(root, as_of, model_version)
        current = link.resolve() if link.is_symlink() and (link / MANIFEST).is_file() else None
        current_manifest = _manifest(current) if current else None
        retry = current_manifest is not None and current_manifest["run_id"] == run_id
        if retry:  # the same run written again replaces itself; its history stays as it was
            replaced_folder = current_manifest.get("replaced_folder")
            replaced_run_id = current_manifest.get("replaced_run_id")
        else:
            replaced_folder = current.name if current else None
            replaced_run_id = current_manifest["run_id"] if current_manifest else None

        runs_dir = root / "_runs"
        tmp = runs_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            for name, frame in frames.items():
                (tmp / name).mkdir()
                frame.to_parquet(tmp / name / PART, index=False)
                if on_table_written is not None:
                    on_table_written(name)
            folder = runs_dir / _run_folder_name(as_of, model_version, run_id)
            manifest = {
                "format": 1,
                "run_id": run_id,
                "as_of": as_of.isoformat(),
                "model_version": model_version,
                "written_at": utc_now().isoformat(),
                "tables": {name: len(f) for name, f in frames.items()},
                "replaced_run_id": replaced_run_id,
                "replaced_folder": replaced_folder,
                "folder": folder.name,
            }
            with open(tmp / MANIFEST, "w", encoding="utf-8") as fh:
                json.dump(manifest, fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            _verify(sink, tmp, frames)
            yield WriteResult(
                sink_label(sink), as_of, model_version, run_id, manifest["tables"], replaced_run_id
            )
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        os.replace(tmp, folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp_link = link.parent / f".{link.name}.tmp-{uuid.uuid4().hex[:8]}"
        os.symlink(os.path.relpath(folder, link.parent), tmp_link)
        os.replace(tmp_link, link)  # the atomic publish
        if retry and current is not None:
            shutil.rmtree(current, ignore_errors=True)
        _prune_parquet(root, as_of, model_version, sink.keep_history)


def _prune_parquet(root: Path, as_of: date, model_version: str, keep: int) -> None:
    linked = _linked(root)
    old = [
        (m["written_at"], folder)
        for folder, m in _runs_parquet(root)
        if m["as_of"] == as_of.isoformat()
        and m["model_version"] == model_version
        and folder.name not in linked
    ]
    for _, folder in sorted(old, reverse=True)[keep:]:
        shutil.rmtree(folder, ignore_errors=True)


def list_runs(sink: ParquetSink) -> pd.DataFrame:
    root = Path(sink.path)
    runs = _runs_parquet(root)
    linked = _linked(root)
    referenced = {m.get("replaced_folder") for _, m in runs} - {None}
    rows = []
    for folder, m in runs:
        status = _parquet_status(folder, linked, referenced)
        if status is None:
            continue
        rows.append(
            {
                C.RUN_ID: m["run_id"],
                AS_OF: m["as_of"],
                C.MODEL_VERSION: m["model_version"],
                C.STATUS: status,
                "written_at": pd.Timestamp(m["written_at"]),
                "replaced_run_id": m.get("replaced_run_id"),
                "ended_at": pd.NaT,
                "tables": ",".join(m["tables"]),
                "row_counts": json.dumps(m["tables"]),
                "history_pruned": False,
            }
        )
    return runs_frame(rows)


def read(sink: ParquetSink, table: str, as_of: date | None, mv: str | None) -> pd.DataFrame:
    root = Path(sink.path)
    links = [
        (link, _manifest(link))
        for link in root.glob("as_of=*/model_version=*")
        if link.is_symlink() and (link / MANIFEST).is_file()
    ]
    candidates = [
        (m["as_of"], m["written_at"], link)
        for link, m in links
        if m is not None
        and table in m["tables"]
        and (as_of is None or m["as_of"] == as_of.isoformat())
        and (mv is None or m["model_version"] == mv)
    ]
    if not candidates:
        nothing_to_read(
            sink, table, as_of, mv, [(m["as_of"], m["model_version"]) for _, m in links if m]
        )
    _, _, link = max(candidates)
    return normalise(pd.read_parquet(link / table / PART))


def _parquet_run(root: Path, run_id: str) -> tuple[Path, dict[str, Any], str]:
    runs = _runs_parquet(root)
    linked = _linked(root)
    referenced = {m.get("replaced_folder") for _, m in runs} - {None}
    matches = [
        (folder, m, _parquet_status(folder, linked, referenced))
        for folder, m in runs
        if m["run_id"] == run_id
    ]
    matches = [x for x in matches if x[2] is not None]
    if not matches:
        known = sorted({m["run_id"] for _, m in runs})
        raise StrataError(
            f"no run {run_id} in {root}; runs there: {', '.join(known[-10:]) or 'none'}"
        )
    matches.sort(key=lambda x: (x[2] == "current", x[1]["written_at"]))
    return matches[-1]


def rollback(sink: ParquetSink, run_id: str, timeout: float) -> RollbackResult:
    root = Path(sink.path)
    with workspace_lock(root, "parquet-sink", timeout=timeout):
        _cleanup_parquet(root)
        folder, m, status = _parquet_run(root, run_id)
        if status != "current":
            not_current(sink, run_id, status, _replacer_parquet(root, folder.name))
        link = _partition_link(root, date.fromisoformat(m["as_of"]), m["model_version"])
        previous = m.get("replaced_folder")
        if previous:
            target = root / "_runs" / previous
            if _manifest(target) is None:
                pruned(sink, run_id, m.get("replaced_run_id"))
            tmp_link = link.parent / f".{link.name}.tmp-{uuid.uuid4().hex[:8]}"
            os.symlink(os.path.relpath(target, link.parent), tmp_link)
            os.replace(tmp_link, link)
        else:
            link.unlink()
            with contextlib.suppress(OSError):
                link.parent.rmdir()
        (folder / ROLLED_BACK).write_text(
            json.dumps({"rolled_back_at": utc_now().isoformat()}), encoding="utf-8"
        )
    return RollbackResult(
        sink_label(sink),
        run_id,
        date.fromisoformat(m["as_of"]),
        m["model_version"],
        m.get("replaced_run_id") if previous else None,
        list(m["tables"]),
    )


def _replacer_parquet(root: Path, folder_name: str) -> str | None:
    for _, m in _runs_parquet(root):
        if m.get("replaced_folder") == folder_name:
            return m["run_id"]
    return None


def read_replaced(sink: ParquetSink, table: str, run_id: str) -> pd.DataFrame:
    root = Path(sink.path)
    _, m, _ = _parquet_run(root, run_id)
    previous = m.get("replaced_folder")
    if not previous:
        return pd.DataFrame()
    path = root / "_runs" / previous / table / PART
    if _manifest(root / "_runs" / previous) is None:
        pruned(sink, run_id, m.get("replaced_run_id"))
    return normalise(pd.read_parquet(path)) if path.is_file() else pd.DataFrame()
