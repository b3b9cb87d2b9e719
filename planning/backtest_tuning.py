"""Segment targets tuned on the last replay: where stock bought service last quarter, not in theory.

The optimiser (:mod:`planning.optimise`) allocates service by each product's fill-rate curve under
its demand model; on real demand those curves are optimistic by a factor that differs per segment
(:mod:`ml.policy.service_calibration`), so the allocation it buys on paper is not the one it buys
on the shelf. This strategy reads each segment's exchange curve off a replay instead: in the
window that ended before the origin, the uniform cycle-service sweep was replayed with every
product in its own segment's policy structure, which gives per segment and sweep level the demand,
the units sold and the average inventory value. One cycle-service level per segment is then chosen
by a Lagrangian over those measured points (Everett 1963, "Generalized Lagrange multiplier method
for solving problems of optimum allocation of resources", Operations Research 11, 399-417): each
segment takes the level minimising inventory - lambda x units sold, and lambda is the smallest
price of a unit sold whose choices reach the target fill rate over all segments. The policies are
the sweep's own rows at those levels (nothing is recomputed).

**Service classes tuned the same way** (``replay-tuned classes``): the measured points are kept
per segment x cycle-value band (:mod:`ml.policy.service_classes`: at the optimum a product's
service depends on its unit value x the periods one lot lasts), the bands cut by the learning
window's own products (:func:`class_edges`), and the Lagrangian picks one level per class, not
rising with the band within a segment (``monotone``: adjacent violators pooled); the next
origin's products fall into the classes by those edges (:func:`service_class`).

**Each product tuned alone** (``replay-tuned products``, the measured per-product limit): the same
Lagrangian over every product's own measured points; a product the last window did not replay
takes the uniform level. It is the empirical counterpart of the per-product optimum of the
normal model, and what segments and classes are judged against.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import SEGMENT
from ml.policy.service_classes import band_edges, cycle_value
from ml.segment_policies import SegmentPolicies

__all__ = [
    "Bounds",
    "Key",
    "class_edges",
    "class_key",
    "grouped_curves",
    "product_key",
    "segment_curves",
    "segment_key",
    "service_class",
    "tuned_levels",
    "tuned_policies",
]

Edges = dict[str, np.ndarray]
Bounds = dict[str, tuple[float, float]]  # segment -> (service floor, ceiling)
Key = Callable[[pd.DataFrame], np.ndarray]  # policy rows -> the group each is tuned in
_CYCLE_INPUTS = (C.UNIT_VALUE, C.ORDER_QTY, C.DEMAND_MEAN, C.LEAD_TIME_DEMAND_SD)

_BISECTION_STEPS = 100


def segment_curves(by_level: list[tuple[float, pd.DataFrame]]) -> pd.DataFrame:
    """Per segment and sweep level: demand, units sold, inventory value (from ``by_segment``)."""
    rows = []
    for level, by in by_level:
        part = by[by[SEGMENT] != "all"]
        demand = part[C.DEMAND_UNITS].to_numpy(np.float64)
        rows.append(
            pd.DataFrame(
                {
                    SEGMENT: part[SEGMENT].astype("str").to_numpy(),
                    "level": float(level),
                    C.DEMAND_UNITS: demand,
                    C.SALES_UNITS: demand * np.nan_to_num(part[C.FILL_RATE].to_numpy(np.float64)),
                    C.AVG_INVENTORY_VALUE: part[C.AVG_INVENTORY_VALUE].to_numpy(np.float64),
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _cycle_values(policies: pd.DataFrame) -> np.ndarray:
    """Each row's unit value x Q / d (NaN where demand is certain or the value is unknown)."""
    if not set(_CYCLE_INPUTS) <= set(policies.columns):  # flagged rows: no policy numbers
        return np.full(len(policies), np.nan)
    value = cycle_value(policies[C.UNIT_VALUE], policies[C.ORDER_QTY], policies[C.DEMAND_MEAN])
    sd = policies[C.LEAD_TIME_DEMAND_SD].to_numpy(np.float64)
    return np.where(np.isfinite(value) & (sd > 0), value, np.nan)


def class_edges(policies: pd.DataFrame, bands: int) -> Edges:
    """Per segment, the inner edges of ``bands`` equally populated cycle-value bands."""
    value = _cycle_values(policies)
    seg = policies[SEGMENT].astype("str").to_numpy()
    return {str(s): band_edges(value[seg == s], bands) for s in np.unique(seg)}


