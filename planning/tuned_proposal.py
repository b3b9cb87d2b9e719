"""The backtest's replay-tuned service classes of the newest window, as a catalogue proposal.

The rolling backtest (:mod:`planning.backtest`) tunes one cycle-service level per segment x
cycle-value band on each window's measured replay (:mod:`planning.backtest_tuning`) and judges
those levels on the next window. The newest window's levels are the ones to run from now on: here
they become a whole catalogue (each segment's ``service_bands``, the edges cut on that window's
products), written beside the backtest for review and adoption (``catalogue:`` in the workspace
or `strata policy build --catalogue FILE`); nothing in configs/ changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml import columns as C
from ml.config import Catalogue, PolicyConfig
from planning.backtest import TUNED_CLASSES, Backtest
from planning.backtest_tuning import tuned_levels
from planning.optimise import banded_catalogue, segment_bounds
from planning.replay import SimulationWindow

__all__ = ["TunedProposal", "tuned_proposal"]


@dataclass(frozen=True)
class TunedProposal:
    """The catalogue with the tuned levels, what they were tuned on and what they saved."""

    catalogue: Catalogue
    window: SimulationWindow  # the replay the levels were read off
    target_fill_rate: float  # the fill rate the catalogue achieved there, which they hold
    levels: dict[str, float]  # service class (segment#band) -> cycle-service level
    saving_vs_best_uniform: float | None  # the strategy's average over the backtest's origins


def _filled(levels: list[float | None]) -> np.ndarray:
    """Bands no product of the window fell in take the nearest band's level (the lower first)."""
    known = np.array([i for i, lv in enumerate(levels) if lv is not None])
    nearest = known[np.argmin(np.abs(known[None, :] - np.arange(len(levels))[:, None]), axis=1)]
    return np.array([levels[i] for i in nearest], dtype=np.float64)


def tuned_proposal(
    backtest: Backtest, catalogue: Catalogue, config: PolicyConfig
) -> TunedProposal | None:
    """The newest origin's service classes tuned at the fill rate the catalogue achieved there,
    within each segment's service floor and ceiling (None when the backtest ran without the
    uniform sweep, so nothing was tuned)."""
    newest = backtest.origins[-1] if backtest.origins else None
    if newest is None or newest.class_curves.empty:
        return None
    fill = float(newest.strategies.set_index("strategy").loc["catalogue", C.FILL_RATE])
    bounds = segment_bounds(catalogue, config)
    levels = tuned_levels(newest.class_curves, fill, monotone=True, bounds=bounds)
    bands = {}
    for segment, edges in newest.edges.items():
        named = [levels.get(f"{segment}#{b}") for b in range(edges.size + 1)]
        if any(lv is not None for lv in named):
            bands[segment] = (edges, _filled(named))
    return TunedProposal(
        banded_catalogue(catalogue, bands),
        newest.window,
        fill,
        levels,
        backtest.saving(TUNED_CLASSES),
    )
