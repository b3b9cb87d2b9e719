"""Shadow scoring: staging's assignments against the champion's on the same snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from ml import columns as C
from ml.columns import SKU_ID
from ml.config import Workspace
from ml.config.scoring import ScoringConfig
from serving.predict import load_pyfunc, predict_pandas, prediction_params
from serving.runs import current_assignments, main_sinks
from store.registry import ModelVersionInfo, RegistryRef, alias_holders

__all__ = ["ShadowComparison", "compare_assignments", "shadow_comparison"]


@dataclass(frozen=True)
class ShadowComparison:
    """Staging's assignments against the champion's on the same snapshot."""

    champion_version: str
    staging_version: str
    champion_source: str  # "sink" (its written assignments) or "scored" (computed now)
    products: int
    by_segment: pd.DataFrame  # segment, champion, staging, moving_in, moving_out, net
    movers: pd.DataFrame  # sku_id, champion_segment, staging_segment, staging_probability

    @property
    def moving(self) -> int:
        return len(self.movers)


def compare_assignments(
    champion: pd.DataFrame, staging: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(changes by segment, products that would move, products compared) of two assignments."""
    both = champion[[SKU_ID, C.SEGMENT]].merge(
        staging[[SKU_ID, C.SEGMENT, C.PROBABILITY]], on=SKU_ID, suffixes=("_champion", "_staging")
    )
    c, s = f"{C.SEGMENT}_champion", f"{C.SEGMENT}_staging"
    moved = both[both[c] != both[s]]
    names = sorted(set(both[c]) | set(both[s]))
    by_segment = pd.DataFrame(
        {
            C.SEGMENT: names,
            "champion": [int((both[c] == n).sum()) for n in names],
            "staging": [int((both[s] == n).sum()) for n in names],
            "moving_in": [int((moved[s] == n).sum()) for n in names],
            "moving_out": [int((moved[c] == n).sum()) for n in names],
        }
    )
    by_segment["net"] = by_segment["moving_in"] - by_segment["moving_out"]
    movers = moved.rename(
        columns={c: "champion_segment", s: "staging_segment", C.PROBABILITY: "staging_probability"}
    ).reset_index(drop=True)
    return by_segment, movers, len(both)


def shadow_comparison(
    ws: Workspace,
    ref: RegistryRef,
    config: ScoringConfig,
    staging: pd.DataFrame,
    staging_info: ModelVersionInfo,
    day: date,
    inputs: pd.DataFrame,
) -> ShadowComparison | None:
    """Staging's `staging` assignments against the champion's: its written ones for `day`, else
    the champion scored on the same inputs now; None when there is no champion."""
    champion_version = alias_holders(ref).get("champion")
    if champion_version is None:
        return None
    champion = current_assignments(main_sinks(ws, config)[0], day, champion_version)
    source = "sink"
    if champion is None:
        source = "scored"
        pyfunc = load_pyfunc(f"models:/{ref.model_name}/{champion_version}")
        champion = predict_pandas(pyfunc, inputs, prediction_params(explain=False))
    by_segment, movers, n = compare_assignments(champion, staging)
    return ShadowComparison(
        str(champion_version), staging_info.version, source, n, by_segment, movers
    )