def service_class(policies: pd.DataFrame, edges: Edges) -> np.ndarray:
    """Each row's class ``segment#band`` by the edges (band 0 for a segment without edges)."""
    value = np.nan_to_num(_cycle_values(policies), nan=0.0)
    seg = policies[SEGMENT].astype("str").to_numpy()
    band = np.zeros(seg.size, dtype=np.intp)
    for name, e in edges.items():  # one pass per segment, vectorised within it
        rows = seg == name
        band[rows] = np.searchsorted(e, value[rows], side="right")
    return np.char.add(np.char.add(seg.astype(str), "#"), band.astype(str))


def segment_key(policies: pd.DataFrame) -> np.ndarray:
    """Tune per segment."""
    return policies[SEGMENT].astype("str").to_numpy()


def product_key(policies: pd.DataFrame) -> np.ndarray:
    """Tune per product (its key: the sku, or sku@location at product x location grain)."""
    return policies[C.SKU_ID].astype("str").to_numpy()


def class_key(edges: Edges) -> Key:
    """Tune per service class cut by ``edges``."""
    return lambda policies: service_class(policies, edges)


def grouped_curves(
    by_level: list[tuple[float, pd.DataFrame, pd.DataFrame]], key: Key
) -> pd.DataFrame:
    """Per group (in the segment column) and sweep level: demand, units sold and inventory
    value, from each level's per-product outcomes and the policies replayed (row for row).

    The groups are worked out once for levels that replay the same products in the same order
    (a sweep's sets do), and summed by integer code."""
    rows = []
    skus: np.ndarray | None = None
    codes, names = np.empty(0, dtype=np.intp), np.empty(0, dtype=object)
    for level, outcomes, policies in by_level:
        sku = policies[C.SKU_ID].to_numpy()
        if skus is None or sku.size != skus.size or not np.array_equal(sku, skus):
            codes, names = pd.factorize(key(policies), sort=True)
            skus = sku

        demand, sales, inventory = (
            np.bincount(codes, weights=outcomes[c].to_numpy(np.float64), minlength=len(names))
            for c in (C.DEMAND_UNITS, C.SALES_UNITS, C.AVG_INVENTORY_VALUE)
        )
        rows.append(
            pd.DataFrame(
                {
                    SEGMENT: np.asarray(names, dtype=str),
                    "level": float(level),
                    C.DEMAND_UNITS: demand,
                    C.SALES_UNITS: np.minimum(sales, demand),
                    C.AVG_INVENTORY_VALUE: inventory,
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _choices(
    inventory: np.ndarray, sales: np.ndarray, price: float, chains: list[np.ndarray] | None = None
) -> tuple[np.ndarray, float, float]:
    """Per group (rows) the level index minimising inventory - price x sales; the totals.

    ``chains``: row indices whose picks may not rise along the chain; adjacent violators are
    pooled (one pick for their summed curves) until none is left, the pool-adjacent-violators
    algorithm (Barlow, Bartholomew, Bremner & Brunk 1972, "Statistical Inference under Order
    Restrictions", ch. 1), which under a separable objective gives the constrained optimum."""
    cost = inventory - price * sales
    pick = np.argmin(cost, axis=1)
    for chain in chains or []:
        blocks: list[tuple[np.ndarray, int]] = []  # (summed cost row, rows pooled), in order
        for r in chain:
            row, size = cost[r], 1
            while blocks and np.argmin(blocks[-1][0]) < np.argmin(row):
                prev, n = blocks.pop()
                row, size = prev + row, size + n
            blocks.append((row, size))
        at = 0
        for row, size in blocks:
            pick[chain[at : at + size]] = np.argmin(row)
            at += size
    rows = np.arange(inventory.shape[0])
    return pick, float(sales[rows, pick].sum()), float(inventory[rows, pick].sum())


def _class_parts(groups: pd.Index) -> tuple[pd.Series, pd.Series]:
    """Each group's segment and band (``segment#band``; a name without a band is its segment,
    band NaN)."""
    parts = pd.Series(groups.astype(str)).str.rsplit("#", n=1)
    return parts.str[0], pd.to_numeric(parts.str[1], errors="coerce")


def _band_chains(groups: pd.Index) -> list[np.ndarray]:
    """Row indices of each segment's ``segment#band`` groups, in band order."""
    segment, band = _class_parts(groups)
    order = pd.DataFrame({"segment": segment, "band": band, "row": np.arange(len(groups))})
    order = order.dropna(subset=["band"]).sort_values(["segment", "band"])
    return [g["row"].to_numpy() for _, g in order.groupby("segment", sort=True) if len(g) > 1]


def _allowed(groups: pd.Index, levels: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Per group (rows) and level: within its segment's floor and ceiling (a group named
    ``segment#band`` is its segment's); a group whose bounds hold no level gets the nearest."""
    segment, _ = _class_parts(groups)
    floor = segment.map({k: b[0] for k, b in bounds.items()}).fillna(-np.inf).to_numpy(float)
    ceiling = segment.map({k: b[1] for k, b in bounds.items()}).fillna(np.inf).to_numpy(float)
    ok = (levels[None, :] >= floor[:, None] - 1e-12) & (levels[None, :] <= ceiling[:, None] + 1e-12)
    near = np.abs(levels[None, :] - np.clip(levels[None, :], floor[:, None], ceiling[:, None]))
    nearest = near == near.min(axis=1, keepdims=True)
    return np.where(ok.any(axis=1, keepdims=True), ok, nearest)


def tuned_levels(
    curves: pd.DataFrame,
    target_fill_rate: float,
    monotone: bool = False,
    bounds: Bounds | None = None,
) -> dict[str, float]:
    """One level per segment: least summed inventory whose summed sales reach the target.

    ``curves`` from :func:`segment_curves`. Segments seen at only some levels keep the levels
    they have; when even the highest levels miss the target, every segment takes its level of
    most units sold. ``monotone``: groups named ``segment#band`` get levels that do not rise
    with the band (the optimum's order: a class of higher cycle value needs less cycle service,
    :mod:`ml.policy.service_classes`), so one noisy window cannot plan a band above its
    cheaper neighbour. ``bounds``: each segment's groups choose only among the levels within
    its service floor and ceiling (groups of no listed segment, e.g. products, are free).
    """
    if curves.empty:
        return {}
    inv = curves.pivot_table(index=SEGMENT, columns="level", values=C.AVG_INVENTORY_VALUE)
    sales = curves.pivot_table(index=SEGMENT, columns="level", values=C.SALES_UNITS)
    demand = curves.groupby(SEGMENT)[C.DEMAND_UNITS].mean().reindex(inv.index)
    levels = inv.columns.to_numpy(np.float64)
    known = inv.notna().to_numpy() & sales.notna().to_numpy()
    if bounds:
        known &= _allowed(inv.index, levels, bounds)
    i = np.where(known, inv.to_numpy(np.float64), np.inf)
    s = np.where(known, sales.to_numpy(np.float64), 0.0)
    need = target_fill_rate * float(demand.sum())
    chains = _band_chains(inv.index) if monotone else None
    high = 1.0
    while _choices(i, s, high, chains)[1] < need and high < 1e12:
        high *= 4.0
    low = 0.0
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        low, high = (low, mid) if _choices(i, s, mid, chains)[1] >= need else (mid, high)
    pick, _, _ = _choices(i, s, high, chains)
    return {str(seg): float(levels[p]) for seg, p in zip(inv.index, pick, strict=True)}


def tuned_policies(
    sweep: list[tuple[float, SegmentPolicies]],
    levels: dict[str, float],
    default: float,
    key: Key = segment_key,
) -> SegmentPolicies:
    """Each product's row from the sweep set at its group's level (``key``: its segment by
    default; ``default`` for groups without a level)."""
    by_level = {float(lv): s for lv, s in sweep}
    chosen = {seg: lv if lv in by_level else default for seg, lv in levels.items()}
    keep = []
    for lv, s in by_level.items():

        def mine(f: pd.DataFrame, lv: float = lv) -> pd.DataFrame:
            want = pd.Series(key(f)).map(chosen).fillna(default).to_numpy(np.float64)
            return f[want == lv]

        keep.append((mine(s.policies), mine(s.flagged)))
    return SegmentPolicies(
        policies=pd.concat([p for p, _ in keep], ignore_index=True),
        flagged=pd.concat([f for _, f in keep], ignore_index=True),
    )
