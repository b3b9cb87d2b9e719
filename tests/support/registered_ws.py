"""Planted workspaces for the serving tests (imported by conftest.py and the tests).

The `registered` fixture (conftest.py) trains v1 and v2 (rules labeller; v2 with another seed) on a planted snapshot
(2,000 products as of 2026-11-02), then adds a later snapshot of the same products (as of
2026-11-30) in which a tenth of them drift towards another planted segment. `serving_ws` gives
each test its own copy of that workspace (SQLite registry and warehouse), so aliases, audit
and sinks never leak between tests. The copies share the original's artifact folder (the
experiment's artifact location is absolute), which they only read — except gate reports,
which they may overwrite harmlessly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from planted import (
    AS_OF,
    PLANTED_WORKSPACE,
    TRUTH,
    planted_catalogue,
    planted_config,
    planted_frame,
    planted_workspace,
)

from ml.config.scoring import ScoringConfig

__all__ = [
    "AS_OF",
    "GATES",
    "LATER",
    "MODEL",
    "N_PRODUCTS",
    "Registered",
    "drifted",
    "planted_catalogue",
    "planted_config",
    "planted_frame",
    "planted_workspace",
    "write_cli_configs",
    "write_snapshot_frame",
]

LATER = date(2026, 11, 30)
# the gates of the test workspaces (configs/gates.yaml there): the repository's kinds of gate,
# fixed here so that retuning the repository's thresholds does not move these tests
GATES = {
    "staging": [
        {"name": "quality_floor", "metric": "cv_macro_f1", "min": 0.6},
        {"name": "explanation_additivity", "metric": "shap_additivity_error", "max": 1e-3},
    ],
    "champion": [
        {"name": "quality_floor", "metric": "cv_macro_f1", "min": 0.7},
        {
            "name": "no_regression",
            "metric": "cv_macro_f1",
            "against": "champion",
            "tolerance": 0.02,
        },
        {
            "name": "stability",
            "metric": "segment_change_share",
            "max": 0.15,
            "requires_champion": True,
        },
        {"name": "smallest_segment", "metric": "min_segment_share", "min": 0.01},
        {"name": "attribute_drift", "metric": "psi.*", "max": 0.25},
        {"name": "explanation_additivity", "metric": "shap_additivity_error", "max": 1e-3},
        {
            "name": "policy_fill_rate",
            "metric": "policy_fill_rate",
            "against": "champion",
            "tolerance": 0.01,
            "when_missing": "na",
        },
    ],
}
N_PRODUCTS = 2000
MODEL = "strata-segmenter"


@dataclass(frozen=True)
class Registered:
    """A workspace with two registered versions (no alias) and two snapshots."""

    root: Path
    ws: object
    v1: object  # TrainResult
    v2: object


def drifted(frame: pd.DataFrame, share: float = 0.1, seed: int = 1) -> pd.DataFrame:
    """The planted frame with `share` of all products, taken from the smooth sellers, turned
    intermittent (they now sell rarely and little)."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    smooth = np.flatnonzero((out[TRUTH] == "smooth_sellers").to_numpy())
    pick = rng.choice(smooth, size=int(share * len(out)), replace=False)
    out.loc[pick, "adi"] = 4.0 * np.exp(0.1 * rng.standard_normal(len(pick)))
    out.loc[pick, "mean_qty"] = 3.0
    out.loc[pick, "nonzero_periods"] = np.round(out.loc[pick, "periods_observed"] / 4.0)
    out.loc[pick, "zero_share"] = (
        1 - out.loc[pick, "nonzero_periods"] / out.loc[pick, "periods_observed"]
    )
    return out


def write_snapshot_frame(ws, frame: pd.DataFrame, as_of: date) -> None:
    from features.snapshots import write_snapshot

    snap = frame.drop(columns=[TRUTH], errors="ignore").assign(as_of=pd.Timestamp(as_of))
    write_snapshot(
        ws, snap, {"as_of": as_of.isoformat(), "feature_set": "planted-v1", "workspace": ws.name}
    )


def write_cli_configs(root: Path) -> Path:
    """configs/ of the planted workspace for the CLI: strata, segments, gates, scoring."""
    configs = root / "configs"
    configs.mkdir(exist_ok=True)
    (configs / "strata.yaml").write_text(
        yaml.safe_dump(PLANTED_WORKSPACE),
        encoding="utf-8",
    )
    (configs / "segments.yaml").write_text(
        yaml.safe_dump(planted_catalogue().model_dump(mode="json"), sort_keys=False),
        encoding="utf-8",
    )
    (configs / "gates.yaml").write_text(yaml.safe_dump(GATES, sort_keys=False), encoding="utf-8")
    scoring = ScoringConfig().model_dump(mode="json")  # parquet outputs, default hysteresis
    (configs / "scoring.yaml").write_text(yaml.safe_dump(scoring), encoding="utf-8")
    return configs / "strata.yaml"
