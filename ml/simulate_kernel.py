"""Compiled steps of the inventory replay: one period's receipts, sales and reviews (numba).

The same arithmetic as :class:`ml.simulate._Replay`'s numpy steps, row by row in compiled code
(each row's numbers in the same order, so the figures are the numpy path's bit for bit), for
gamma lead times (scipy's own ``gammaincinv``). Orders in the pipeline are linked lists per
arrival step, first in first out, as the numpy path's lists per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ml.compiled_special import gammaincinv, link

__all__ = ["Pipeline", "replay_period"]

Array = NDArray[np.float64]
_LEAD_TIME_CAP_SDS = 8.0  # as ml.simulate: draws capped at mean + 8 sd
_NEVER = np.iinfo(np.int64).max  # the arrival step of no order


@dataclass
class Pipeline:
    """Orders on their way: per row a list of (arrival step, quantity) by arrival, first placed
    first among equal arrivals (the numpy path's lists per step)."""

    first: NDArray[np.int64]  # per row: its next order to arrive (-1: none)
    next_due: NDArray[np.int64]  # per row: that order's arrival step (no order: past the end)
    following: NDArray[np.int64]  # per order slot: the row's next order after it
    arrival: NDArray[np.int64]
    qty: Array
    used: int = 0  # order slots ever used; received ones are reused (a free list)
    free: int = -1  # the first reusable slot (-1: none)

    @classmethod
    def empty(cls, rows: int, capacity: int) -> Pipeline:
        """No order yet, room for ``capacity`` before the arrays grow."""
        return cls(
            np.full(rows, -1, dtype=np.int64),
            np.full(rows, _NEVER, dtype=np.int64),
            np.empty(capacity, dtype=np.int64),
            np.empty(capacity, dtype=np.int64),
            np.empty(capacity),
        )

    def room(self, more: int) -> None:
        """Grow the order arrays so ``more`` new orders fit."""
        if self.used + more <= self.qty.size:
            return
        size = max(2 * self.qty.size, self.used + more)
        for name in ("following", "arrival", "qty"):
            old = getattr(self, name)
            new = np.empty(size, dtype=old.dtype)
            new[: self.used] = old[: self.used]
            setattr(self, name, new)


@njit(cache=True)
def _lead_time(u: float, mean: float, sd: float) -> float:
    """The u-quantile of a gamma lead time (mean, sd), capped; sd 0 is fixed (lead_time_quantile)."""
    if not sd > 0.0:
        return mean
    shape = (mean / sd) * (mean / sd)
    draw = gammaincinv(shape, u, 0) * (sd * sd / mean)
    return min(draw, mean + _LEAD_TIME_CAP_SDS * sd)


@njit(cache=True)
def _period(
    first_step: int,
    k: int,
    measured: bool,
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
) -> tuple[int, int]:
    """Steps first_step .. first_step + k - 1, row by row (a row's state stays in registers for
    the period); the pipeline's used and free after. The order arrays must have room for k x
    rows more orders than ``used``; ``drawn_*`` (k x streams) start the period as NaN."""
    for i in range(d.size):
        hand, ordered, short_since = on_hand[i], on_order[i], short_since_receipt[i]
        wait, di, sales_sum, short_any = until_review[i], d[i], 0.0, False
        due_next = next_due[i]  # the pipeline is read only on the steps an order arrives
        for sub in range(k):
            step = first_step + sub
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
                if measured:
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
            col = streams[i]
            mean, sd = lead_mean[i], lead_sd[i]
            if drawn_mean[sub, col] == mean and drawn_sd[sub, col] == sd:
                lead = drawn[sub, col]
            else:
                lead = _lead_time(u[sub, 0, col], mean, sd)
                drawn_mean[sub, col], drawn_sd[sub, col], drawn[sub, col] = mean, sd, lead
            due = step + 1 + math.floor(lead + u[sub, 1, col])
            ordered += need
            if measured:
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
        on_hand[i], on_order[i], short_since_receipt[i] = hand, ordered, short_since
        until_review[i], sold[i], short_in_period[i] = wait, sales_sum, short_any
        next_due[i] = due_next
    return used, free


def replay_period(
    first_step: int,
    k: int,
    measured: bool,
    d: Array,
    u: Array,
    state: dict[str, NDArray],
    policy: dict[str, NDArray],
    pipeline: Pipeline,
) -> tuple[Array, NDArray[np.bool_]]:
    """One period of ``k`` steps for every row, updating ``state`` and ``pipeline`` in place;
    the period's sales and stockout flags per row. ``u`` is (k, 2, streams)."""
    link()
    n = d.size
    pipeline.room(k * n)  # at most one order per row and step
    sold = np.empty(n)
    short = np.empty(n, dtype=bool)
    drawn_mean = np.full(u.shape[::2], np.nan)  # k x streams: no lead time drawn yet
    pipeline.used, pipeline.free = _period(
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
        np.empty_like(drawn_mean),
        np.empty_like(drawn_mean),
    )
    return sold, short
