"""Replay a demand history through inventory policies, vectorised over products (pure kernel).

One loop over time steps; every product is a slot in the arrays. Demand comes per period (week or
month); each period is split into ``steps_per_period`` equal steps (7 for a week: days) with the
period's demand spread evenly over them, so continuous review is checked (nearly) continuously and
a 14-day review or a 10-day lead time means what it says even in a monthly workspace. Per step:

1. **Receipts.** Orders due at the start of the step are put on hand.
2. **Demand.** Sales are min(on hand, demand); the rest is **lost** (lost sales, as in retail
   fill-rate measurement: a customer who finds the shelf empty buys elsewhere, so unmet demand is
   not backordered and the inventory position never goes below zero).
3. **Review** at the end of the step: every step for continuous review (``review_period`` 0),
   else every ``round(review_period x steps_per_period)`` steps. The inventory position is on
   hand + on order:

   - ``order_up_to``: (R, S) — order S - position when positive, raised to the MOQ and rounded
     up to whole packs;
   - otherwise (s, nQ) — when the position is at or below s, order the smallest multiple of Q that
     lifts it above s: continuous review (s, Q), or (R, s, Q) for a periodic review.

4. **Lead time.** An order placed at the end of step j with lead time l (in steps; drawn from a
   gamma or lognormal with the product's mean and sd, fixed when the sd is 0) arrives at the start
   of step ``j + 1 + floor(l + u)``, u uniform on [0, 1): a stochastic rounding whose mean is
   exactly l, so a lead time of L whole steps exposes the order to L steps of demand, as the
   formulas assume. Orders may cross.

Random numbers are drawn per product and step whether or not the product orders (common random
numbers), so two policies replayed with the same seed see the same lead-time draws and their
difference is the policies', not the dice's. Several policy sets are replayed in one call by
stacking them as extra rows with ``demand_rows`` (each row's product: its demand row and its
random numbers): each set's figures are exactly those of replaying it alone, for one loop over
the steps instead of one per set. A warm-up history is replayed first and not measured,
so the stock starts in a realistic state; before it, on hand is s + Q (S for (R, S)) and nothing is
on order.

Measured per product over the window's periods: demand, sales, lost units, replenishment cycles
(closed by a receipt) and cycles with a stockout (lost sales before the receipt), mean on hand
at period end, stockout periods (periods with lost sales), the longest run of consecutive stockout
periods, and orders placed. With ``groups``, per period and group: demand, sales, on-hand value
at period end, products short.
Gamma lead times (the default) run the steps compiled, row by row for a period, in parallel runs
of whole random streams (:mod:`ml.simulate_kernel`, the same numbers bit for bit, for any number
of threads); lognormal ones run the numpy steps here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaincinv, ndtri

from ml.errors import StrataError
from ml.simulate_kernel import (
    PERIODS_PER_CALL,
    Pipeline,
    Runs,
    most_orders,
    replay_periods,
    work_array,
)

__all__ = [
    "LEAD_TIME_DISTRIBUTIONS",
    "GroupSeries",
    "ReplenishmentPolicy",
    "SimulationResult",
    "lead_time_quantile",
    "simulate_inventory",
]

Array = NDArray[np.float64]
LEAD_TIME_DISTRIBUTIONS = ("gamma", "lognormal")
_LEAD_TIME_CAP_SDS = 8.0  # draws are capped at mean + 8 sd (a 1e-8 tail for the gamma)
_COMPILED = ("gamma",)  # lead-time distributions replayed by ml.simulate_kernel's steps


@dataclass(frozen=True)
class ReplenishmentPolicy:
    """What each product replays: one entry per product, times in the demand's periods."""

    reorder_point: Array  # s for (s, nQ); the order-up-to level S when order_up_to
    order_qty: Array  # Q for (s, nQ); unused by order-up-to rows
    review_period: Array  # in periods; 0 = continuous review
    order_up_to: NDArray[np.bool_]
    lead_time: Array  # mean, > 0
    lead_time_sd: Array  # >= 0
    moq: Array | None = None  # order-up-to rows: orders raised to this
    pack_size: Array | None = None  # order-up-to rows: orders rounded up to whole packs

    @classmethod
    def of(
        cls,
        reorder_point: ArrayLike,
        order_qty: ArrayLike,
        review_period: ArrayLike,
        order_up_to: ArrayLike,
        lead_time: ArrayLike,
        lead_time_sd: ArrayLike = 0.0,
        moq: ArrayLike | None = None,
        pack_size: ArrayLike | None = None,
    ) -> ReplenishmentPolicy:
        """A policy from array-likes broadcast to one length; StrataError on impossible values."""
        arrays = np.broadcast_arrays(
            np.atleast_1d(np.asarray(reorder_point, dtype=np.float64)),
            np.asarray(order_qty, dtype=np.float64),
            np.asarray(review_period, dtype=np.float64),
            np.asarray(order_up_to, dtype=bool),
            np.asarray(lead_time, dtype=np.float64),
            np.asarray(lead_time_sd, dtype=np.float64),
        )
        s, q, r, up, lt, sd = (np.array(a) for a in arrays)
        n = s.size
        extra = [
            None if v is None else np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy()
            for v in (moq, pack_size)
        ]
        problems = []
        for name, values, ok in (
            ("reorder_point", s, np.isfinite(s) & (s >= 0)),
            ("order_qty", q, np.isfinite(q) & (q >= 0)),
            ("review_period", r, np.isfinite(r) & (r >= 0)),
            ("lead_time", lt, np.isfinite(lt) & (lt > 0)),
            ("lead_time_sd", sd, np.isfinite(sd) & (sd >= 0)),
        ):
            if not ok.all():
                i = int(np.flatnonzero(~ok)[0])
                problems.append(
                    f"{name} has {int((~ok).sum())} bad value(s), e.g. [{i}] = {values[i]!r}"
                )
        if problems:
            raise StrataError(
                "cannot simulate these policies: "
                + "; ".join(problems)
                + ". Simulate only valid policy rows (reorder point and order quantity >= 0, "
                "review period >= 0, lead time > 0, lead-time sd >= 0)"
            )
        return cls(s, q, r, up, lt, sd, extra[0], extra[1])

    @property
    def n(self) -> int:
        """Number of products."""
        return self.reorder_point.size


