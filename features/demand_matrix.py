"""The bucketed demand table as dense product x period arrays, built batch by batch.

Derivation turns the long `demand` table (one row per key x period x kind, zero periods not
stored) into a dense float32 matrix of units sold per key and period, plus per-key sums over
the trailing window. Rows arrive as Arrow record batches, so the same code serves an in-memory
table (`demand_history_from_frame`) and a parquet file far larger than memory
(`demand_history_from_parquet`, streamed one row group at a time).

Point in time: a bucketed row is known at the end of its period, so only periods that are
complete on `as_of` are held. The latest held period is the one containing `as_of` when `as_of`
is its last day (a Sunday, a month end), otherwise the one before it; rows of later periods are
dropped on arrival. Rows older than the held span still count for the first-ever sale.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from ml import columns as C
from ml.config import Calendar, FeaturesConfig
from ml.demand_stats import first_positive_column, last_positive_column
from ml.errors import StrataError

__all__ = [
    "RETURN_KINDS",
    "SALE",
    "DemandAccumulator",
    "DemandHistory",
    "KeyIndex",
    "PeriodGrid",
    "demand_history_from_batches",
    "demand_history_from_frame",
    "demand_history_from_parquet",
    "for_row_blocks",
    "history_periods",
    "scatter_add",
]

SALE = "sale"
RETURN_KINDS = ("return", "cancellation")
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
    """The `n_periods` complete periods held, ending with the latest complete one at `as_of`."""

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


class KeyIndex:
    """Stable integer codes for keys (sku, or sku x location), in order of first sight.

    Vectorised: keys are hashed (pandas.util.hash_array) and looked up in a sorted hash array;
    a hash collision between two different keys raises rather than merging them.
    """

    def __init__(self, n_columns: int = 1) -> None:
        self.n_columns = n_columns
        self._hashes = np.empty(0, dtype=np.uint64)
        self._codes = np.empty(0, dtype=np.int64)
        self._keys = [np.empty(1024, dtype=object) for _ in range(n_columns)]
        self.n = 0

    def _hash(self, columns: Sequence[NDArray[np.object_]]) -> NDArray[np.uint64]:
        h = pd.util.hash_array(np.asarray(columns[0], dtype=object), categorize=False)
        for col in columns[1:]:
            more = pd.util.hash_array(np.asarray(col, dtype=object), categorize=False)
            h = h * np.uint64(1_000_003) ^ more
        return h

    def codes(self, *columns: NDArray[np.object_], distinct: bool = False) -> NDArray[np.int64]:
        """The code of each key (one array per key column); unseen keys get the next codes.

        `distinct=True` promises the keys are already distinct (an Arrow dictionary), which
        skips de-duplication.
        """
        if len(columns) != self.n_columns:
            raise ValueError(f"KeyIndex holds {self.n_columns} key column(s), got {len(columns)}")
        h = self._hash(columns)
        if distinct:
            order = np.argsort(h)
            uniq, first = h[order], order
            inverse = np.empty(len(h), dtype=np.int64)
            inverse[order] = np.arange(len(h))
        else:
            uniq, first, inverse = np.unique(h, return_index=True, return_inverse=True)
        pos = np.searchsorted(self._hashes, uniq)
        found = pos < len(self._hashes)
        found[found] = self._hashes[pos[found]] == uniq[found]
        out = np.empty(len(uniq), dtype=np.int64)
        out[found] = self._codes[pos[found]]
        self._check_same(out[found], [np.asarray(c, dtype=object)[first[found]] for c in columns])
        new = np.flatnonzero(~found)
        if len(new):
            # codes in order of first sight; the sorted hash table gets the new hashes merged in
            by_sight = new[np.argsort(first[new], kind="stable")]
            out[by_sight] = np.arange(self.n, self.n + len(new))
            self._store([np.asarray(c, dtype=object)[first[by_sight]] for c in columns])
            slots = pos[new] + np.arange(len(new))
            old = np.ones(len(self._hashes) + len(new), dtype=bool)
            old[slots] = False
            hashes = np.empty(len(old), dtype=np.uint64)
            codes = np.empty(len(old), dtype=np.int64)
            hashes[old], hashes[slots] = self._hashes, uniq[new]
            codes[old], codes[slots] = self._codes, out[new]
            self._hashes, self._codes = hashes, codes
        return out[inverse]

    def _check_same(self, codes: NDArray[np.int64], values: list[NDArray[np.object_]]) -> None:
        for keys, vals in zip(self._keys, values, strict=True):
            stored = keys[codes]
            same = (stored == vals) | (pd.isna(stored) & pd.isna(vals))
            if not np.all(same):
                i = int(np.flatnonzero(~same)[0])
                raise StrataError(
                    f"two keys share a 64-bit hash ({stored[i]!r} and {vals[i]!r}); rename one "
                    "of them (this should practically never happen)"
                )

    def _store(self, values: list[NDArray[np.object_]]) -> None:
        end = self.n + len(values[0])
        if end > len(self._keys[0]):
            size = max(end, 2 * len(self._keys[0]))
            for i, keys in enumerate(self._keys):
                grown = np.empty(size, dtype=object)
                grown[: self.n] = keys[: self.n]
                self._keys[i] = grown
        for keys, vals in zip(self._keys, values, strict=True):
            keys[self.n : end] = vals
        self.n = end

    def keys(self) -> list[NDArray[np.object_]]:
        """The key columns in code order (code i is row i)."""
        return [k[: self.n] for k in self._keys]


def scatter_add(
    target: NDArray[np.floating],
    index: NDArray[np.int64],
    weights: NDArray,
    increasing: bool | None = None,
) -> None:
    """target[index] += weights, summing repeated indices (target is 1-D, updated in place).

    Canonical tables are sorted by key and period, so a batch's indices usually increase
    strictly: then a plain fancy-index add is exact and fastest. Otherwise a bincount over the
    batch's index range, or ufunc.at when the batch is spread over a much wider range.
    `increasing` passes a check already made.
    """
    if len(index) == 0:
        return
    if increasing is None:
        increasing = _increasing(index)
    if increasing:
        target[index] += weights
        return
    lo, hi = int(index.min()), int(index.max())
    if hi - lo < 8 * len(index) + 4096:
        target[lo : hi + 1] += np.bincount(index - lo, weights=weights, minlength=hi - lo + 1)
    else:
        np.add.at(target, index, weights.astype(target.dtype, copy=False))


def _increasing(index: NDArray[np.int64]) -> bool:
    return len(index) < 2 or bool(np.all(index[1:] > index[:-1]))


@dataclass(frozen=True)
class DemandHistory:
    """Dense sale history per key plus window sums; row i is key code i.

    qty: units sold per held period (float32, keys x grid.n_periods, net negative cells
    clipped to 0). promo_qty: units sold on promotion per period, or None when the table has no
    promo_qty column. first_sale / last_sale: period index of the first-ever / latest period
    with units sold (first may be negative: before the held span), valid where has_sale.
    The window sums are over kind=sale rows of the trailing window, except returned_qty
    (absolute units of return and cancellation rows in the window).
    """

    grid: PeriodGrid
    keys: list[NDArray[np.object_]]
    qty: NDArray[np.float32]
    promo_qty: NDArray[np.float32] | None
    has_sale: NDArray[np.bool_]
    first_sale: NDArray[np.int64]
    last_sale: NDArray[np.int64]
    revenue: NDArray[np.float64]
    cost_known: NDArray[np.float64]
    qty_cost_known: NDArray[np.float64]
    revenue_cost_unknown: NDArray[np.float64]
    qty_cost_unknown: NDArray[np.float64]
    returned_qty: NDArray[np.float64]

    @property
    def n(self) -> int:
        """Number of keys (rows)."""
        return self.qty.shape[0]


_SUMS = (
    "revenue",
    "qty_sold",
    "cost_known",
    "revenue_cost_unknown",
    "qty_cost_unknown",
    "returned_qty",
)


class DemandAccumulator:
    """Adds record batches of the bucketed demand table into a DemandHistory.

    Columns read: sku_id (+ location_id when the key index has two columns), period_start,
    qty, revenue, and when present cost (nullable), promo_qty and kind (absent kind = all
    sales). Capacity grows as keys appear; untouched capacity is never written, so it costs
    address space, not memory.
    """

    def __init__(
        self, grid: PeriodGrid, keys: KeyIndex, capacity: int = 1024, promo: bool = True
    ) -> None:
        self.grid = grid
        self.keys = keys
        self.promo = promo
        self._cap = 0
        self._qty = np.zeros((0, grid.n_periods), dtype=np.float32)
        self._promo: NDArray[np.float32] | None = None
        self._pre_first = np.zeros(0, dtype=np.int64)
        self._pre_last = np.zeros(0, dtype=np.int64)
        self._sums = {name: np.zeros(0) for name in _SUMS}
        self._key_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._grow(max(capacity, keys.n, 1))

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, int(self._cap * 1.5))
        p = self.grid.n_periods

        def grown(old: NDArray, shape: tuple[int, ...], fill: float = 0) -> NDArray:
            new = np.zeros(shape, dtype=old.dtype) if fill == 0 else np.full(shape, fill, old.dtype)
            new[: len(old)] = old
            return new

        self._qty = grown(self._qty, (cap, p))
        if self._promo is not None:
            self._promo = grown(self._promo, (cap, p))
        big = np.iinfo(np.int64).max
        self._pre_first = grown(self._pre_first, (cap,), big)
        self._pre_last = grown(self._pre_last, (cap,), -big)
        self._sums = {k: grown(v, (cap,)) for k, v in self._sums.items()}
        self._cap = cap

    def _row_codes(self, batch: pa.RecordBatch | pa.Table) -> NDArray[np.int64]:
        names = [C.SKU_ID, C.LOCATION_ID][: self.keys.n_columns]
        encoded = [_dictionary(batch.column(name)) for name in names]
        if len(encoded) == 1:
            values, idx = encoded[0]
            return self.keys.codes(values, distinct=True)[idx]
        (v1, i1), (v2, i2) = encoded
        pair = i1.astype(np.int64) * len(v2) + i2
        uniq, inverse = np.unique(pair, return_inverse=True)
        return self.keys.codes(v1[uniq // len(v2)], v2[uniq % len(v2)])[inverse]

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Accumulate one batch of demand rows (rows of periods after the grid are dropped)."""
        self.add_coded(self.coded(batch))

    def coded(self, batch: pa.RecordBatch | pa.Table) -> _Coded | None:
        """The batch without rows after the grid, with its period indices and key codes.

        Call in batch order: key codes are given in order of first sight.
        """
        if batch.num_rows == 0:
            return None
        p = self.grid.n_periods
        period = self.grid.index_of(_numpy(batch.column(C.PERIOD_START)))
        if period.max() >= p:
            keep = period < p
            batch, period = batch.filter(pa.array(keep)), period[keep]
            if batch.num_rows == 0:
                return None
        with self._key_lock:
            code = self._row_codes(batch)
            n_keys = self.keys.n
        return _Coded(batch, period, code, n_keys)

    def add_coded(self, coded: _Coded | None) -> None:
        """Add a coded batch; thread-safe (only the final additions are serialised)."""
        if coded is None:
            return
        adds = self._prepare(coded)
        with self._write_lock:
            self._apply(adds)

    def _prepare(self, coded: _Coded) -> _Additions:
        """Everything a batch adds, computed without touching the shared arrays."""
        batch, period, code, n_keys = coded.batch, coded.period, coded.code, coded.n_keys
        p = self.grid.n_periods
        earliest = int(period.min())
        qty = _numpy(batch.column(C.QTY), np.float64)
        sale = returned = None  # None: every row is a sale (no kind column)
        if C.KIND in batch.schema.names:
            kind = batch.column(C.KIND)
            sale = _numpy(pc.equal(kind, SALE), bool)
            returned = _numpy(pc.is_in(kind, pa.array(RETURN_KINDS)), bool)
        held = None if sale is None and earliest >= 0 else _and(sale, period >= 0)
        cell = _pick(code * p + period, held)
        increasing = _increasing(cell)
        promo = None
        if self.promo and C.PROMO_QTY in batch.schema.names:
            promo = _pick(_numpy(batch.column(C.PROMO_QTY), np.float64), held)
        pre = None
        if earliest < 0:
            rows = _and(sale, (period < 0) & (qty > 0))
            pre = (code[rows], period[rows])
        sums: list[tuple[str, NDArray[np.int64], NDArray[np.float64]]] = []
        if period.max() >= self.grid.window_first:
            ordered = (held is None and increasing) or bool(np.all(code[1:] >= code[:-1]))
            sums = self._window_sums(batch, code, qty, sale, returned, period, earliest, ordered)
        return _Additions(n_keys, cell, _pick(qty, held), promo, increasing, pre, sums)

    def _apply(self, adds: _Additions) -> None:
        self._grow(adds.n_keys)
        scatter_add(self._qty.reshape(-1), adds.cell, adds.qty, adds.increasing)
        if adds.promo is not None:
            if self._promo is None:
                self._promo = np.zeros_like(self._qty)
            scatter_add(self._promo.reshape(-1), adds.cell, adds.promo, adds.increasing)
        if adds.pre is not None:
            np.minimum.at(self._pre_first, *adds.pre)
            np.maximum.at(self._pre_last, *adds.pre)
        for name, index, values in adds.sums:
            scatter_add(self._sums[name], index, values)

    def _window_sums(
        self,
        batch: pa.RecordBatch | pa.Table,
        code: NDArray[np.int64],
        qty: NDArray[np.float64],
        sale: NDArray[np.bool_] | None,
        returned: NDArray[np.bool_] | None,
        period: NDArray[np.int64],
        earliest: int,
        ordered: bool,
    ) -> list[tuple[str, NDArray[np.int64], NDArray[np.float64]]]:
        """Per-key sums over the window: sales (slot 1) and returns/cancellations (slot 2)."""
        w0 = self.grid.window_first
        slot = None  # None: every row is a sale in the window
        if sale is not None or earliest < w0:
            in_window = period >= w0
            slot = _and(sale, in_window).view(np.int8)
            if returned is not None:
                slot = slot.copy()
                slot[returned & in_window] = 2
        revenue = _numpy(batch.column(C.REVENUE), np.float64)
        if C.COST in batch.schema.names:
            cost = _numpy(batch.column(C.COST), np.float64)
        else:
            cost = np.full(len(qty), np.nan)
        out: list[tuple[str, NDArray[np.int64], NDArray[np.float64]]] = []
        unknown = np.flatnonzero(np.isnan(cost))
        if len(unknown):
            # rows without a cost are few: summed apart, the rest counts as known cost
            mine = unknown if slot is None else unknown[slot[unknown] == 1]
            out += [
                ("revenue_cost_unknown", code[mine], revenue[mine]),
                ("qty_cost_unknown", code[mine], qty[mine]),
            ]
            cost = cost.copy() if not cost.flags.writeable else cost
            cost[unknown] = 0.0
        weights = [("revenue", revenue, 1), ("qty_sold", qty, 1), ("cost_known", cost, 1)]
        if returned is not None and returned.any():
            weights.append(("returned_qty", np.abs(qty), 2))
        return out + _slot_sums(code, slot, weights, ordered)

    def result(self, workers: int = 1) -> DemandHistory:
        """The history of every key seen (or seeded), row i = key code i."""
        self._grow(self.keys.n)
        n = self.keys.n
        qty = self._qty[:n]
        promo = None if self._promo is None else self._promo[:n]
        first_held = np.empty(n, dtype=np.int64)
        last_held = np.empty(n, dtype=np.int64)

        def finish(rows: slice) -> None:
            block = qty[rows]
            np.maximum(block, 0, out=block)  # a net negative period sold nothing
            if promo is not None:
                np.clip(promo[rows], 0, block, out=promo[rows])
            positive = block > 0
            first_held[rows] = first_positive_column(positive)
            last_held[rows] = last_positive_column(positive)

        for_row_blocks(n, finish, workers)
        big = np.iinfo(np.int64).max
        sums = {k: v[:n] for k, v in self._sums.items()}
        pre_first, pre_last = self._pre_first[:n], self._pre_last[:n]
        has_pre = pre_first != big
        first = np.where(has_pre, pre_first, first_held)
        last = np.where(last_held >= 0, last_held, np.where(has_pre, pre_last, -1))
        return DemandHistory(
            grid=self.grid,
            keys=self.keys.keys(),
            qty=qty,
            promo_qty=promo,
            has_sale=has_pre | (first_held >= 0),
            first_sale=first,
            last_sale=last,
            revenue=sums["revenue"],
            cost_known=sums["cost_known"],
            qty_cost_known=sums["qty_sold"] - sums["qty_cost_unknown"],
            revenue_cost_unknown=sums["revenue_cost_unknown"],
            qty_cost_unknown=sums["qty_cost_unknown"],
            returned_qty=sums["returned_qty"],
        )


