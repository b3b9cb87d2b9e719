"""The one config loader: YAML files into their frozen pydantic models, errors naming file and key.

Every stage's config is found the same way: the path given on the command line, else the path
the workspace config names (``training:``, ``catalogue:``, ``scoring:``, ``policy:``,
``gates:``) read from the workspace root, then from the current folder; a stage config that is
absent everywhere takes its built-in defaults (the catalogue is required). This is the edge where
files are read: stages receive the validated models as arguments.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ml.attributes import attribute_names as registry_attribute_names
from ml.catalogue_checks import validate_catalogue
from ml.config.base import hide_url_password
from ml.config.catalogue import Catalogue
from ml.config.gates import GatesConfig
from ml.config.operations import OperationsConfig
from ml.config.policy import PolicyConfig
from ml.config.roles import RolesConfig
from ml.config.scoring import ScoringConfig
from ml.config.training import TrainingConfig
from ml.config.workspace import Workspace
from ml.errors import StrataError

__all__ = [
    "config_file",
    "format_validation_error",
    "load_catalogue",
    "load_gates_config",
    "load_model",
    "load_operations_config",
    "load_policy_config",
    "load_roles_config",
    "load_scoring_config",
    "load_training_config",
    "load_workspace",
]

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
        shown = "" if isinstance(value, dict) else f" (got {hide_url_password(repr(value))})"
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


def config_file(ws: Workspace, path: Path) -> Path:
    """`path` as given when absolute; else under the workspace root if it is there, else the cwd."""
    path = Path(path)
    if path.is_absolute():
        return path
    in_workspace = ws.resolve(path)
    return in_workspace if in_workspace.is_file() else Path.cwd() / path


def _stage_config(ws: Workspace, model: type[M], declared: Path, given: Path | None) -> M:
    """`given` (must exist), else the workspace's declared file, else `model`'s defaults."""
    if given is not None:
        return load_model(Path(given), model)
    found = config_file(ws, declared)
    return load_model(found, model) if found.is_file() else model()


def load_training_config(ws: Workspace, path: Path | None = None) -> TrainingConfig:
    """The training settings (`training:` of the workspace, default configs/training.yaml)."""
    return _stage_config(ws, TrainingConfig, ws.training, path)


def load_scoring_config(ws: Workspace, path: Path | None = None) -> ScoringConfig:
    """The scoring settings: hysteresis, sinks, shadow (default configs/scoring.yaml)."""
    return _stage_config(ws, ScoringConfig, ws.scoring, path)


def load_policy_config(ws: Workspace, path: Path | None = None) -> PolicyConfig:
    """The policy stage's settings: build, simulation, KPIs (default configs/policy.yaml)."""
    return _stage_config(ws, PolicyConfig, ws.policy, path)


def load_gates_config(ws: Workspace, path: Path | None = None) -> GatesConfig:
    """The promotion gates per alias (default configs/gates.yaml)."""
    return _stage_config(ws, GatesConfig, ws.gates, path)


def load_operations_config(ws: Workspace, path: Path | None = None) -> OperationsConfig:
    """Monitoring thresholds, trigger rules and the schedule (default configs/operations.yaml)."""
    return _stage_config(ws, OperationsConfig, ws.operations, path)


def load_roles_config(ws: Workspace, path: Path | None = None) -> RolesConfig:
    """Who may do what in `strata serve` (default configs/roles.yaml)."""
    return _stage_config(ws, RolesConfig, ws.roles, path)


def _segment_names(path: Path) -> list[str]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return [str(s.get("name", "?")) for s in raw.get("segments", []) if isinstance(s, dict)]
    except (OSError, yaml.YAMLError, AttributeError):
        return []


def _with_segment_names(message: str, names: list[str]) -> str:
    """Add the segment's name to each `segments.N...` location so the reader need not count."""

    def name(match: re.Match[str]) -> str:
        i = int(match.group(1))
        label = f" (segment '{names[i]}')" if i < len(names) else ""
        return f"{match.group(0)}{label}"

    return re.sub(r"key 'segments\.(\d+)[^']*'", name, message)


def load_catalogue(
    source: Workspace | Path | str, path: Path | None = None, attribute_names: Any = None
) -> Catalogue:
    """The segment catalogue, checked against the attribute registry.

    `source` is a workspace (its `catalogue:` file, default configs/segments.yaml, unless `path`
    is given) or the catalogue file itself. Structure errors (types, unknown keys, bad threshold
    order, missing policy fields) and semantic problems (unknown attributes or classes,
    overlaps, uncovered products, segments that never apply) raise one StrataError listing every
    problem with the segment and key.
    """
    if isinstance(source, Workspace):
        file = Path(path) if path is not None else config_file(source, source.catalogue)
    else:
        file = Path(source)
    try:
        catalogue = load_model(file, Catalogue)
    except StrataError as exc:
        raise StrataError(_with_segment_names(str(exc), _segment_names(file))) from None
    names = registry_attribute_names() if attribute_names is None else list(attribute_names)
    problems = validate_catalogue(catalogue, names)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise StrataError(f"{file}: {len(problems)} problem(s) in the segment catalogue:\n{listed}")
    return catalogue
