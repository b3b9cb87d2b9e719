"""Calendar periods of the demand table: which are complete on a date, and their start days.

The same rule as the feature derivation: a week (Monday to Sunday) is complete on its Sunday, a
month on its last day; the demand table's ``period_start`` is the Monday or the 1st.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

__all__ = ["last_complete_period", "period_index", "period_starts", "shift_period"]


def _month(d: date, months: int) -> date:
    m = d.year * 12 + d.month - 1 + months
    return date(m // 12, m % 12 + 1, 1)


def last_complete_period(as_of: date, bucket: str) -> date:
    """The start of the latest period complete on ``as_of`` (week: Monday; month: the 1st)."""
    if bucket == "week":
        monday = as_of - timedelta(days=as_of.weekday())
        return monday if as_of.weekday() == 6 else monday - timedelta(days=7)
    first = as_of.replace(day=1)
    return first if (as_of + timedelta(days=1)).day == 1 else _month(first, -1)


def shift_period(start: date, periods: int, bucket: str) -> date:
    """The start of the period ``periods`` after (negative: before) the one starting ``start``."""
    if bucket == "week":
        return start + timedelta(days=7 * periods)
    return _month(start, periods)


def period_starts(first: date, n: int, bucket: str) -> list[date]:
    """The starts of ``n`` consecutive periods from ``first``."""
    return [shift_period(first, i, bucket) for i in range(n)]


def period_index(starts: NDArray[np.datetime64], first: date, bucket: str) -> NDArray[np.int64]:
    """Each period start's position counted from the period starting ``first`` (may be < 0)."""
    values = np.asarray(starts).astype("datetime64[D]")
    if bucket == "week":
        return (values - np.datetime64(first, "D")).astype(np.int64) // 7
    months = values.astype("datetime64[M]").astype(np.int64)
    return months - np.datetime64(first, "M").astype(np.int64)
