"""`strata models`: every version with its aliases, training data, quality, gates and promotions."""

from __future__ import annotations

import pandas as pd

from ml.config import Workspace
from promotion.gate_check import gate_tag
from store.registry import (
    RegistryRef,
    list_versions,
    read_alias_history,
)

__all__ = ["models_overview"]


def models_overview(ws: Workspace, ref: RegistryRef) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(versions with aliases, training data, quality, gate results, last promotion; history)."""
    versions = list_versions(ref)
    history = read_alias_history(ws, ref.model_name)
    rows = []
    for v in versions:
        moves = history[history["to_version"] == v.version]
        last = moves.iloc[-1] if len(moves) else None
        rows.append(
            {
                "version": v.version,
                "aliases": ",".join(v.aliases),
                "created": v.created_at,
                "trained_on": v.trained_as_of or "",
                "labeller": v.run_tags.get("labeller", ""),
                "cv_macro_f1": v.run_metrics.get("cv_macro_f1"),
                "gates_staging": v.tags.get(gate_tag("staging"), ""),
                "gates_champion": v.tags.get(gate_tag("champion"), ""),
                "last_promoted": (
                    f"{last['alias']} by {last['who']} {pd.Timestamp(last['occurred_at']):%Y-%m-%d %H:%M}"
                    f" ({last['event']})"
                    if last is not None
                    else ""
                ),
            }
        )
    return pd.DataFrame(rows), history