@dataclass(frozen=True)
class GroupSeries:
    """Per measured period (rows) and group (columns): sums over the group's products."""

    demand: Array
    sales: Array
    on_hand_value: Array
    products_short: NDArray[np.int64]


@dataclass(frozen=True)
class SimulationResult:
    """Per product totals over the measured window (one entry per product)."""

    periods: int
    demand: Array
    sales: Array
    lost: Array
    avg_on_hand: Array  # mean on hand at period end
    stockout_periods: NDArray[np.int64]
    longest_stockout: NDArray[np.int64]
    cycles: NDArray[np.int64]
    cycles_with_stockout: NDArray[np.int64]
    orders: NDArray[np.int64]
    groups: GroupSeries | None = field(default=None)
    period_sales: Array | None = field(default=None)  # products x periods, with record=True
    period_on_hand: Array | None = field(default=None)  # at period end
    period_short: NDArray[np.bool_] | None = field(default=None)  # lost sales in the period

    @property
    def fill_rate(self) -> Array:
        """Sales / demand per product (1 where nothing was demanded)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            # sales summed per step can exceed demand by a rounding error: a share stays <= 1
            return np.where(self.demand > 0, np.minimum(self.sales / self.demand, 1.0), 1.0)

    @property
    def cycle_service_level(self) -> Array:
        """Share of replenishment cycles without a stockout (NaN with no closed cycle)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.cycles > 0, 1.0 - self.cycles_with_stockout / self.cycles, np.nan)


