"""Demand record batches added into dense product x period arrays: the DemandHistory."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from features.dense_ops import for_row_blocks, scatter_add, strictly_increasing
from features.key_index import KeyIndex
from features.period_grid import PeriodGrid
from ml import columns as C
from ml.demand_stats import first_positive_column, last_positive_column

__all__ = ["RETURN_KINDS", "SALE", "DemandAccumulator", "DemandHistory"]

SALE = "sale"
RETURN_KINDS = ("return", "cancellation")


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
        increasing = strictly_increasing(cell)
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


def _and(mask: NDArray[np.bool_] | None, other: NDArray[np.bool_]) -> NDArray[np.bool_]:
    return other if mask is None else mask & other


def _pick(values: NDArray, rows: NDArray[np.bool_] | None) -> NDArray:
    return values if rows is None else values[rows]


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
