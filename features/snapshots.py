"""Point-in-time feature snapshots: atomic write, manifest, and `load_features`, the one read API."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from ml.config import Workspace
from ml.config.files import load_workspace
from ml.errors import StrataError

__all__ = ["list_snapshots", "load_features", "read_manifest", "snapshot_dir", "write_snapshot"]

FEATURES_FILE = "features.parquet"
MANIFEST_FILE = "manifest.json"
DEFAULT_WORKSPACE = Path("configs/strata.yaml")


def _root(ws: Workspace) -> Path:
    return ws.warehouse / "features"


def snapshot_dir(ws: Workspace, as_of: date) -> Path:
    """The folder of the snapshot for `as_of` (partitioned as `as_of=YYYY-MM-DD`)."""
    return _root(ws) / f"as_of={as_of.isoformat()}"


def _recover(root: Path) -> None:
    """Finish a replacement a crash interrupted: a trashed snapshot whose successor never landed."""
    for trash in root.glob(".trash-*"):
        final = root / trash.name.split("--", 1)[-1]
        if final.exists():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(trash, final)
    for tmp in root.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def write_snapshot(
    ws: Workspace,
    frame: pd.DataFrame,
    manifest: dict[str, Any],
    extras: dict[str, pd.DataFrame] | None = None,
) -> Path:
    """Write one snapshot; re-writing an `as_of` replaces it atomically (temp folder, then rename)."""
    as_of = date.fromisoformat(str(manifest["as_of"]))
    root = _root(ws)
    root.mkdir(parents=True, exist_ok=True)
    _recover(root)
    final = snapshot_dir(ws, as_of)
    tmp = root / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        frame.to_parquet(tmp / FEATURES_FILE, index=False)
        for name, extra in (extras or {}).items():
            extra.to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / MANIFEST_FILE).write_text(
            json.dumps(manifest, indent=2, default=str), encoding="utf-8"
        )
        if final.exists():
            trash = root / f".trash-{uuid.uuid4().hex}--{final.name}"
            os.replace(final, trash)
            os.replace(tmp, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _recover(root)
        raise
    return final


def list_snapshots(ws: Workspace) -> list[date]:
    """The `as_of` dates with a complete snapshot, oldest first."""
    root = _root(ws)
    if not root.is_dir():
        return []
    _recover(root)
    dates = [
        date.fromisoformat(p.name.removeprefix("as_of="))
        for p in root.glob("as_of=*")
        if (p / MANIFEST_FILE).is_file() and (p / FEATURES_FILE).is_file()
    ]
    return sorted(dates)


def _resolve_as_of(ws: Workspace, as_of: date | None) -> date:
    dates = list_snapshots(ws)
    if not dates:
        raise StrataError(
            f"workspace '{ws.name}' has no feature snapshot under {_root(ws)}; "
            "run `strata features build` first"
        )
    if as_of is None:
        return dates[-1]
    if as_of not in dates:
        shown = ", ".join(d.isoformat() for d in dates[-12:])
        raise StrataError(
            f"workspace '{ws.name}' has no snapshot as of {as_of.isoformat()}; available: {shown}. "
            f"Build it with `strata features build --as-of {as_of.isoformat()}`"
        )
    return as_of


def _workspace(workspace: Workspace | str | Path) -> Workspace:
    if isinstance(workspace, Workspace):
        return workspace
    return load_workspace(workspace)


def load_features(
    as_of: date | None = None,
    columns: list[str] | None = None,
    *,
    workspace: Workspace | str | Path = DEFAULT_WORKSPACE,
) -> pd.DataFrame:
    """The snapshot for `as_of` (the newest when None), optionally only some columns."""
    ws = _workspace(workspace)
    day = _resolve_as_of(ws, as_of)
    path = snapshot_dir(ws, day) / FEATURES_FILE
    if columns is not None:
        available = set(pq.read_schema(path).names)
        missing = [c for c in columns if c not in available]
        if missing:
            raise StrataError(
                f"snapshot {day.isoformat()} of workspace '{ws.name}' has no column(s) "
                f"{', '.join(missing)}; `strata features list` shows the attributes"
            )
    return pd.read_parquet(path, columns=columns)


def read_manifest(ws: Workspace, as_of: date | None = None) -> dict[str, Any]:
    """The manifest of the snapshot for `as_of` (the newest when None)."""
    day = _resolve_as_of(ws, as_of)
    return json.loads((snapshot_dir(ws, day) / MANIFEST_FILE).read_text(encoding="utf-8"))
