"""The policy-impact gate metrics: two segmentations replayed on the same demand and products."""

from __future__ import annotations

import pandas as pd

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue, Workspace
from ml.config.policy import PolicyConfig
from ml.errors import StrataError
from planning.policy_job import compute_policies
from planning.replay import (
    common_products,
    pit_features,
    replayer,
    simulation_window,
)

__all__ = ["GATE_METRICS", "policy_impact"]


GATE_METRICS = ("policy_inventory_value", "policy_fill_rate")


def policy_impact(
    ws: Workspace,
    candidate_assignments: pd.DataFrame,
    champion_assignments: pd.DataFrame | None,
    *,
    periods: int | None = None,
    catalogue: Catalogue,
    config: PolicyConfig,
) -> dict[str, dict[str, float] | None]:
    """The policy-impact gate metrics of two segmentations, by the same replay.

    Assignments are frames with ``sku_id`` and ``segment`` (the scoring job's ``assignments``).
    Both are applied to the point-in-time snapshot before the window and replayed on the same
    products with the same random numbers. Returns ``{"candidate": {"policy_inventory_value":
    ..., "policy_fill_rate": ...}, "champion": {...} or None, "products": {...}}`` — pass
    ``["candidate"]`` as the candidate's metrics and ``["champion"]`` as the champion's to
    :func:`ml.gates.evaluate_gates`.
    """
    sim = config.simulation
    window = simulation_window(ws, periods or sim.periods, sim.warmup_periods)
    day = window.policy_as_of
    features = pit_features(ws, day)
    named = {"candidate": candidate_assignments, "champion": champion_assignments}
    sets = {}
    for name, frame in named.items():
        if frame is None:
            continue
        missing = [c for c in (C.SKU_ID, SEGMENT) if c not in frame.columns]
        if missing:
            raise StrataError(
                f"{name} assignments lack column(s) {', '.join(missing)}; pass the scoring "
                "job's assignments table (sku_id, segment, ...)"
            )
        segs = frame[[C.SKU_ID, SEGMENT]].astype({C.SKU_ID: "str", SEGMENT: "str"})
        sets[name] = compute_policies(ws, features, segs, catalogue, config.build, day)
    frames, _ = common_products(list(sets.values()))
    run = replayer(ws, window, config, frames[0])
    out: dict[str, dict[str, float] | None] = {"champion": None}
    for name, frame in zip(sets, frames, strict=True):
        overall = run(frame, name, None).overall
        figures = (float(overall[C.AVG_INVENTORY_VALUE]), float(overall[C.FILL_RATE]))
        out[name] = dict(zip(GATE_METRICS, figures, strict=True))
    out["products"] = {"compared": float(len(frames[0]))}
    return out
