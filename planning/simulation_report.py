"""The simulation report: markdown tables and the trade-off chart under ``<warehouse>/reports``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Workspace
from planning.simulation import SimulationReport

__all__ = ["write_simulation_report"]


def _chart(report: SimulationReport, path: Path) -> None:
    fig = Figure(figsize=(13, 5.5))
    left, right = fig.subplots(1, 2)
    styles = {"csl": ("o-", "tab:gray"), "fill_rate": ("^--", "tab:green")}
    for kind, base in report.baselines.items():
        curve = sorted(
            (p.overall[C.FILL_RATE], p.overall[C.AVG_INVENTORY_VALUE], p.level) for p in base.sweep
        )
        marker, colour = styles.get(kind, ("o-", "tab:gray"))
        left.plot(
            [c[0] for c in curve],
            [c[1] for c in curve],
            marker,
            color=colour,
            label=f"uniform {kind} (level)",
        )
        for x, y, lvl in curve:
            left.annotate(
                f"{lvl:.3f}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=6
            )
    seg = report.segmented.overall
    left.plot(
        seg[C.FILL_RATE],
        seg[C.AVG_INVENTORY_VALUE],
        "*",
        ms=16,
        color="tab:blue",
        label="segmented",
    )
    left.legend(fontsize=8)
    left.set_title("All products: average inventory value against fill rate")
    left.set_xlabel("achieved fill rate (units)")
    left.set_ylabel("average inventory value")
    s = report.segmented.by_segment.set_index(SEGMENT).drop(index="all")
    u = report.uniform.by_segment.set_index(SEGMENT).drop(index="all")
    colours = colormaps["tab10"]
    for i, name in enumerate(s.index):
        c = colours(i % 10)
        xs = [s.loc[name, C.FILL_RATE], u.loc[name, C.FILL_RATE]]
        ys = [s.loc[name, C.AVG_INVENTORY_VALUE], u.loc[name, C.AVG_INVENTORY_VALUE]]
        right.plot(xs, ys, "-", color=c, lw=0.8)
        right.plot(xs[0], ys[0], "o", color=c, label=name)
        right.plot(xs[1], ys[1], "o", mfc="none", color=c)
    right.set_title(
        f"Per segment: filled = segmented, hollow = uniform {report.best} at "
        f"{report.uniform.level:.3f}",
        fontsize=9,
    )
    right.set_xlabel("achieved fill rate (units)")
    right.set_ylabel("average inventory value")
    right.set_yscale("symlog")
    right.legend(fontsize=7)
    fig.suptitle(f"{report.workspace}: {report.window.describe()}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _table(frame: pd.DataFrame) -> str:
    def cell(v: object) -> str:
        if isinstance(v, int | np.integer):
            return f"{v:,}"
        if isinstance(v, float | np.floating):
            if np.isnan(v):
                return "n/a"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3f}"
        return str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _pick(flat: pd.DataFrame, measures: tuple[str, ...]) -> pd.DataFrame:
    cols = [c for c in flat.columns if c.split(" ", 1)[-1] in measures]
    return flat[[SEGMENT, *cols]]


def _sweep_table(report: SimulationReport) -> pd.DataFrame:
    """One row per uniform level swept: its fill rate, inventory value and turns."""
    return pd.DataFrame(
        [
            {
                "uniform type": kind,
                "level": p.level,
                C.FILL_RATE: p.overall[C.FILL_RATE],
                C.AVG_INVENTORY_VALUE: p.overall[C.AVG_INVENTORY_VALUE],
                C.TURNS: p.overall[C.TURNS],
            }
            for kind, base in report.baselines.items()
            for p in sorted(base.sweep, key=lambda p: p.level or 0)
        ]
    )


def _equal_fill_lines(report: SimulationReport) -> str:
    return "\n".join(
        f"- one {kind} target for every product: "
        + (
            "not reached by the sweep"
            if b.equal_fill_inventory is None
            else f"{b.equal_fill_inventory:,.0f}"
        )
        for kind, b in report.baselines.items()
    )


def _markdown(report: SimulationReport, png: Path) -> str:
    comp = report.comparison()
    flat = comp.copy()
    flat.columns = [f"{a} {b}" for a, b in comp.columns]
    flat = flat.reset_index()
    main = _pick(
        flat, (C.PRODUCTS, "planned_fill_rate", C.FILL_RATE, C.AVG_INVENTORY_VALUE, C.TURNS)
    )
    service = _pick(flat, (C.CYCLE_SERVICE_LEVEL, C.STOCKOUT_PERIODS, C.LONGEST_STOCKOUT))
    sweep = _sweep_table(report)
    equal = _equal_fill_lines(report)
    excluded = "\n".join(f"  - {k}: {v:,}" for k, v in report.excluded.items())
    unit = report.window.bucket
    return f"""# Policy simulation: {report.workspace}

**{report.headline}**

- Window: {report.window.describe()}.
- Segments: {report.source.detail.rstrip(".")}.
- Uniform baselines: every product at one service level ({report.uniform.level:.4f}, the
  demand-weighted average of the segment targets unless configs/policy.yaml sets one) of one
  type ({", ".join(report.baselines)}), its segment's review, order quantity and lead-time-demand
  method otherwise unchanged; each type also swept over levels to trace its trade-off curve.
  Per-segment figures below compare with the best rule ({report.best}).
- Model: lost sales; each {unit} split into {report.steps_per_period} equal steps with its demand
  spread evenly; per step receipts, demand, then review (continuous review every step, periodic
  every R); each order's lead time drawn from a {report.lead_time_distribution} with the
  product's mean and sd (capped at mean + 8 sd); the same random numbers for every policy set.
  Policies stay as computed on {report.window.policy_as_of.isoformat()} for the whole window (no
  re-planning). Inventory is valued at unit cost, or unit price less the default margin where the
  cost is unknown; turns = annualised sales at that value / average inventory value.
- Products compared: {report.segmented.overall[C.PRODUCTS]:,.0f}. Left out:
{excluded}

![trade-off]({png.name})

## Fill rate, inventory and turns per segment

planned_fill_rate is what the segmented policies expect (formulas, weighted by mean demand);
fill_rate what the replay achieved.

{_table(main)}

## Service: cycle service level, stockout {unit}s (mean per product), longest stockout (max)

{_table(service)}

## Uniform sweeps (the trade-off curves)

{_table(sweep)}

Uniform inventory at the segmented fill rate ({report.segmented.overall[C.FILL_RATE]:.1%}), read
off each curve:
{equal}
"""


def write_simulation_report(ws: Workspace, report: SimulationReport) -> dict[str, Path]:
    """Write ``<warehouse>/reports/simulation_<as_of>.md`` and ``.png``; returns their paths."""
    folder = ws.warehouse / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"simulation_{report.window.policy_as_of.isoformat()}"
    png, md = folder / f"{stem}.png", folder / f"{stem}.md"
    _chart(report, png)
    md.write_text(_markdown(report, png), encoding="utf-8")
    return {"markdown": md, "chart": png}
