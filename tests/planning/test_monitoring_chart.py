"""The monitoring trend chart: one point per refresh, the worst PSI of any segment."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd

from ml import columns as C
from ml.monitoring import (
    ALL,
    CHANGED_SHARE,
    KPIS_BREACHED,
    KPIS_BREACHED_FIT,
    PSI_MAX,
    SHARE_CHANGE,
)
from planning.monitoring_chart import _trend, draw_monitoring_chart


def _rows() -> pd.DataFrame:
    rows = []
    for refresh, day, psi, breached, fit in (
        ("r-1", "2011-11-11", (None, 0.10, 0.05), 14, 0),
        ("r-2", "2011-12-09", (0.30, 1.80, 0.20), 13, 2),
    ):
        for segment, value in zip((ALL, "a", "b"), psi, strict=True):
            rows.append(
                {
                    "refresh_id": refresh,
                    C.SEGMENT: segment,
                    C.AS_OF: pd.Timestamp(day),
                    PSI_MAX: value,
                    SHARE_CHANGE: 0.01,
                    CHANGED_SHARE: 0.02 if segment == ALL else 0.5,
                    KPIS_BREACHED: breached if segment == ALL else 1,
                    KPIS_BREACHED_FIT: fit if segment == ALL else 0,
                }
            )
    return pd.DataFrame(rows)


def test_each_refresh_shows_its_worst_psi_and_the_overall_kpi_breaches() -> None:
    trend = _trend(_rows())
    assert list(trend.index) == ["r-1", "r-2"]
    assert trend[PSI_MAX].tolist() == [0.10, 1.80]  # the worst segment's, not the overall row's
    assert trend[CHANGED_SHARE].tolist() == [0.02, 0.02]
    assert trend[KPIS_BREACHED].tolist() == [14, 13]
    assert trend[KPIS_BREACHED_FIT].tolist() == [0, 2]


def test_the_chart_is_a_png_with_one_panel_per_measure(tmp_path: Path) -> None:
    path = draw_monitoring_chart(_rows(), tmp_path / "reports" / "monitoring.png", "t")
    image = mpimg.imread(path)
    assert image.shape[0] > image.shape[1] > 400  # four panels stacked