def lead_time_quantile(u: Array, mean: Array, sd: Array, distribution: str = "gamma") -> Array:
    """The u-quantile of each product's lead time (mean, sd), capped at mean + 8 sd.

    ``gamma``: shape (mean / sd)², scale sd² / mean; ``lognormal``: sigma² = log(1 + (sd /
    mean)²), mu = log(mean) - sigma² / 2. Both have exactly the given mean and sd; sd 0 is fixed.
    """
    if distribution not in LEAD_TIME_DISTRIBUTIONS:
        raise StrataError(
            f"lead-time distribution {distribution!r} is not one of "
            f"{', '.join(LEAD_TIME_DISTRIBUTIONS)}"
        )
    out = np.array(mean, dtype=np.float64, copy=True)
    random = sd > 0
    if random.any():
        m, s, p = mean[random], sd[random], u[random]
        if distribution == "gamma":
            shape = (m / s) ** 2
            draws = gammaincinv(shape, p) * (s * s / m)
        else:
            sigma2 = np.log1p((s / m) ** 2)
            draws = np.exp(np.log(m) - 0.5 * sigma2 + np.sqrt(sigma2) * ndtri(p))
        out[random] = np.minimum(draws, m + _LEAD_TIME_CAP_SDS * s)
    return out


def _round_orders(need: Array, moq: Array | None, pack: Array | None) -> Array:
    if moq is not None:
        need = np.where(need > 0, np.maximum(need, moq), need)
    if pack is not None:
        ok = np.isfinite(pack) & (pack > 0)
        need = np.where(ok & (need > 0), np.ceil(need / np.where(ok, pack, 1.0)) * pack, need)
    return need


def _checked_demand(
    demand: ArrayLike, warmup: ArrayLike | None, n: int | None, steps_per_period: int
) -> tuple[Array, int]:
    """Warm-up and window demand side by side (products x periods), and the warm-up length.

    ``n`` is the number of rows the demand must have (None: any, set by the demand)."""
    window = np.asarray(demand, dtype=np.float64)
    if window.ndim != 2 or (n is not None and window.shape[0] != n):
        raise StrataError(
            f"demand must be products x periods with {n} rows (one per policy), got shape "
            f"{window.shape}"
        )
    n = window.shape[0]
    before = np.zeros((n, 0)) if warmup is None else np.asarray(warmup, dtype=np.float64)
    if before.ndim != 2 or before.shape[0] != n:
        raise StrataError(f"warmup must be products x periods with {n} rows, got {before.shape}")
    if steps_per_period < 1:
        raise StrataError(f"steps_per_period = {steps_per_period} must be at least 1, e.g. 7")
    both = np.concatenate([before, window], axis=1)
    if not np.isfinite(both).all() or (both < 0).any():
        raise StrataError(
            "demand must be finite and non-negative (units sold per period; fill periods without "
            "a sale with 0 and net returns out before replaying)"
        )
    return both, before.shape[1]


def _first_of_each(keys: NDArray[np.intp], slot: NDArray[np.intp]) -> NDArray[np.intp]:
    """For each position, the position of one occurrence of its key, the same for all equal
    keys (O(n), no sort: ``slot`` is scratch indexed by key; the last write wins)."""
    slot[keys] = np.arange(keys.size)
    return slot[keys]


_REVIEW_PATTERNS_KEPT = 16  # sets of review periods due together whose rows are kept


@dataclass(frozen=True)
class _Reviewed:
    """The rows reviewed at one step (ascending) and their policy numbers, in that order."""

    rows: NDArray[np.intp]
    reorder_point: Array
    order_qty: Array
    order_up_to: NDArray[np.bool_]
    lot_sized: NDArray[np.bool_]  # (s, nQ) rows with Q > 0
    moq: Array | None
    pack_size: Array | None


