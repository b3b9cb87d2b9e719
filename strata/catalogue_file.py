"""Load configs/segments.yaml into a validated Catalogue; every problem is reported at once."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import yaml

from ml.attributes import attribute_names as registry_attribute_names
from ml.catalogue import Catalogue, validate_catalogue
from ml.errors import StrataError
from strata.config_file import load_model

__all__ = ["DEFAULT_CATALOGUE", "load_catalogue"]

DEFAULT_CATALOGUE = Path("configs/segments.yaml")


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
    path: Path | str = DEFAULT_CATALOGUE, attribute_names: Iterable[str] | None = None
) -> Catalogue:
    """The segment catalogue at `path`, checked against the attribute registry.

    Structure errors (types, unknown keys, bad threshold order, missing policy fields) and
    semantic problems (unknown attributes or classes, overlaps, uncovered products, segments that
    never apply) raise one StrataError listing every problem with the segment and key.
    """
    path = Path(path)
    try:
        catalogue = load_model(path, Catalogue)
    except StrataError as exc:
        raise StrataError(_with_segment_names(str(exc), _segment_names(path))) from None
    names = registry_attribute_names() if attribute_names is None else list(attribute_names)
    problems = validate_catalogue(catalogue, names)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise StrataError(f"{path}: {len(problems)} problem(s) in the segment catalogue:\n{listed}")
    return catalogue
