"""The synthetic company's file plumbing: its history calendar, codes, and csv/parquet writers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

__all__ = [
    "HISTORY_END",
    "HistoryCalendar",
    "codes",
    "history_calendar",
    "supplier_codes",
    "write_csv",
    "write_table",
]

HISTORY_END = date(2026, 11, 2)  # the Monday after the last day of history


@dataclass(frozen=True)
class HistoryCalendar:
    """Days of the history (day 0 = its first Monday) and the months they fall in."""

    start: date
    n_days: int
    months: list[str]  # YYYY-MM of every month touched
    month_of_day: np.ndarray

    def labels(
        self, day: np.ndarray, fmt: str = "%Y-%m-%d", valid: np.ndarray | None = None
    ) -> pa.Array:
        """Formatted dates for day indices (null where not valid), via a small label table."""
        day = np.asarray(day, dtype=np.int64)
        lo = int(day.min(initial=0))
        hi = int(day.max(initial=0))
        table = pa.array(
            [(self.start + timedelta(days=d)).strftime(fmt) for d in range(lo, hi + 1)]
        )
        return table.take(pa.array(day - lo, mask=None if valid is None else ~valid))


def history_calendar(n_weeks: int) -> HistoryCalendar:
    """The calendar of `n_weeks` weeks of history ending the day before HISTORY_END."""
    start = HISTORY_END - timedelta(weeks=n_weeks)
    n_days = 7 * n_weeks
    stamps = [(start + timedelta(days=d)).strftime("%Y-%m") for d in range(n_days)]
    months = sorted(set(stamps))
    index = {m: i for i, m in enumerate(months)}
    return HistoryCalendar(start, n_days, months, np.array([index[m] for m in stamps]))


def codes(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """prefix + zero-padded numbers, as an arrow string array."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def supplier_codes(supplier: np.ndarray) -> pa.Array:
    """The supplier id of each supplier index (0 -> SUP0001)."""
    return codes("SUP", supplier + 1, 4)


def write_csv(table: pa.Table, path: Path, delimiter: str = ",") -> Path:
    """Plain csv: unquoted header and values (generated values never hold the delimiter)."""
    options = pcsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="none")
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((delimiter.join(table.column_names) + "\n").encode())
        pcsv.write_csv(table, sink, options)
    return path


def write_table(table: pa.Table, path: Path, delimiter: str | None) -> Path:
    """The table as csv with `delimiter`, or as parquet when the delimiter is None."""
    if delimiter is not None:
        return write_csv(table, path, delimiter)
    pq.write_table(table, path)
    return path