class _Replay:
    """The state of one replay: stock, pipeline, counters; stepped period by period."""

    def __init__(
        self,
        policy: ReplenishmentPolicy,
        streams: NDArray[np.intp] | None,
        k: int,
        n_total: int,
        n_measured: int,
        lead_time_distribution: str,
        groups: ArrayLike | None,
        unit_value: ArrayLike | None,
        record: bool,
    ) -> None:
        n = policy.n
        self.policy, self.k, self.n, self.n_total = policy, k, n, n_total
        self.streams = streams  # each row's column of the random numbers (None: its own)
        self.distribution = lead_time_distribution
        self.review_steps = np.maximum(np.rint(policy.review_period * k), 1).astype(np.int64)
        self.review_values = [int(v) for v in np.unique(self.review_steps)]
        self.review_cache: dict[tuple[int, ...], _Reviewed] = {}
        self.lead_mean, self.lead_sd = policy.lead_time * k, policy.lead_time_sd * k
        s, q, up = policy.reorder_point, policy.order_qty, policy.order_up_to
        self.on_hand = np.where(up, s, s + q)
        self.on_order = np.zeros(n)
        self.due: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.short_since_receipt = np.zeros(n, dtype=bool)
        # scratch for _first_of_each over rows and over random streams
        self.row_slot = np.zeros(n, dtype=np.intp)
        self.stream_slot = np.zeros(
            n if streams is None else int(streams.max(initial=-1)) + 1, dtype=np.intp
        )
        # rows of one array each, which the compiled steps add to (ml.simulate_kernel)
        self.total_rows = np.zeros((3, n))
        self.count_rows = np.zeros((3, n), dtype=np.int64)
        self.totals = dict(zip(("demand", "sales", "on_hand"), self.total_rows, strict=True))
        self.counts = {
            **dict(zip(("stockouts", "run", "longest"), self.count_rows, strict=True)),
            **{name: np.zeros(n, dtype=np.int64) for name in ("cycles", "short_cycles", "orders")},
        }
        self.code = None if groups is None else np.asarray(groups, dtype=np.int64)
        self.n_groups = 0 if self.code is None else int(self.code.max(initial=-1)) + 1
        self.value = np.ones(n) if unit_value is None else np.asarray(unit_value, dtype=np.float64)
        self.series = {
            name: np.zeros((n_measured, self.n_groups))
            for name in ("demand", "sales", "value", "short")
        }
        self.record = record
        self.kept = {
            name: np.zeros((n, n_measured if record else 0), dtype=dtype)
            for name, dtype in (("sales", np.float64), ("on_hand", np.float64), ("short", bool))
        }

    def compiled(
        self, runs: int | None = None
    ) -> tuple[dict[str, NDArray], dict[str, NDArray], Pipeline, Runs]:
        """The state, policy and pipeline arrays the compiled steps update (shared with self),
        and the rows cut into ``runs`` runs of whole streams (default: RUNS_PER_THREAD per thread)."""
        p, n = self.policy, self.n
        streams = np.arange(n) if self.streams is None else self.streams.astype(np.int64)
        cut = Runs.of(streams, self.stream_slot.size, runs)
        state = {
            "on_hand": self.on_hand,
            "on_order": self.on_order,
            "short_since_receipt": self.short_since_receipt,
            "cycles": self.counts["cycles"],
            "short_cycles": self.counts["short_cycles"],
            "orders": self.counts["orders"],
            "until_review": self.review_steps.copy(),  # steps to the next review, from step 0
            "totals": self.total_rows,  # demand, sales, on hand: the measured periods' sums
            "count_rows": self.count_rows,  # stockout periods, current run, longest run
        }
        policy = {
            "review_steps": self.review_steps,
            "s": p.reorder_point,
            "q": p.order_qty,
            "order_up_to": p.order_up_to,
            "moq": np.zeros(n) if p.moq is None else p.moq,
            "pack": np.zeros(n) if p.pack_size is None else p.pack_size,
            "has_moq": np.bool_(p.moq is not None),
            "has_pack": np.bool_(p.pack_size is not None),
            "lead_mean": self.lead_mean,
            "lead_sd": self.lead_sd,
            "streams": streams,
            "n_steps": np.int64(self.n_total * self.k),
        }
        # room for every order one call's periods can place on top of those on their way
        most = most_orders(cut, self.review_steps, PERIODS_PER_CALL * self.k)
        capacity = int(most.max(initial=0)) + 2 * self.k * int(cut.sizes.max(initial=0))
        return state, policy, Pipeline.empty(n, cut.sizes.size, capacity), cut

    def receive(self, step: int, measured: bool) -> None:
        """Orders due at this step arrive; a replenishment cycle ends at each arrival."""
        entries = self.due.pop(step, [])
        if not entries:
            return
        for who, qty in entries:  # one product at most once per list entry
            self.on_hand[who] += qty
            self.on_order[who] -= qty
        # the rows receiving (each once), so the counters touch only them
        if len(entries) == 1:
            arrived = entries[0][0]
        else:
            rows = np.concatenate([w for w, _ in entries])
            arrived = rows[_first_of_each(rows, self.row_slot) == np.arange(rows.size)]
        if measured:
            self.counts["cycles"][arrived] += 1
            self.counts["short_cycles"][arrived[self.short_since_receipt[arrived]]] += 1
        self.short_since_receipt[arrived] = False

    def sell(self, d: Array) -> tuple[Array, NDArray[np.bool_]]:
        """Sales from stock (the rest is lost) and which products ran short."""
        sales = np.minimum(self.on_hand, d)
        self.on_hand -= sales
        short = d - sales > 1e-9 * np.maximum(d, 1.0)
        self.short_since_receipt |= short
        return sales, short

    def reviewing(self, step: int) -> _Reviewed:
        """The rows reviewed at the end of ``step`` (ascending) and their policy numbers."""
        key = tuple(v for v in self.review_values if (step + 1) % v == 0)
        hit = self.review_cache.get(key)
        if hit is None:
            p = self.policy
            rows = np.flatnonzero(np.isin(self.review_steps, key))
            up = p.order_up_to[rows]
            hit = _Reviewed(
                rows,
                p.reorder_point[rows],
                p.order_qty[rows],
                up,
                ~up & (p.order_qty[rows] > 0),
                None if p.moq is None else p.moq[rows],
                None if p.pack_size is None else p.pack_size[rows],
            )
            if len(self.review_cache) < _REVIEW_PATTERNS_KEPT:
                self.review_cache[key] = hit
        return hit

    def order(self, step: int, u: Array, measured: bool) -> None:
        """Review: order what the policy asks, with a lead time drawn per order."""
        r = self.reviewing(step)
        if r.rows.size == 0:
            return
        s, q = r.reorder_point, r.order_qty
        position = self.on_hand[r.rows] + self.on_order[r.rows]
        need = np.zeros(r.rows.size)
        topping = np.flatnonzero(r.order_up_to & (s > position))
        if topping.size:  # rounded on these rows only: the others order nothing here
            need[topping] = _round_orders(
                s[topping] - position[topping],
                None if r.moq is None else r.moq[topping],
                None if r.pack_size is None else r.pack_size[topping],
            )
        lots = r.lot_sized & (position <= s)
        need[lots] = (np.floor((s[lots] - position[lots]) / q[lots]) + 1.0) * q[lots]
        ordering = need > 0
        who, need = r.rows[ordering], need[ordering]
        if who.size == 0:
            return
        col = who if self.streams is None else self.streams[who]
        lead = self.lead_times(who, col, u[0])
        arrival = step + 1 + np.floor(lead + u[1, col]).astype(np.int64)
        self.on_order[who] += need
        if measured:
            self.counts["orders"][who] += 1
        # orders due after the last step stay on order; they never arrive in the window
        inside = arrival < self.n_total * self.k
        if not inside.any():
            return
        who, arrival, need = who[inside], arrival[inside], need[inside]
        order = np.argsort(arrival, kind="stable")
        who, arrival, need = who[order], arrival[order], need[order]
        cuts = np.flatnonzero(np.diff(arrival)) + 1
        for part, qty, when in zip(
            np.split(who, cuts), np.split(need, cuts), arrival[np.r_[0, cuts]], strict=True
        ):
            self.due.setdefault(int(when), []).append((part, qty))

    def lead_times(self, who: NDArray[np.intp], col: NDArray[np.intp], u: Array) -> Array:
        """The lead time (in steps) of each order of rows ``who`` drawn with ``u[col]``.

        Rows of one random stream (one product in several stacked sets) with the same lead-time
        mean and sd draw the same lead time: it is computed once for them."""
        mean, sd = self.lead_mean[who], self.lead_sd[who]
        if self.streams is None:
            return lead_time_quantile(u[col], mean, sd, self.distribution)
        rep = _first_of_each(col, self.stream_slot)  # each order's stand-in: one per stream
        first = np.flatnonzero(rep == np.arange(col.size))
        lead = np.empty(col.size)
        lead[first] = lead_time_quantile(u[col[first]], mean[first], sd[first], self.distribution)
        lead = lead[rep]
        odd = np.flatnonzero((mean != mean[rep]) | (sd != sd[rep]))
        if odd.size:
            lead[odd] = lead_time_quantile(u[col[odd]], mean[odd], sd[odd], self.distribution)
        return lead

    def measure(self, row: int, demand: Array, sold: Array, short: NDArray[np.bool_]) -> None:
        """Add one measured period to the totals, the records and the group series."""
        self.add_totals(demand, sold, short)
        self.keep(row, demand, sold, short)

    def add_totals(self, demand: Array, sold: Array, short: NDArray[np.bool_]) -> None:
        """Add one measured period to the per-row totals and stockout runs."""
        self.totals["demand"] += demand
        self.totals["sales"] += sold
        self.totals["on_hand"] += self.on_hand
        c = self.counts
        c["stockouts"] += short
        c["run"] = np.where(short, c["run"] + 1, 0)
        np.maximum(c["longest"], c["run"], out=c["longest"])

    @property
    def keeps(self) -> bool:
        """Whether measured periods are kept beyond the totals (records or group series)."""
        return self.record or self.code is not None

    def keep(self, row: int, demand: Array, sold: Array, short: NDArray[np.bool_]) -> None:
        """Add one measured period to the records and the group series (when asked for)."""
        if self.record:
            self.kept["sales"][:, row] = sold
            self.kept["on_hand"][:, row] = self.on_hand
            self.kept["short"][:, row] = short
        if self.code is not None:
            code, g = self.code, self.n_groups
            self.series["demand"][row] = np.bincount(code, demand, g)
            self.series["sales"][row] = np.bincount(code, sold, g)
            self.series["value"][row] = np.bincount(code, self.on_hand * self.value, g)
            self.series["short"][row] = np.bincount(code, short, g)

    def result(self, n_measured: int) -> SimulationResult:
        """The replay's totals per product (and per group when groups were given)."""
        group_series = None
        if self.code is not None:
            sr = self.series
            group_series = GroupSeries(
                sr["demand"], sr["sales"], sr["value"], sr["short"].astype(np.int64)
            )
        t, c, kept = self.totals, self.counts, self.kept
        return SimulationResult(
            periods=n_measured,
            demand=t["demand"],
            sales=t["sales"],
            lost=t["demand"] - t["sales"],
            avg_on_hand=t["on_hand"] / max(n_measured, 1),
            stockout_periods=c["stockouts"],
            longest_stockout=c["longest"],
            cycles=c["cycles"],
            cycles_with_stockout=c["short_cycles"],
            orders=c["orders"],
            groups=group_series,
            period_sales=kept["sales"] if self.record else None,
            period_on_hand=kept["on_hand"] if self.record else None,
            period_short=kept["short"] if self.record else None,
        )


