"""Compiled steps of the inventory replay: one period's receipts, sales and reviews (numba).

The same arithmetic as :class:`ml.simulate._Replay`'s numpy steps, row by row in compiled code
(each row's numbers in the same order, so the figures are the numpy path's bit for bit), for
gamma lead times (scipy's own ``gammaincinv``). Orders in the pipeline are linked lists per
arrival step, first in first out, as the numpy path's lists per step.

The rows run in parallel on numba's threads, in runs of whole random streams (a product's rows
in all stacked sets): a row's numbers depend only on its own state and its stream's random
numbers, and the lead time a stream's rows share is drawn within its run, so the figures are
the same for any number of runs or threads. Each run keeps its own order slots (a row of the
pipeline's arrays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import get_num_threads, njit, parallel_chunksize, prange
from numpy.typing import NDArray

from ml.compiled_special import gammaincinv, link

__all__ = ["PERIODS_PER_CALL", "Pipeline", "Runs", "most_orders", "replay_periods", "work_array"]

Array = NDArray[np.float64]
_LEAD_TIME_CAP_SDS = 8.0  # as ml.simulate: draws capped at mean + 8 sd
_NEVER = np.iinfo(np.int64).max  # the arrival step of no order
RUNS_PER_THREAD = 16  # runs of rows per numba thread, taken one at a time
PERIODS_PER_CALL = 5  # periods a row is replayed for with its state in registers


@dataclass
class Pipeline:
    """Orders on their way: per row a list of (arrival step, quantity) by arrival, first placed
    first among equal arrivals (the numpy path's lists per step). Each run of rows has its own
    order slots (row ``c`` of ``following``, ``arrival``, ``qty``); slot numbers are the run's."""

    first: NDArray[np.int64]  # per row: its next order to arrive (-1: none)
    next_due: NDArray[np.int64]  # per row: that order's arrival step (no order: past the end)
    following: NDArray[np.int64]  # per run and order slot: the row's next order after it
    arrival: NDArray[np.int64]
    qty: Array
    used: NDArray[np.int64]  # per run: order slots ever used; received ones are reused
    free: NDArray[np.int64]  # per run: the first reusable slot (-1: none)

    @classmethod
    def empty(cls, rows: int, runs: int, capacity: int) -> Pipeline:
        """No order yet, room for ``capacity`` orders per run before the arrays grow."""
        return cls(
            np.full(rows, -1, dtype=np.int64),
            np.full(rows, _NEVER, dtype=np.int64),
            np.empty((runs, capacity), dtype=np.int64),
            np.empty((runs, capacity), dtype=np.int64),
            np.empty((runs, capacity)),
            np.zeros(runs, dtype=np.int64),
            np.full(runs, -1, dtype=np.int64),
        )

    def room(self, more: NDArray[np.int64]) -> None:
        """Grow the order arrays so ``more[c]`` new orders fit in every run ``c``."""
        size = self.qty.shape[1]
        needed = int((self.used + more).max(initial=0))
        if needed <= size:
            return
        size = max(2 * size, needed)
        for name in ("following", "arrival", "qty"):
            old = getattr(self, name)
            new = np.empty((old.shape[0], size), dtype=old.dtype)
            new[:, : old.shape[1]] = old
            setattr(self, name, new)


@dataclass(frozen=True)
class Runs:
    """The rows cut into runs of whole random streams: run ``c`` is rows
    ``rows[start[c]:start[c + 1]]``, ascending."""

    rows: NDArray[np.int64]
    start: NDArray[np.int64]

    @classmethod
    def of(cls, streams: NDArray[np.int64], n_streams: int, runs: int | None = None) -> Runs:
        """``runs`` runs of consecutive streams (about n_streams / runs each; default sixteen per
        numba thread, ``RUNS_PER_THREAD``), at least one."""
        runs = max(int(RUNS_PER_THREAD * get_num_threads() if runs is None else runs), 1)
        run = streams.astype(np.int64) * runs // max(n_streams, 1)
        parts = [np.flatnonzero(run == c) for c in range(runs)]  # a few passes, no sort
        start = np.zeros(runs + 1, dtype=np.int64)
        np.cumsum([p.size for p in parts], out=start[1:])
        return cls(np.concatenate(parts).astype(np.int64), start)

    @property
    def sizes(self) -> NDArray[np.int64]:
        """Rows per run."""
        return np.diff(self.start)


@njit(cache=True)
def _lead_time(u: float, mean: float, sd: float) -> float:
    """The u-quantile of a gamma lead time (mean, sd), capped; sd 0 is fixed (lead_time_quantile)."""
    if not sd > 0.0:
        return mean
    shape = (mean / sd) * (mean / sd)
    draw = gammaincinv(shape, u, 0) * (sd * sd / mean)
    return min(draw, mean + _LEAD_TIME_CAP_SDS * sd)


@njit(cache=True)
def _run_period(
    rows: NDArray[np.int64],
    first_step: int,
    k: int,
    measured: NDArray[np.bool_],
    n_steps: int,
    d: Array,
    u: Array,
    on_hand: Array,
    on_order: Array,
    short_since_receipt: NDArray[np.bool_],
    until_review: NDArray[np.int64],
    review_steps: NDArray[np.int64],
    s: Array,
    q: Array,
    order_up_to: NDArray[np.bool_],
    moq: Array,
    pack: Array,
    has_moq: bool,
    has_pack: bool,
    lead_mean: Array,
    lead_sd: Array,
    streams: NDArray[np.int64],
    first: NDArray[np.int64],
    next_due: NDArray[np.int64],
    following: NDArray[np.int64],
    arrival: NDArray[np.int64],
    order_qty: Array,
    used: int,
    free: int,
    cycles: NDArray[np.int64],
    short_cycles: NDArray[np.int64],
    orders: NDArray[np.int64],
    sold: Array,
    short_in_period: NDArray[np.bool_],
    drawn_mean: Array,
    drawn_sd: Array,
    drawn: Array,
    totals: NDArray[np.float64],
    counts: NDArray[np.int64],
) -> tuple[int, int]:
    """The periods of ``measured`` (a flag per period), k steps each from ``first_step``, for
    one run's ``rows``, row by row (a row's state stays in registers for all the periods); the
    run's used and free after. The run's order arrays must have room for every order the rows
    can place (one per review); ``drawn_*`` (steps x streams) start as NaN. ``d`` is each
    period's demand per step and stream (row i's: ``d[p, streams[i]]``), ``u`` (steps, 2,
    streams); ``sold`` and ``short_in_period`` (periods x rows) get each period's sales and
    stockout flag. In a measured period the row's demand, sales and end-of-period stock are
    added to ``totals`` (3 x rows) and its stockout periods, current and longest stockout run to
    ``counts``."""
    for i in rows:
        hand, ordered, short_since = on_hand[i], on_order[i], short_since_receipt[i]
        wait, col = until_review[i], streams[i]
        due_next = next_due[i]  # the pipeline is read only on the steps an order arrives
        for p in range(measured.size):
            di, sales_sum, short_any = d[p, col], 0.0, False
            for sub in range(k):
                t = p * k + sub  # the step within this call
                step = first_step + t
                # 1. receipts: the row's orders due now, in the order they were placed
                if due_next == step:
                    j = first[i]
                    while j >= 0 and arrival[j] == step:
                        hand += order_qty[j]
                        ordered -= order_qty[j]
                        after = following[j]
                        following[j] = free
                        free = j
                        j = after
                    first[i] = j
                    due_next = arrival[j] if j >= 0 else _NEVER
                    # a replenishment cycle ends
                    if measured[p]:
                        cycles[i] += 1
                        if short_since:
                            short_cycles[i] += 1
                    short_since = False
                # 2. demand: sales from stock, the rest lost
                sales = min(hand, di)
                hand -= sales
                if di - sales > 1e-9 * max(di, 1.0):
                    short_since = True
                    short_any = True
                sales_sum += sales
                # 3. review at the end of the step, when (step + 1) % review_steps == 0 (counted down)
                wait -= 1
                if wait > 0:
                    continue
                wait = review_steps[i]
                position = hand + ordered
                need = 0.0
                if order_up_to[i]:
                    if s[i] > position:
                        need = s[i] - position
                        if has_moq and need > 0.0:
                            need = need if need >= moq[i] else moq[i]
                            if math.isnan(moq[i]):  # np.maximum propagates NaN
                                need = np.nan
                        if has_pack and need > 0.0 and np.isfinite(pack[i]) and pack[i] > 0.0:
                            need = math.ceil(need / pack[i]) * pack[i]
                elif q[i] > 0.0 and position <= s[i]:
                    need = (math.floor((s[i] - position) / q[i]) + 1.0) * q[i]
                if not need > 0.0:
                    continue
                # 4. lead time from this step's random numbers of the row's stream; the stream's rows
                # (one product in several stacked sets) with one mean and sd draw it once
                mean, sd = lead_mean[i], lead_sd[i]
                if drawn_mean[t, col] == mean and drawn_sd[t, col] == sd:
                    lead = drawn[t, col]
                else:
                    lead = _lead_time(u[t, 0, col], mean, sd)
                    drawn_mean[t, col], drawn_sd[t, col], drawn[t, col] = mean, sd, lead
                due = step + 1 + math.floor(lead + u[t, 1, col])
                ordered += need
                if measured[p]:
                    orders[i] += 1
                if due >= n_steps:  # due after the last step: on order for good
                    continue
                slot = free
                if slot >= 0:
                    free = following[slot]
                else:
                    slot = used
                    used += 1
                arrival[slot], order_qty[slot] = due, need
                before, j = -1, first[i]
                while j >= 0 and arrival[j] <= due:  # after the orders due no later
                    before, j = j, following[j]
                following[slot] = j
                if before < 0:
                    first[i] = slot
                    due_next = due
                else:
                    following[before] = slot
            sold[p, i], short_in_period[p, i] = sales_sum, short_any
            if measured[p]:  # the period's totals, as ml.simulate._Replay.measure adds them
                totals[0, i] += di * k
                totals[1, i] += sales_sum
                totals[2, i] += hand
                if short_any:
                    counts[0, i] += 1
                    counts[1, i] += 1
                else:
                    counts[1, i] = 0
                counts[2, i] = max(counts[2, i], counts[1, i])
        on_hand[i], on_order[i], short_since_receipt[i] = hand, ordered, short_since
        until_review[i], next_due[i] = wait, due_next
    return used, free


@njit(cache=True, parallel=True)
def _period(
    run_rows: NDArray[np.int64],
    run_start: NDArray[np.int64],
    first_step: int,
    k: int,
    measured: NDArray[np.bool_],
    n_steps: int,
    d: Array,
    u: Array,
    on_hand: Array,
    on_order: Array,
    short_since_receipt: NDArray[np.bool_],
    until_review: NDArray[np.int64],
    review_steps: NDArray[np.int64],
    s: Array,
    q: Array,
    order_up_to: NDArray[np.bool_],
    moq: Array,
    pack: Array,
    has_moq: bool,
    has_pack: bool,
    lead_mean: Array,
    lead_sd: Array,
    streams: NDArray[np.int64],
    first: NDArray[np.int64],
    next_due: NDArray[np.int64],
    following: NDArray[np.int64],
    arrival: NDArray[np.int64],
    order_qty: Array,
    used: NDArray[np.int64],
    free: NDArray[np.int64],
    cycles: NDArray[np.int64],
    short_cycles: NDArray[np.int64],
    orders: NDArray[np.int64],
    sold: Array,
    short_in_period: NDArray[np.bool_],
    drawn_mean: Array,
    drawn_sd: Array,
    drawn: Array,
    totals: NDArray[np.float64],
    counts: NDArray[np.int64],
) -> None:
    """:func:`_run_period` for every run, the runs in parallel (each with its own order slots:
    row ``c`` of the order arrays, ``used[c]``, ``free[c]``, updated in place)."""
    for c in prange(run_start.size - 1):
        used[c], free[c] = _run_period(
            run_rows[run_start[c] : run_start[c + 1]],
            first_step,
            k,
            measured,
            n_steps,
            d,
            u,
            on_hand,
            on_order,
            short_since_receipt,
            until_review,
            review_steps,
            s,
            q,
            order_up_to,
            moq,
            pack,
            has_moq,
            has_pack,
            lead_mean,
            lead_sd,
            streams,
            first,
            next_due,
            following[c],
            arrival[c],
            order_qty[c],
            used[c],
            free[c],
            cycles,
            short_cycles,
            orders,
            sold,
            short_in_period,
            drawn_mean,
            drawn_sd,
            drawn,
            totals,
            counts,
        )


def most_orders(runs: Runs, review_steps: NDArray[np.int64], steps: int) -> NDArray[np.int64]:
    """Per run: the most orders its rows can place in ``steps`` steps (one per review)."""
    per_row = -(-steps // review_steps[runs.rows])  # ceil(steps / review steps)
    total = np.concatenate(([0], np.cumsum(per_row)))
    return total[runs.start[1:]] - total[runs.start[:-1]]


def replay_periods(
    first_step: int,
    k: int,
    measured: NDArray[np.bool_],
    d: Array,
    u: Array,
    state: dict[str, NDArray],
    policy: dict[str, NDArray],
    pipeline: Pipeline,
    runs: Runs,
    scratch: dict[str, NDArray] | None = None,
) -> tuple[Array, NDArray[np.bool_]]:
    """The periods of ``measured`` (one flag each; k steps each) for every row, updating
    ``state`` and ``pipeline`` in place; each period's sales and stockout flags per row
    (periods x rows). ``d`` is each period's demand per step and random stream (periods x
    streams), ``u`` (periods x k, 2, streams); ``runs`` cut the rows into runs of whole
    streams, replayed in parallel. A measured period adds to the state's ``totals`` and
    ``counts`` (see :func:`_run_period`). ``scratch`` (a dict kept by the caller across calls)
    holds the work arrays for the next call of the same shape: fresh memory is page-faulted and
    zeroed by the kernel, which cost ~15% of a backtest's time. The arrays returned are then
    overwritten by the next call."""
    link()
    n = policy["streams"].size
    steps = measured.size * k
    pipeline.room(most_orders(runs, policy["review_steps"], steps))
    work = _work_arrays({} if scratch is None else scratch, measured.size, n, u.shape[::2])
    sold, short, drawn_mean = work["sold"], work["short"], work["drawn_mean"]
    drawn_mean.fill(np.nan)  # steps x streams: no lead time drawn yet
    with parallel_chunksize(1):  # a run per thread at a time: a busy core holds up less
        _period(
            runs.rows,
            runs.start,
            first_step,
            k,
            measured,
            int(policy["n_steps"]),
            d,
            u,
            state["on_hand"],
            state["on_order"],
            state["short_since_receipt"],
            state["until_review"],
            policy["review_steps"],
            policy["s"],
            policy["q"],
            policy["order_up_to"],
            policy["moq"],
            policy["pack"],
            bool(policy["has_moq"]),
            bool(policy["has_pack"]),
            policy["lead_mean"],
            policy["lead_sd"],
            policy["streams"],
            pipeline.first,
            pipeline.next_due,
            pipeline.following,
            pipeline.arrival,
            pipeline.qty,
            pipeline.used,
            pipeline.free,
            state["cycles"],
            state["short_cycles"],
            state["orders"],
            sold,
            short,
            drawn_mean,
            work["drawn_sd"],
            work["drawn"],
            state["totals"],
            state["count_rows"],
        )
    return sold, short


def work_array(
    scratch: dict[str, NDArray], name: str, shape: tuple[int, ...], dtype: type = np.float64
) -> NDArray:
    """``scratch[name]`` when it has this shape, else a new uninitialised array kept there."""
    if name not in scratch or scratch[name].shape != shape:
        scratch[name] = np.empty(shape, dtype=dtype)
    return scratch[name]


def _work_arrays(
    scratch: dict[str, NDArray], periods: int, rows: int, steps_streams: tuple[int, ...]
) -> dict[str, NDArray]:
    """The kernel's output and scratch arrays for this shape, kept in ``scratch`` for reuse."""
    work_array(scratch, "sold", (periods, rows))
    work_array(scratch, "short", (periods, rows), np.bool_)
    for name in ("drawn_mean", "drawn_sd", "drawn"):
        work_array(scratch, name, steps_streams)
    return scratch
