"""Supply side of the synthetic company: supplier profiles, purchase orders with receipts, stock.

Lead times are drawn per supplier profile as round(Normal(mean, sd)) days (at least one). A
supplier promises round-half-down(mean + sd·z) days, z the normal quantile of its target on-time
rate, so the exact planted on-time probability is Φ((promised + 0.5 − mean) / sd). A receipt is
complete with probability q, otherwise 50–95 % of the order arrives, so the planted fill rate is
q + (1 − q)·0.725.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = [
    "SUPPLIER_PROFILES",
    "PurchaseOrders",
    "SupplierProfile",
    "inventory_on_hand",
    "on_time_probability",
    "purchase_orders",
    "supplier_assignment",
]

_PARTIAL_LOW, _PARTIAL_HIGH = 0.5, 0.95


@dataclass(frozen=True)
class SupplierProfile:
    """A planted supplier behaviour: lead-time mean and sd (days), on-time target, fill rate."""

    name: str
    lead_time_mean_days: float
    lead_time_sd_days: float
    on_time_target: float
    fill_rate: float
    countries: tuple[str, ...]

    @property
    def promised_days(self) -> int:
        """Quoted lead time: the on-time-target quantile of the lead time, whole days."""
        z = NormalDist().inv_cdf(self.on_time_target)
        return int(np.ceil(self.lead_time_mean_days + self.lead_time_sd_days * z - 0.5))

    @property
    def complete_probability(self) -> float:
        """Probability a receipt is complete, given the planted fill rate."""
        partial_mean = (_PARTIAL_LOW + _PARTIAL_HIGH) / 2
        return (self.fill_rate - partial_mean) / (1 - partial_mean)


SUPPLIER_PROFILES: tuple[SupplierProfile, ...] = (
    SupplierProfile("domestic_reliable", 6, 1.2, 0.97, 0.99, ("GB",)),
    SupplierProfile("eu_reliable", 12, 2.5, 0.92, 0.98, ("DE", "NL", "PL")),
    SupplierProfile("americas_regular", 18, 5.0, 0.80, 0.93, ("US", "MX")),
    SupplierProfile("asia_slow_steady", 49, 6.0, 0.85, 0.96, ("CN",)),
    SupplierProfile("asia_unreliable", 35, 14.0, 0.55, 0.85, ("VN", "IN")),
)


def on_time_probability(profile: SupplierProfile) -> float:
    """Exact planted P(receipt day <= promised day) for the profile's rounded normal lead time."""
    dist = NormalDist(profile.lead_time_mean_days, profile.lead_time_sd_days)
    return dist.cdf(profile.promised_days + 0.5)


