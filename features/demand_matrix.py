"""The demand table read into a DemandHistory: from a frame, record batches or a parquet file."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.demand_accumulator import DemandAccumulator, DemandHistory
from features.key_index import KeyIndex
from features.period_grid import PeriodGrid
from ml import columns as C
from ml.errors import StrataError

__all__ = [
    "demand_history_from_batches",
    "demand_history_from_frame",
    "demand_history_from_parquet",
]


def _capacity_hint(rows: int, grid: PeriodGrid) -> int:
    """A first guess of the number of keys: one row per key and held period.

    Too much costs only address space (untouched zero pages); too little grows by half.
    """
    return max(1024, rows // max(grid.n_periods, 1))


def demand_history_from_batches(
    batches: Iterable[pa.RecordBatch],
    grid: PeriodGrid,
    keys: KeyIndex,
    capacity: int = 1024,
    promo: bool = True,
    workers: int = 1,
) -> DemandHistory:
    """Accumulate record batches of the demand table into a DemandHistory.

    With workers > 1, that many batches are prepared at once on threads (numpy and Arrow
    release the GIL); at most 2 x workers batches are in flight.
    """
    acc = DemandAccumulator(grid, keys, capacity=capacity, promo=promo)
    if workers <= 1:
        for batch in batches:
            acc.add(batch)
        return acc.result()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        flight: deque[Future[None]] = deque()
        for batch in batches:
            flight.append(pool.submit(acc.add_coded, acc.coded(batch)))
            if len(flight) >= 2 * workers:
                flight.popleft().result()
        while flight:
            flight.popleft().result()
    return acc.result(workers)


def demand_history_from_frame(
    demand: pd.DataFrame, grid: PeriodGrid, keys: KeyIndex, promo: bool = True, workers: int = 1
) -> DemandHistory:
    """The DemandHistory of an in-memory demand table (the canonical `demand` columns)."""
    wanted = (C.SKU_ID, C.LOCATION_ID, C.PERIOD_START, C.KIND, C.QTY, C.REVENUE, C.COST)
    cols = [c for c in (*wanted, C.PROMO_QTY) if c in demand.columns]
    _require(demand, [C.SKU_ID, C.PERIOD_START, C.QTY, C.REVENUE], "demand")
    if keys.n_columns == 2:
        _require(demand, [C.LOCATION_ID], "demand")
    table = pa.Table.from_pandas(demand[cols], preserve_index=False)
    return demand_history_from_batches(
        table.to_batches(max_chunksize=1 << 20),
        grid,
        keys,
        capacity=keys.n + _capacity_hint(len(demand), grid),
        promo=promo,
        workers=workers,
    )


def demand_history_from_parquet(
    path: str | Path,
    grid: PeriodGrid,
    keys: KeyIndex | None = None,
    promo: bool = True,
    workers: int = 1,
) -> DemandHistory:
    """Stream a demand parquet (canonical `demand` columns) into a DemandHistory.

    Reads only the columns derivation needs, one row group at a time (decoded in a background
    thread while the previous one is added), so memory is the dense matrix plus a few row
    groups, whatever the file's size.
    """
    keys = keys or KeyIndex(1)
    present = set(pq.read_schema(path).names)
    text = [c for c in (C.SKU_ID, C.LOCATION_ID, C.KIND) if c in present]
    file = pq.ParquetFile(path, read_dictionary=text)
    key_cols = [C.SKU_ID, C.LOCATION_ID][: keys.n_columns]
    wanted = [*key_cols, C.PERIOD_START, C.QTY, C.REVENUE]
    missing = [c for c in wanted if c not in present]
    if missing:
        raise StrataError(
            f"{path}: the demand parquet lacks column(s) {', '.join(missing)}; it needs "
            f"{', '.join(wanted)} (see docs/architecture.md, canonical tables)"
        )
    optional = [c for c in (C.KIND, C.COST, C.PROMO_QTY) if c in present]
    meta = file.metadata
    rows_per_group = max(
        (meta.row_group(i).num_rows for i in range(meta.num_row_groups)), default=1
    )
    batches = file.iter_batches(batch_size=max(rows_per_group, 1), columns=wanted + optional)
    capacity = keys.n + _capacity_hint(meta.num_rows, grid)
    return demand_history_from_batches(
        _prefetched(batches), grid, keys, capacity=capacity, promo=promo, workers=workers
    )


def _prefetched(batches: Iterator[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Yield `batches`, decoding the next ones in a background thread (Arrow frees the GIL)."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    done, stop = object(), threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                slots.put(batch)
            slots.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(exc)

    worker = threading.Thread(target=produce, name="parquet-prefetch", daemon=True)
    worker.start()
    try:
        while (item := slots.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.01)


def _require(frame: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise StrataError(
            f"table {table!r} lacks column(s) {', '.join(missing)}; it has "
            f"{', '.join(map(str, frame.columns))}. Rebuild the canonical tables "
            "(`strata features build`)"
        )
