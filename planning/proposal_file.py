"""The proposals on disk (the optimiser's, the backtest's tuned classes): a whole catalogue file and
its JSON summary each, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ml.config import Catalogue, Workspace
from planning.optimise import ServiceLevelProposal
from planning.tuned_proposal import TunedProposal

__all__ = ["write_proposal", "write_tuned_proposal"]


def write_proposal(ws: Workspace, proposal: ServiceLevelProposal) -> Path:
    """Write ``<warehouse>/reports/segments_proposed_<as_of>.yaml`` (a whole catalogue file)
    and ``.json`` beside it (the strategies and savings); returns the YAML's path."""
    path = _folder(ws) / f"segments_proposed_{proposal.as_of.isoformat()}.yaml"
    header = (
        f"# Proposed by `strata policy optimise` for the snapshot of {proposal.as_of}: a "
        f"cycle-service level per segment and cycle-value band\n# holding an aggregate planned fill rate of "
        f"{proposal.target:.4f} with {proposal.saving_vs_best_uniform:.1%} less safety-stock "
        f"value than the best uniform rule\n# (the per-product limit: "
        f"{proposal.per_item_limit_saving:.1%}). Review it, replay it with `strata simulate "
        f"--catalogue {path.name}`,\n# then adopt it by pointing the workspace's catalogue: at "
        f"it or copying it over configs/segments.yaml.\n"
    )
    summary = {
        "as_of": proposal.as_of.isoformat(),
        "target_fill_rate": proposal.target,
        "saving_vs_best_uniform": proposal.saving_vs_best_uniform,
        "per_item_limit_saving": proposal.per_item_limit_saving,
        "strategies": proposal.strategies.to_dict("records"),
        "excluded": proposal.excluded,
    }
    return _write_catalogue(path, header, proposal.catalogue, summary)


def _folder(ws: Workspace) -> Path:
    folder = ws.warehouse / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_catalogue(path: Path, header: str, catalogue: Catalogue, summary: dict) -> Path:
    """The catalogue as YAML under its header comment, the summary as JSON beside it."""
    body = yaml.safe_dump(catalogue.model_dump(mode="json", exclude_none=True), sort_keys=False)
    _atomic_write(path, header + body)
    _atomic_write(path.with_suffix(".json"), json.dumps(summary, indent=2))
    return path


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # never half-written


def write_tuned_proposal(ws: Workspace, proposal: TunedProposal) -> Path:
    """Write ``<warehouse>/reports/segments_tuned_<last day of the window>.yaml`` (a whole
    catalogue file) and ``.json`` beside it (the levels per class); returns the YAML's path."""
    path = _folder(ws) / f"segments_tuned_{proposal.window.last.isoformat()}.yaml"
    saving = proposal.saving_vs_best_uniform
    header = (
        f"# Proposed by `strata simulate --backtest`: a cycle-service level per segment and "
        f"cycle-value band, tuned on the replay of\n# {proposal.window.describe()} to hold the "
        f"fill rate the catalogue achieved there ({proposal.target_fill_rate:.4f}) for the least "
        f"stock.\n# Judged on the next window at every origin, these classes saved "
        f"{'n/a' if saving is None else f'{saving:.1%}'} against the best uniform rule on "
        f"average. Review it, replay it with\n# `strata simulate --catalogue {path.name}`, then "
        f"adopt it by pointing the workspace's catalogue: at it.\n"
    )
    summary = {
        "window": proposal.window.describe(),
        "target_fill_rate": proposal.target_fill_rate,
        "saving_vs_best_uniform": saving,
        "levels": proposal.levels,
    }
    return _write_catalogue(path, header, proposal.catalogue, summary)
