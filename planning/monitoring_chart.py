"""The monitoring trend chart: PSI max, mix change, change share and KPI breaches per refresh."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ml import columns as C
from ml.config.operations import MonitoringThresholds
from ml.monitoring import (
    ALL,
    CHANGED_SHARE,
    KPIS_BREACHED,
    KPIS_BREACHED_FIT,
    PSI_MAX,
    SHARE_CHANGE,
)

__all__ = ["PANELS", "draw_monitoring_chart"]

PANELS = (
    (PSI_MAX, "largest PSI (any attribute, any segment)"),
    (SHARE_CHANGE, "largest segment share change"),
    (CHANGED_SHARE, "share of products changing segment"),
    (KPIS_BREACHED, "KPI judgements breached"),
)


def _trend(rows: pd.DataFrame) -> pd.DataFrame:
    """One point per refresh: the worst PSI over every row, the ALL row's other measures."""
    overall = rows[rows[C.SEGMENT] == ALL].set_index("refresh_id")
    worst = pd.to_numeric(rows[PSI_MAX], errors="coerce").groupby(rows["refresh_id"]).max()
    columns = [C.AS_OF, SHARE_CHANGE, CHANGED_SHARE, KPIS_BREACHED, KPIS_BREACHED_FIT]
    out = overall[[c for c in columns if c in overall.columns]].copy()
    out[PSI_MAX] = worst.reindex(out.index)
    return out.sort_index()


def _limits(t: MonitoringThresholds) -> dict[str, float]:
    """Each panel's threshold (configs/operations.yaml), drawn as a dashed line."""
    return {
        PSI_MAX: t.psi_max,
        SHARE_CHANGE: t.mix_change_max,
        CHANGED_SHARE: t.change_share_max,
        KPIS_BREACHED: t.kpi_breaches_max,
    }


def draw_monitoring_chart(
    rows: pd.DataFrame, path: Path, title: str, thresholds: MonitoringThresholds | None = None
) -> Path:
    """Write the PNG of the monitoring rows' trend to `path`, each panel with its threshold;
    returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trend = _trend(rows)
    limits = _limits(thresholds or MonitoringThresholds())
    days = [pd.Timestamp(d).date().isoformat() for d in trend[C.AS_OF]]
    labels = [f"{d}\n{r[-6:]}" for r, d in zip(trend.index, days, strict=True)]
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(8, 2.2 * len(PANELS)), sharex=True)
    for ax, (col, label) in zip(axes, PANELS, strict=True):
        ax.plot(range(len(trend)), pd.to_numeric(trend[col], errors="coerce"), marker="o")
        if col == KPIS_BREACHED and KPIS_BREACHED_FIT in trend.columns:
            # the breaches blamed on products no longer fitting: only these start a retrain
            fit = pd.to_numeric(trend[KPIS_BREACHED_FIT], errors="coerce")
            ax.plot(range(len(trend)), fit, marker="s", label="of them: fit (can trigger retrain)")
            ax.legend(fontsize=7, loc="center right")
        ax.axhline(limits[col], color="tab:red", linestyle="--", linewidth=1, label="threshold")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left")
    axes[-1].set_xticks(range(len(trend)), labels, fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
