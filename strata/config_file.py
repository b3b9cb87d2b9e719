"""Load a YAML config file into its frozen pydantic model, with errors that name file, key, value."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ml.config import Workspace
from ml.errors import StrataError

__all__ = ["format_validation_error", "load_model", "load_workspace"]

M = TypeVar("M", bound=BaseModel)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the key at `loc`, for listing its allowed keys."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        candidates = [ann, *args]
        current = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), ann
        )
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def format_validation_error(path: Path, model: type[BaseModel], err: ValidationError) -> str:
    """One line per problem: file, key, bad value, what is allowed."""
    lines = [f"{path}: {err.error_count()} problem(s) in the config:"]
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            owner = _model_at(model, loc)
            allowed = ", ".join(sorted(owner.model_fields)) if owner else "see the docs"
            lines.append(f"  - key '{key}' is not allowed; allowed keys here: {allowed}")
            continue
        value = e.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"  - key '{key}': {e['msg']}{shown}")
    return "\n".join(lines)


def load_model(path: Path, model: type[M], overrides: dict[str, Any] | None = None) -> M:
    """Read `path` as YAML and validate it into `model`; a StrataError lists every problem."""
    path = Path(path)
    if not path.is_file():
        raise StrataError(f"config file {path} does not exist; pass --config with an existing file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise StrataError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise StrataError(
            f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}"
        )
    raw = {**raw, **(overrides or {})}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise StrataError(format_validation_error(path, model, exc)) from None


def load_workspace(path: Path | str) -> Workspace:
    """The workspace config; relative paths resolve against the folder above `configs/`."""
    path = Path(path).resolve()
    root = path.parent.parent if path.parent.name == "configs" else path.parent
    raw_root = None
    with contextlib.suppress(OSError, yaml.YAMLError, AttributeError):
        raw_root = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("root")
    if raw_root is not None:
        root = (path.parent / raw_root).resolve()
    return load_model(path, Workspace, overrides={"root": str(root)})
