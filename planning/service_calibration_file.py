"""The segments' shortage ratios the last backtest learned, kept for the policy stage to plan with.

`strata simulate --backtest` writes ``reports/service_calibration.json``: per segment the ratio of
achieved to planned shortage (:mod:`ml.policy.service_calibration`) in the latest
``backtest.calibration_windows`` replay windows, the newest ending at the newest complete period,
so it looks at nothing the next period's plan could not know. `strata policy build` reads it and
adds to every policy its ``calibrated_fill_rate``; without the file that column stays empty and
the policies say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Workspace
from ml.config.policy import PolicyConfig
from ml.errors import StrataError
from ml.policy.service_calibration import calibrated_fill_rate, configured_shortage_ratios

__all__ = ["ServiceCalibration", "read_calibration", "with_calibration", "write_calibration"]

FILE = "service_calibration.json"


@dataclass(frozen=True)
class ServiceCalibration:
    """Shortage ratio per segment, and the replay windows (first days) it was learned from."""

    ratios: dict[str, float]
    windows: list[str]
    segments_from: str

    @property
    def note(self) -> str:
        """Where the ratios come from, in one line."""
        return (
            f"calibrated by the shortage ratios of the backtest window(s) from "
            f"{', '.join(self.windows)} ({self.segments_from})"
        )


def _path(ws: Workspace) -> Path:
    return ws.warehouse / "reports" / FILE


def write_calibration(ws: Workspace, result: object, config: PolicyConfig) -> Path:
    """The newest windows' ratios of a :class:`planning.backtest.Backtest` to the reports."""
    origins = result.origins[-config.backtest.calibration_windows :]  # type: ignore[attr-defined]
    ratios = configured_shortage_ratios([o.calibration for o in origins], config.backtest)
    body = {
        "ratios": ratios,
        "windows": [o.window.first.isoformat() for o in origins],
        "segments_from": origins[-1].source.detail if origins else "",
    }
    path = _path(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2), encoding="utf-8")
    return path


def read_calibration(ws: Workspace) -> ServiceCalibration | None:
    """The ratios the last backtest wrote (None when it never ran in this workspace)."""
    path = _path(ws)
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        ratios = {str(k): float(v) for k, v in body["ratios"].items()}
        return ServiceCalibration(ratios, list(body["windows"]), str(body["segments_from"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise StrataError(
            f"{path} is not a service calibration ({exc}); delete it and rerun "
            "`strata simulate --backtest` to write it again"
        ) from None


def with_calibration(
    policies: pd.DataFrame, calibration: ServiceCalibration | None
) -> pd.DataFrame:
    """The policies with each row's segment ``shortage_ratio`` and ``calibrated_fill_rate``
    (both empty without a calibration, or for a segment it did not learn)."""
    ratio = (
        policies[SEGMENT].astype("str").map(calibration.ratios).to_numpy(np.float64)
        if calibration is not None
        else np.full(len(policies), np.nan)
    )
    calibrated = calibrated_fill_rate(policies[C.EXPECTED_FILL_RATE], ratio)
    return policies.assign(
        **{
            C.SHORTAGE_RATIO: ratio,
            C.CALIBRATED_FILL_RATE: np.where(np.isfinite(ratio), calibrated, np.nan),
        }
    )
