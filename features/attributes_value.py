"""Value attributes: revenue, margin, their shares and ranks, returns, unit price and cost.

All over kind=sale rows of the trailing window, in the reporting currency.

- `revenue_share` = revenue / total revenue of all keys derived together; `revenue_cum_share` =
  share of total revenue held by this key and every key earning at least as much (descending
  order; tied keys share the value of the whole tie, so the order of rows never matters);
  `revenue_rank` = 1 + number of keys earning strictly more. Margin likewise (a negative
  margin gives a negative share).
- `margin` = revenue - cost. Cost of each sale row: its recorded cost; else product-master
  unit_cost x units; else the row's revenue x (1 - configured margin rate of the key's
  category, `default_margin_by_category`, else `default_margin`). A margin that needed the rate
  is flagged `margin_imputed` (level "category" or "default"), and so is `margin_pct`.
- `returns_rate` = |units| of return and cancellation rows / units sold.
- `unit_price`, `unit_cost`: product master; else realised revenue / units and recorded cost /
  units of the key's own sales (the key's own data, not a fallback).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from features.demand_accumulator import DemandHistory
from ml.config import FeaturesConfig

__all__ = [
    "CATALOGUE_VALUE_ATTRIBUTES",
    "MasterValues",
    "ValueAttributes",
    "catalogue_value_attributes",
    "key_value_attributes",
    "ranked_cum_share",
    "value_attributes",
]

F64 = NDArray[np.float64]

# Shares and ranks compare a key with every other key derived together: the Spark engine
# computes them after collecting the per-key values of every partition.
CATALOGUE_VALUE_ATTRIBUTES = (
    "revenue_share",
    "revenue_cum_share",
    "revenue_rank",
    "margin_share",
    "margin_cum_share",
)


@dataclass(frozen=True)
class MasterValues:
    """Product-master fields aligned on the keys of a DemandHistory (NaN / None when unknown)."""

    unit_price: F64
    unit_cost: F64
    category: NDArray[np.object_]

    @classmethod
    def unknown(cls, n: int) -> MasterValues:
        """No product master: every field unknown."""
        return cls(np.full(n, np.nan), np.full(n, np.nan), np.full(n, None, dtype=object))


@dataclass(frozen=True)
class ValueAttributes:
    """The value attributes and, per key, the fallback level its margin used (or None)."""

    values: dict[str, F64]
    margin_level: NDArray[np.object_]


def _ratio(num: F64, den: F64) -> F64:
    out = np.full(len(num), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def ranked_cum_share(values: F64) -> tuple[F64, F64]:
    """(rank, cumulative share) in descending order; ties share the rank and the share.

    rank = 1 + number of strictly larger values; cumulative share = sum of all values >= this
    one / total (NaN shares when the total is 0). 5, 3, 3, 1 -> ranks 1, 2, 2, 4 and shares
    5/12, 11/12, 11/12, 1.
    """
    n = len(values)
    if n == 0:
        return np.empty(0), np.empty(0)
    order = np.argsort(-values)  # ties share rank and share below, so their order is moot
    ordered = values[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:] - 1, n - 1]
    total = ordered.sum()
    cum = np.cumsum(ordered) / total if total != 0 else np.full(n, np.nan)
    rank, share = np.empty(n), np.empty(n)
    rank[order] = starts[group] + 1
    share[order] = cum[ends[group]]
    return rank, share


def category_margin_rate(category: np.ndarray, config: FeaturesConfig) -> F64:
    """The configured default margin rate of each key's category (NaN when none is configured)."""
    return (
        pd.Series(category, dtype=object)
        .map(dict(config.default_margin_by_category))
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )


def unit_cost_from_price(unit_price: F64, category: np.ndarray, config: FeaturesConfig) -> F64:
    """Unit cost implied by the price and the default margin (category rate, else default)."""
    rate = category_margin_rate(category, config)
    return unit_price * (1 - np.where(np.isnan(rate), config.default_margin, rate))


def key_value_attributes(
    history: DemandHistory, master: MasterValues, config: FeaturesConfig
) -> ValueAttributes:
    """The value attributes that need only each key's own rows (all but shares and ranks)."""
    h = history
    revenue = h.revenue
    sold = h.qty_cost_known + h.qty_cost_unknown
    has_unit_cost = ~np.isnan(master.unit_cost)
    needs_rate = ~has_unit_cost & ((h.qty_cost_unknown != 0) | (h.revenue_cost_unknown != 0))
    category_rate = category_margin_rate(master.category, config)
    rate = np.where(np.isnan(category_rate), config.default_margin, category_rate)
    unpriced_cost = np.where(
        has_unit_cost,
        np.nan_to_num(master.unit_cost) * h.qty_cost_unknown,
        h.revenue_cost_unknown * (1 - rate),
    )
    margin = revenue - h.cost_known - unpriced_cost
    level = np.full(h.n, None, dtype=object)
    level[needs_rate] = np.where(np.isnan(category_rate[needs_rate]), "default", "category")
    unit_price = np.where(np.isnan(master.unit_price), _ratio(revenue, sold), master.unit_price)
    realised_cost = _ratio(h.cost_known, h.qty_cost_known)
    unit_cost = np.where(has_unit_cost, master.unit_cost, realised_cost)
    values = {
        "revenue": revenue,
        "margin": margin,
        "margin_pct": _ratio(margin, revenue),
        "returns_rate": _ratio(h.returned_qty, sold),
        "unit_price": unit_price,
        "unit_cost": unit_cost,
    }
    return ValueAttributes(values, level)


def catalogue_value_attributes(revenue: F64, margin: F64) -> dict[str, F64]:
    """Shares and ranks of revenue and margin among all the keys given (the module docstring)."""
    n = len(revenue)
    total_revenue = revenue.sum()
    total_margin = margin.sum()
    revenue_rank, revenue_cum = ranked_cum_share(revenue)
    _, margin_cum = ranked_cum_share(margin)
    return {
        "revenue_share": revenue / total_revenue if total_revenue else np.full(n, np.nan),
        "revenue_cum_share": revenue_cum,
        "revenue_rank": revenue_rank,
        "margin_share": margin / total_margin if total_margin else np.full(n, np.nan),
        "margin_cum_share": margin_cum,
    }


def value_attributes(
    history: DemandHistory, master: MasterValues, config: FeaturesConfig
) -> ValueAttributes:
    """The 11 value attributes of every key, as float64 arrays in key-code order."""
    own = key_value_attributes(history, master, config)
    shares = catalogue_value_attributes(own.values["revenue"], own.values["margin"])
    return ValueAttributes({**own.values, **shares}, own.margin_level)
