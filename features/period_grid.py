"""The complete periods a snapshot holds: the period grid ending at as_of, by week or month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from ml.config import Calendar, FeaturesConfig

__all__ = ["SEASON", "PeriodGrid", "history_periods"]

SEASON = {"week": 52, "month": 12}
_UNIT_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def history_periods(calendar: Calendar, config: FeaturesConfig) -> int:
    """Periods held per key: the window, or the seasonal history when that is longer."""
    seasonal = config.seasonal_history_periods or 2 * SEASON[calendar.bucket]
    return max(calendar.window_periods, seasonal, 2 * calendar.recent_periods)


def _month_start(d: date, months_back: int = 0) -> date:
    m = d.year * 12 + d.month - 1 - months_back
    return date(m // 12, m % 12 + 1, 1)


@dataclass(frozen=True)
class PeriodGrid:
    """The `n_periods` complete periods held, ending with the latest complete one at `as_of`.

    Point in time: a bucketed row is known at the end of its period, so only periods that are
    complete on `as_of` are held. The latest held period is the one containing `as_of` when
    `as_of` is its last day (a Sunday, a month end), otherwise the one before it.
    """

    bucket: str
    as_of: date
    last_start: date
    n_periods: int
    window_periods: int

    @classmethod
    def for_as_of(cls, as_of: date, calendar: Calendar, n_periods: int) -> PeriodGrid:
        """The grid for `as_of`: the last period is the latest one complete on `as_of`."""
        if calendar.bucket == "week":
            monday = as_of - timedelta(days=as_of.weekday())
            last = monday if as_of.weekday() == 6 else monday - timedelta(days=7)
        else:
            last = _month_start(as_of, 0 if (as_of + timedelta(days=1)).day == 1 else 1)
        periods = max(n_periods, calendar.window_periods)
        return cls(calendar.bucket, as_of, last, periods, calendar.window_periods)

    def start_of(self, index: int) -> date:
        """The first day of period `index` (0 = the oldest held; may be negative)."""
        back = self.n_periods - 1 - index
        if self.bucket == "week":
            return self.last_start - timedelta(days=7 * back)
        return _month_start(self.last_start, back)

    @property
    def window_first(self) -> int:
        """Index of the first period of the trailing window."""
        return self.n_periods - self.window_periods

    @property
    def window_start(self) -> date:
        """The first day of the trailing window."""
        return self.start_of(self.window_first)

    @property
    def window_end(self) -> date:
        """The last day of the trailing window (the last day of the latest complete period)."""
        return self.start_of(self.n_periods) - timedelta(days=1)

    def index_of(self, starts: NDArray[np.datetime64]) -> NDArray[np.int64]:
        """The held-period index of each date (negative before the span, >= n_periods after)."""
        starts = np.asarray(starts)
        if self.bucket == "month":
            months = starts.astype("datetime64[M]").view(np.int64)
            origin = np.datetime64(self.start_of(0), "M").view(np.int64)
            return months - origin
        unit = np.datetime_data(starts.dtype)[0]
        if unit not in _UNIT_PER_DAY:
            starts, unit = starts.astype("datetime64[s]"), "s"
        origin = np.datetime64(self.start_of(0), unit).view(np.int64)
        return (starts.view(np.int64) - origin) // (7 * _UNIT_PER_DAY[unit])