def _checked_rows(demand_rows: ArrayLike, n: int) -> NDArray[np.intp]:
    """The demand row of each policy row, as integers >= 0 (StrataError otherwise)."""
    rows = np.asarray(demand_rows)
    if rows.shape != (n,) or not np.issubdtype(rows.dtype, np.integer) or (rows < 0).any():
        raise StrataError(
            f"demand_rows must hold one non-negative integer row of demand per policy row "
            f"({n}), got shape {rows.shape} of {rows.dtype}"
        )
    return rows.astype(np.intp)


def simulate_inventory(
    demand: ArrayLike,
    policy: ReplenishmentPolicy,
    *,
    warmup: ArrayLike | None = None,
    steps_per_period: int = 1,
    seed: int = 0,
    lead_time_distribution: str = "gamma",
    groups: ArrayLike | None = None,
    unit_value: ArrayLike | None = None,
    record: bool = False,
    demand_rows: ArrayLike | None = None,
) -> SimulationResult:
    """Replay ``demand`` (products x periods, units) through ``policy``; see the module docstring.

    ``warmup`` (products x warm-up periods) is replayed first and not measured.
    ``steps_per_period`` splits each period into equal steps (7: days of a week). ``groups``
    (integer code per product, e.g. the segment) adds per-period sums per group, with inventory
    valued at ``unit_value`` per unit (1 when not given). ``record`` keeps each measured period's
    sales, on hand at its end and stockout flag per product (products x periods arrays).
    ``demand_rows`` (one per policy row) names each policy row's row of ``demand`` and
    ``warmup``, and of the random numbers: policy sets stacked as extra rows, each replayed
    exactly as alone (None: policy row i replays demand row i).
    """
    n = policy.n
    streams = None if demand_rows is None else _checked_rows(demand_rows, n)
    both, n_warm = _checked_demand(demand, warmup, n if streams is None else None, steps_per_period)
    if streams is not None and streams.size and streams.max() >= both.shape[0]:
        raise StrataError(
            f"demand_rows name row {int(streams.max())} but the demand has {both.shape[0]} rows"
        )
    n_streams = n if streams is None else both.shape[0]
    k = int(steps_per_period)
    per_step = np.ascontiguousarray(both.T) / k  # period-major: one contiguous row per period
    n_total = both.shape[1]
    n_measured = n_total - n_warm
    state = _Replay(
        policy, streams, k, n_total, n_measured, lead_time_distribution, groups, unit_value, record
    )
    rng = np.random.default_rng(seed)
    compiled = state.compiled() if lead_time_distribution in _COMPILED else None
    if compiled is not None:
        # records and group series read the stock at each period's end: one period per call
        block = 1 if state.keeps else PERIODS_PER_CALL
        scratch: dict[str, np.ndarray] = {}  # the kernel's work arrays, reused across calls
        for first in range(0, n_total, block):
            last = min(first + block, n_total)
            # the same numbers as the steps below: each period's k draws are the stream's next
            # k x 2 x streams numbers, and several periods' draws at once are theirs in order
            u = rng.random(out=work_array(scratch, "u", ((last - first) * k, 2, n_streams)))
            measured = np.arange(first, last) >= n_warm
            # the kernel adds the periods to the totals; d per stream, each row reads its own
            sold, short = replay_periods(
                first * k, k, measured, per_step[first:last], u, *compiled, scratch=scratch
            )
            for period in range(first, last) if state.keeps else ():
                if period >= n_warm:
                    d = per_step[period] if streams is None else per_step[period][streams]
                    p = period - first
                    state.keep(period - n_warm, d * k, sold[p], short[p])
        return state.result(n_measured)
    for period in range(n_total):
        measured = period >= n_warm
        d = per_step[period] if streams is None else per_step[period][streams]
        short_in_period = np.zeros(n, dtype=bool)
        sold_in_period = np.zeros(n)
        for sub in range(k):
            step = period * k + sub
            state.receive(step, measured)
            sales, short = state.sell(d)
            sold_in_period += sales
            short_in_period |= short
            # drawn every step for every product: common random numbers
            u = rng.random((2, n_streams))
            state.order(step, u, measured)
        if measured:
            state.measure(period - n_warm, d * k, sold_in_period, short_in_period)
    return state.result(n_measured)
