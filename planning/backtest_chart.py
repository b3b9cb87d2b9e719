"""The backtest's efficient-frontier chart: inventory value against achieved fill rate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure

from ml import columns as C
from ml.config import Workspace

if TYPE_CHECKING:  # the result type only: planning.backtest imports nothing from here
    from planning.backtest import Backtest

__all__ = ["write_backtest_chart"]

MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*"]


def write_backtest_chart(ws: Workspace, result: Backtest) -> Path:
    """The efficient frontier (inventory value against achieved fill rate, averaged over
    origins): the uniform sweeps as curves, every strategy as a point."""
    folder = ws.warehouse / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "backtest_frontier.png"
    sweeps = pd.concat([o.sweeps for o in result.origins], ignore_index=True)
    # only the configured sweep levels every origin replayed: the per-origin average target
    # differs between origins and would put single-origin points on an averaged curve
    every = sweeps.groupby(["kind", "level"])["level"].transform("size") == len(result.origins)
    curves = sweeps[every].groupby(["kind", "level"], sort=True)[
        [C.FILL_RATE, C.AVG_INVENTORY_VALUE]
    ]
    fig = Figure(figsize=(9, 6))
    ax = fig.add_subplot(1, 1, 1)
    for kind, curve in curves.mean().reset_index().groupby("kind", sort=True):
        c = curve.sort_values(C.FILL_RATE)
        ax.plot(c[C.FILL_RATE], c[C.AVG_INVENTORY_VALUE], marker=".", label=f"uniform {kind}")
    # one marker per strategy, named in the legend with its saving: labels written beside the
    # points overlapped where strategies land close together
    for i, row in enumerate(result.average.to_dict("records")):
        saving = row.get("saving")
        said = f" ({saving:+.1%} vs best uniform)" if pd.notna(saving) else ""
        ax.scatter(
            row[C.FILL_RATE],
            row[C.AVG_INVENTORY_VALUE],
            s=70,
            marker=MARKERS[i % len(MARKERS)],
            zorder=3,
            label=f"{row['strategy']}{said}",
        )
    ax.set_xlabel("achieved fill rate (averaged over origins)")
    ax.set_ylabel("average inventory value")
    ax.set_title(f"{result.workspace}: backtest over {len(result.origins)} origins")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)
    return path