def for_row_blocks(
    n: int, work: Callable[[slice], None], workers: int = 1, block_rows: int = 16_384
) -> None:
    """Call `work` on consecutive row slices covering 0..n, on `workers` threads.

    Blocks keep temporaries small (cache-friendly, few page faults); numpy releases the GIL in
    its loops, so threads share the work. Each call must write only its own rows.
    """
    blocks = [slice(i, min(i + block_rows, n)) for i in range(0, n, block_rows)]
    if workers <= 1 or len(blocks) <= 1:
        for rows in blocks:
            work(rows)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in pool.map(work, blocks):
            del done


def _and(mask: NDArray[np.bool_] | None, other: NDArray[np.bool_]) -> NDArray[np.bool_]:
    return other if mask is None else mask & other


def _pick(values: NDArray, rows: NDArray[np.bool_] | None) -> NDArray:
    return values if rows is None else values[rows]


def _add_by_key(target: NDArray, keys: NDArray[np.int64], values: NDArray) -> None:
    if len(keys) < 2 or bool(np.all(keys[1:] > keys[:-1])):
        target[keys] += values
    else:
        np.add.at(target, keys, values)


def _slot_sums(
    code: NDArray[np.int64],
    slot: NDArray[np.int8] | None,
    weights: Sequence[tuple[str, NDArray[np.float64], int]],
    ordered: bool,
) -> list[tuple[str, NDArray[np.int64], NDArray[np.float64]]]:
    """(name, keys, sums) of each weight over the rows of its slot (slot None = all in slot 1).

    Rows sorted by code (`ordered`, the usual case): one np.add.reduceat per weight over the
    runs of (code, slot), so only one sum per run is returned; otherwise the rows themselves.
    """
    if len(code) == 0:
        return []
    if not ordered:
        out = []
        for name, weight, wanted in weights:
            rows = None if slot is None else slot == wanted
            out.append((name, _pick(code, rows), _pick(weight, rows)))
        return out
    change = np.empty(len(code), dtype=bool)
    change[0] = True
    np.not_equal(code[1:], code[:-1], out=change[1:])
    if slot is not None:
        change[1:] |= slot[1:] != slot[:-1]
    starts = np.flatnonzero(change)
    keys = code[starts]
    run_slot = None if slot is None else slot[starts]
    out = []
    for name, weight, wanted in weights:
        run_sums = np.add.reduceat(weight, starts)
        if run_slot is None:
            out.append((name, keys, run_sums))
        else:
            mine = run_slot == wanted
            out.append((name, keys[mine], run_sums[mine]))
    return out


