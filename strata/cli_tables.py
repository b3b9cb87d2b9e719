"""The console and the per-refresh rows of the `strata runs` tables (history, monitoring, actions)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["log_console", "refresh_cells"]


def log_console() -> Any:
    """A rich console; in a log file or a pipe (no width to fit) at least 170 wide: rows whole."""
    from rich.console import Console

    console = Console(soft_wrap=True, highlight=False)
    if not console.is_terminal:
        console = Console(soft_wrap=True, highlight=False, width=max(console.width, 170))
    return console


def refresh_cells(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], cell: Callable[[str, Any], str]
) -> Iterator[list[str]]:
    """Each row's cells by `cell(column, value)`, the refresh id only on a refresh's first row."""
    shown_id = None
    for row in rows:
        cells = []
        for col in columns:
            value = row[col]
            if col == "refresh_id" and value == shown_id:
                cells.append("")
                continue
            shown_id = value if col == "refresh_id" else shown_id
            cells.append(cell(col, value))
        yield cells