def supplier_assignment(
    n_skus: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per product its supplier index; per supplier its profile index and country."""
    n_profiles = len(SUPPLIER_PROFILES)
    n_suppliers = max(n_profiles, -(-n_skus // 250))
    profile = np.arange(n_suppliers) % n_profiles
    country = np.array(
        [
            SUPPLIER_PROFILES[p].countries[i % len(SUPPLIER_PROFILES[p].countries)]
            for i, p in enumerate(profile)
        ],
        dtype=object,
    )
    return rng.integers(0, n_suppliers, n_skus), profile, country


@dataclass(frozen=True)
class PurchaseOrders:
    """Purchase order lines in order-date order, as day indices and quantities."""

    sku: np.ndarray
    order_day: np.ndarray  # day index relative to the first history day (negative before it)
    promised_day: np.ndarray
    receipt_day: np.ndarray
    received: np.ndarray  # bool: the receipt happened before the end of the history
    qty_ordered: np.ndarray
    qty_received: np.ndarray
    to_eu: np.ndarray  # bool: shipped to the EU distribution centre


def purchase_orders(
    mean_weekly_qty: np.ndarray,
    pack_size: np.ndarray,
    moq: np.ndarray,
    first_week: np.ndarray,
    eu_share: np.ndarray,
    sku_profile: np.ndarray,
    n_weeks: int,
    lead_in_weeks: int,
    rng: np.random.Generator,
) -> PurchaseOrders:
    """A replenishment order every few weeks per product, from lead_in_weeks before the history."""
    n = mean_weekly_qty.size
    interval = rng.choice(np.array([4, 6, 8, 13]), size=n)
    phase = rng.integers(0, interval)
    start = np.where(first_week > 0, first_week - 4 + lead_in_weeks, 0)  # new: stock before launch
    span = n_weeks + lead_in_weeks
    slots = -(-span // 4) + 1
    week = start[:, None] + phase[:, None] + np.arange(slots)[None, :] * interval[:, None]
    sku, j = np.nonzero(week < span)
    order_week = week[sku, j] - lead_in_weeks
    order_day = order_week * 7 + rng.integers(0, 5, sku.size)
    order = np.argsort(order_day * n + sku)
    sku, order_day = sku[order], order_day[order]

    lt_mean = np.array([p.lead_time_mean_days for p in SUPPLIER_PROFILES])[sku_profile[sku]]
    lt_sd = np.array([p.lead_time_sd_days for p in SUPPLIER_PROFILES])[sku_profile[sku]]
    promised = np.array([p.promised_days for p in SUPPLIER_PROFILES])[sku_profile[sku]]
    complete_p = np.array([p.complete_probability for p in SUPPLIER_PROFILES])[sku_profile[sku]]
    lead_time = np.maximum(1, np.rint(rng.normal(lt_mean, lt_sd))).astype(np.int64)
    receipt_day = order_day + lead_time
    received = receipt_day < n_weeks * 7

    cover = mean_weekly_qty[sku] * interval[sku] * rng.uniform(0.8, 1.2, sku.size)
    pack = pack_size[sku]
    qty_ordered = np.maximum(moq[sku], np.ceil(cover / pack) * pack).astype(np.int64)
    fraction = np.where(
        rng.random(sku.size) < complete_p,
        1.0,
        rng.uniform(_PARTIAL_LOW, _PARTIAL_HIGH, sku.size),
    )
    qty_received = np.rint(qty_ordered * fraction).astype(np.int64)
    to_eu = rng.random(sku.size) < eu_share[sku]
    return PurchaseOrders(
        sku=sku,
        order_day=order_day,
        promised_day=order_day + promised,
        receipt_day=receipt_day,
        received=received,
        qty_ordered=qty_ordered,
        qty_received=qty_received,
        to_eu=to_eu,
    )


def inventory_on_hand(
    mean_weekly_qty: np.ndarray,
    eu_share: np.ndarray,
    first_week: np.ndarray,
    n_weeks: int,
    n_weeks_kept: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Weekly on-hand per product and location: a replenishment saw-tooth with a few stock-outs.

    Returns arrays sku, location (0 = EU, 1 = US), week and on_hand, product-major.
    """
    n = mean_weekly_qty.size
    weeks = np.arange(n_weeks - n_weeks_kept, n_weeks)
    cycle = rng.uniform(3, 10, n)
    safety = rng.uniform(0.5, 3, n)
    phase = rng.uniform(0, 1, n)
    out: dict[str, list[np.ndarray]] = {"sku": [], "location": [], "week": [], "on_hand": []}
    for location, share in ((0, eu_share), (1, 1 - eu_share)):  # two locations
        stocked = np.flatnonzero(share > 0)
        demand = mean_weekly_qty[stocked] * share[stocked]
        saw = 1 - ((weeks[None, :] / cycle[stocked, None] + phase[stocked, None]) % 1.0)
        level = demand[:, None] * (safety[stocked, None] + cycle[stocked, None] * saw)
        level = np.where(rng.random(level.shape) < 0.02, 0, np.rint(level))
        level = np.where(weeks[None, :] < first_week[stocked, None], 0, level)
        out["sku"].append(np.repeat(stocked, weeks.size))
        out["location"].append(np.full(level.size, location, dtype=np.int8))
        out["week"].append(np.tile(weeks, stocked.size))
        out["on_hand"].append(level.ravel().astype(np.int64))
    return {k: np.concatenate(v) for k, v in out.items()}


@dataclass(frozen=True)
class LeadTimeShift:
    """A planted supply drift: from week `from_week` on, one supplier's lead times are `factor`
    times (orders placed from then on; the promised dates stay as they were)."""

    supplier: int  # a supplier index (synth.supply.supplier_assignment), e.g. 0
    from_week: int  # index into the history's weeks, 0 = the first week
    factor: float = 3.0


def shifted_lead_times(
    pos: PurchaseOrders, supplier: np.ndarray, shift: LeadTimeShift | None, n_days: int
) -> PurchaseOrders:
    """`pos` with the planted lead-time drift applied (a receipt beyond the history is open)."""
    if shift is None:
        return pos
    hit = (supplier[pos.sku] == shift.supplier) & (pos.order_day >= shift.from_week * 7)
    lead = pos.receipt_day - pos.order_day
    receipt = np.where(
        hit, pos.order_day + np.rint(lead * shift.factor).astype(np.int64), pos.receipt_day
    )
    received = receipt < n_days
    return PurchaseOrders(
        sku=pos.sku,
        order_day=pos.order_day,
        promised_day=pos.promised_day,
        receipt_day=receipt,
        received=received,
        qty_ordered=pos.qty_ordered,
        qty_received=np.where(received, pos.qty_received, 0),
        to_eu=pos.to_eu,
    )