@dataclass(frozen=True)
class _Coded:
    """A batch cut to the grid, with each row's period index and key code."""

    batch: pa.RecordBatch | pa.Table
    period: NDArray[np.int64]
    code: NDArray[np.int64]
    n_keys: int


@dataclass(frozen=True)
class _Additions:
    """What one batch adds to the accumulator (computed unlocked, applied under a lock)."""

    n_keys: int
    cell: NDArray[np.int64]
    qty: NDArray[np.float64]
    promo: NDArray[np.float64] | None
    increasing: bool
    pre: tuple[NDArray[np.int64], NDArray[np.int64]] | None
    sums: list[tuple[str, NDArray[np.int64], NDArray[np.float64]]]


def _numpy(array: pa.Array | pa.ChunkedArray, dtype: type | None = None) -> NDArray:
    """A column as numpy: missing numbers become NaN, missing flags False."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if dtype is bool:
        return array.fill_null(False).to_numpy(zero_copy_only=False)
    out = array.to_numpy(zero_copy_only=False)
    return out if dtype is None else out.astype(dtype, copy=False)


def _dictionary(array: pa.Array | pa.ChunkedArray) -> tuple[NDArray[np.object_], NDArray]:
    """(distinct values as objects, index of each row into them)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array, null_encoding="encode")
    values = array.dictionary.to_numpy(zero_copy_only=False).astype(object)
    return values, array.indices.to_numpy(zero_copy_only=False)


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
