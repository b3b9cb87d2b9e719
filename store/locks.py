"""Cross-process locks on workspace resources (the DuckDB file, a sink, the registry alias).

DuckDB lets one process write a file at a time, and moving an MLflow alias is a read-then-write;
both need the processes of one workspace to take turns. ``workspace_lock`` is an advisory
``fcntl.flock`` on ``<folder>/.locks/<name>.lock``: the kernel releases it when its holder exits,
however it exits, so a crashed job never leaves a stale lock. Waiting is bounded by a timeout and
ends in a StrataError naming the holder. POSIX only (Linux, macOS).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from ml.errors import StrataError

__all__ = ["DEFAULT_TIMEOUT_S", "current_user", "lock_path", "workspace_lock"]

DEFAULT_TIMEOUT_S = 60.0
_held = threading.local()  # re-entrancy: (lock file) -> depth, per thread


def current_user() -> str:
    """Who is acting: ``STRATA_USER`` when set, else the operating-system user."""
    user = os.environ.get("STRATA_USER", "").strip()
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


def lock_path(folder: Path | str, name: str) -> Path:
    """The lock file of resource `name` under `folder`."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "lock"
    return Path(folder) / ".locks" / f"{safe}.lock"


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        if info:
            return (
                f" (held by pid {info.get('pid')} of {info.get('user')} since {info.get('since')})"
            )
    return ""


@contextlib.contextmanager
def workspace_lock(
    folder: Path | str,
    name: str,
    timeout: float = DEFAULT_TIMEOUT_S,
    poll: float = 0.05,
    shared: bool = False,
) -> Iterator[Path]:
    """Hold the lock `name` under `folder` for the ``with`` block; yields the lock file path.

    `shared=True` takes a read lock that coexists with other readers but not with a writer.
    Re-entrant within one thread (a nested block with the same lock does not wait on itself).
    """
    path = lock_path(folder, name)
    key = str(path.resolve()) if path.parent.exists() else str(path)
    depth: dict[str, int] = _held.__dict__.setdefault("depth", {})
    held_shared: set[str] = _held.__dict__.setdefault("shared", set())
    if depth.get(key):
        if key in held_shared and not shared:
            raise StrataError(
                f"lock {path} is held for reading by this thread; take it exclusively "
                f"(shared=False) in the outer block instead of upgrading inside it"
            )
        depth[key] += 1
        try:
            yield path
        finally:
            depth[key] -= 1
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StrataError(
                        f"another Strata process holds the lock {path}{_holder(path)}; waited "
                        f"{timeout:g} s. Retry when it has finished — the lock is released "
                        f"as soon as that process exits"
                    ) from None
                time.sleep(poll)
        if not shared:
            info = {
                "pid": os.getpid(),
                "user": current_user(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        depth[key] = 1
        if shared:
            held_shared.add(key)
        try:
            yield path
        finally:
            depth.pop(key, None)
            held_shared.discard(key)
    finally:
        os.close(fd)  # closing the descriptor releases the flock
