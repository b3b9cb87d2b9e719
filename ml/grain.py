"""Aggregate a product (or product x location) attribute frame up to the family grain.

Rules, by attribute (volume = total_qty; "weighted" means weighted by it over the members that
have a value, a plain mean when the members sold nothing):

| rule | attributes | why |
|---|---|---|
| sum | total_qty, mean_qty, revenue, margin | volumes and money add up |
| root-sum-square | std_qty, std_qty_raw | members assumed independent: variances add |
| recomputed | cv, cv_raw (std / mean), margin_pct (margin / revenue), revenue_share, revenue_cum_share, revenue_rank, margin_share, margin_cum_share (over the families of each as_of) | ratios and ranks are recomputed from the family sums, never averaged |
| product | zero_share | the family sells in a period unless every member is idle (independence) |
| recomputed | nonzero_periods = periods_observed x (1 - zero_share), kept between the busiest member and the members' sum; adi = periods_observed / nonzero_periods | from the above |
| max | periods_observed, age_periods, n_customers, n_countries, moq, pack_size | the family is as old as its oldest member; customers and countries overlap, so the largest member is a lower bound |
| min | staleness_periods, shelf_life_days | the most recent sale; the most perishable member governs |
| weighted | cv2, cv2_raw, seasonality_strength, trend, growth, peak_to_mean, promo_share, outlier_share, returns_rate, top_customer_share, unit_price, unit_cost, lead_time_mean_days, lead_time_sd_days, lead_time_cv, on_time_rate, supplier_fill_rate, import_dependency | rates and shapes: the volume-weighted mean (exact for promo_share, outlier_share and returns_rate, shares of units; an approximation for the others) |
| max with distinct count | n_suppliers | the larger of the busiest member's count and the distinct supplier_id values |
| any | every `<name>_imputed` flag | a family value rests on a fallback when any member's does |

The exact family figures for the demand-shape attributes (cv, adi, cv2, seasonality) need the
family's own demand series; these rules are the attribute-level approximation that lets rules
and models run at family grain without re-deriving features. Descriptors (category, region,
business_unit, supplier_id, description) are taken from the member with the largest volume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from ml.attributes import DESCRIPTORS, IMPUTED_SUFFIX
from ml.columns import AS_OF, FAMILY, LOCATION_ID, SKU_ID, SUPPLIER_ID
from ml.errors import StrataError

__all__ = [
    "FAMILY_RULES",
    "LOCATION_KEY_SEPARATOR",
    "N_PRODUCTS",
    "AggregationRule",
    "aggregate_attributes",
    "aggregate_to_family",
    "at_grain",
]

AggregationRule = Literal["sum", "rss", "max", "min", "weighted", "product", "recomputed"]
N_PRODUCTS = "n_products"

FAMILY_RULES: dict[str, AggregationRule] = {
    # demand
    "periods_observed": "max",
    "nonzero_periods": "recomputed",
    "total_qty": "sum",
    "mean_qty": "sum",
    "std_qty": "rss",
    "std_qty_raw": "rss",
    "cv": "recomputed",
    "cv_raw": "recomputed",
    "adi": "recomputed",
    "cv2": "weighted",
    "cv2_raw": "weighted",
    "zero_share": "product",
    "seasonality_strength": "weighted",
    "trend": "weighted",
    "growth": "weighted",
    "peak_to_mean": "weighted",
    "age_periods": "max",
    "staleness_periods": "min",
    "promo_share": "weighted",
    "outlier_share": "weighted",
    # value
    "revenue": "sum",
    "revenue_share": "recomputed",
    "revenue_cum_share": "recomputed",
    "revenue_rank": "recomputed",
    "margin": "sum",
    "margin_pct": "recomputed",
    "margin_share": "recomputed",
    "margin_cum_share": "recomputed",
    "returns_rate": "weighted",
    "unit_price": "weighted",
    "unit_cost": "weighted",
    # customers
    "n_customers": "max",
    "top_customer_share": "weighted",
    "n_countries": "max",
    # supply
    "lead_time_mean_days": "weighted",
    "lead_time_sd_days": "weighted",
    "lead_time_cv": "weighted",
    "on_time_rate": "weighted",
    "supplier_fill_rate": "weighted",
    "moq": "max",
    "pack_size": "max",
    "shelf_life_days": "min",
    "import_dependency": "weighted",
    "n_suppliers": "max",
}

_DESCRIPTORS = tuple(d for d in DESCRIPTORS if d != FAMILY)
_RECOMPUTE_INPUTS: dict[str, tuple[str, ...]] = {
    "cv": ("std_qty", "mean_qty"),
    "cv_raw": ("std_qty_raw", "mean_qty"),
    "adi": ("periods_observed", "nonzero_periods"),
    "margin_pct": ("margin", "revenue"),
    **{f"revenue_{k}": ("revenue",) for k in ("share", "cum_share", "rank")},
    **{f"margin_{k}": ("margin",) for k in ("share", "cum_share", "rank")},
}


def _weighted_mean(x: pd.Series, w: pd.Series, keys: list[pd.Series]) -> pd.Series:
    """Weighted mean per group over the members with a value; plain mean where weights sum to 0."""
    has = x.notna()
    num = (x * w).where(has).groupby(keys, dropna=False).sum(min_count=1)
    den = w.where(has).groupby(keys, dropna=False).sum(min_count=1)
    plain = x.groupby(keys, dropna=False).mean()
    return (num / den.where(den > 0)).fillna(plain)


def _shares(values: pd.Series, period: pd.Series | None) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Share of the period total, cumulative share (ties count together), rank (1 = top)."""
    groups = period if period is not None else pd.Series(0, index=values.index)
    v = values.astype("float64")
    total = v.clip(lower=0).groupby(groups).transform("sum")
    share = v / total.where(total > 0)
    tmp = pd.DataFrame({"g": groups.to_numpy(), "v": v.clip(lower=0).fillna(0).to_numpy()})
    by_value = tmp.groupby(["g", "v"])["v"].sum()
    at_or_above = by_value.iloc[::-1].groupby(level="g").cumsum().rename("at_or_above")
    cum = tmp.join(at_or_above, on=["g", "v"])["at_or_above"].to_numpy() / total.to_numpy()
    rank = v.groupby(groups).rank(method="min", ascending=False)
    return share, pd.Series(cum, index=values.index).where(total > 0), rank


def aggregate_attributes(
    frame: pd.DataFrame, by: Sequence[str], rules: Mapping[str, AggregationRule] | None = None
) -> pd.DataFrame:
    """One row per group of `by` (plus as_of when present), attributes combined per FAMILY_RULES.

    `rules` adds or overrides rules for attributes not in FAMILY_RULES. A numeric column with no
    rule raises, naming it, rather than being silently dropped. Returns a new frame.
    """
    rules = {**FAMILY_RULES, **(rules or {})}
    _check_group_keys(frame, by)
    keys = ([AS_OF] if AS_OF in frame.columns and AS_OF not in by else []) + list(by)
    attrs, flags = _attribute_columns(frame, keys, rules)
    ordered = _largest_volume_first(frame)
    group_keys = [ordered[k] for k in keys]
    out = _group_descriptors(ordered, keys, group_keys)
    w = (
        ordered["total_qty"].astype("float64").clip(lower=0).fillna(0)
        if "total_qty" in ordered
        else pd.Series(1.0, index=ordered.index)
    )
    for c in attrs:
        combined = _combined(ordered[c].astype("float64"), rules[c], w, group_keys, c)
        if combined is not None:
            out[c] = combined
    if SUPPLIER_ID in ordered.columns and "n_suppliers" in out.columns:
        distinct = ordered[SUPPLIER_ID].groupby(group_keys, dropna=False).nunique()
        out["n_suppliers"] = np.fmax(out["n_suppliers"], distinct.astype("float64"))
    out = _recompute(out, ordered, group_keys, attrs, period=AS_OF in keys)
    for f in flags:
        out[f] = ordered[f].fillna(False).astype(bool).groupby(group_keys, dropna=False).any()
    out = out.reset_index()
    return out[
        [
            *keys,
            N_PRODUCTS,
            *[d for d in _DESCRIPTORS if d in out.columns and d not in keys],
            *attrs,
            *flags,
        ]
    ]


def _check_group_keys(frame: pd.DataFrame, by: Sequence[str]) -> None:
    missing_keys = [k for k in by if k not in frame.columns]
    if missing_keys:
        raise StrataError(
            f"cannot aggregate by {', '.join(missing_keys)}: the frame has no such column; "
            f"it has {', '.join(map(str, frame.columns[:30]))}"
        )


def _attribute_columns(
    frame: pd.DataFrame, keys: Sequence[str], rules: Mapping[str, AggregationRule]
) -> tuple[list[str], list[str]]:
    """(attributes to combine, imputed flags); an attribute without a rule raises."""
    skip = {*keys, SKU_ID, LOCATION_ID, FAMILY, *_DESCRIPTORS}
    flags = [c for c in frame.columns if c.endswith(IMPUTED_SUFFIX) and c not in skip]
    attrs = [c for c in frame.columns if c not in skip and c not in flags]
    unknown = [c for c in attrs if c not in rules]
    if unknown:
        raise StrataError(
            f"no aggregation rule for attribute(s) {', '.join(unknown)}; pass "
            f"rules={{'{unknown[0]}': 'sum' | 'weighted' | 'max' | ...}} or drop the column"
        )
    return attrs, flags


def _largest_volume_first(frame: pd.DataFrame) -> pd.DataFrame:
    """The members by volume, largest first, so "first" picks its descriptors."""
    if "total_qty" not in frame.columns:
        return frame
    volume = frame["total_qty"].astype("float64")
    return frame.assign(_v=volume.fillna(0)).sort_values("_v", ascending=False, kind="stable")


def _group_descriptors(
    ordered: pd.DataFrame, keys: Sequence[str], group_keys: list[pd.Series]
) -> pd.DataFrame:
    """One row per group: the member count and the largest member's descriptors."""
    g = ordered.groupby(group_keys, dropna=False, sort=True)
    out = pd.DataFrame(index=g.size().index)
    out[N_PRODUCTS] = (
        ordered[SKU_ID].groupby(group_keys, dropna=False).nunique()
        if SKU_ID in ordered
        else g.size()
    )
    for d in _DESCRIPTORS:
        if d in ordered.columns and d not in keys:
            out[d] = g[d].first()
    return out


def _combined(
    x: pd.Series, rule: AggregationRule, w: pd.Series, group_keys: list[pd.Series], name: str
) -> pd.Series | None:
    """One attribute combined per group by its rule; None for a recomputed attribute."""
    grouped = x.groupby(group_keys, dropna=False)
    if rule == "sum":
        return grouped.sum(min_count=1)
    if rule == "rss":
        return np.sqrt((x**2).groupby(group_keys, dropna=False).sum(min_count=1))
    if rule == "max":
        return grouped.max()
    if rule == "min":
        return grouped.min()
    if rule == "product":
        return grouped.prod(min_count=1)
    if rule == "weighted":
        return _weighted_mean(x, w, group_keys)
    if rule != "recomputed":
        raise StrataError(
            f"aggregation rule {rule!r} for {name!r} is unknown; use one of {AggregationRule}"
        )
    return None


def _recompute(
    out: pd.DataFrame,
    ordered: pd.DataFrame,
    group_keys: list[pd.Series],
    attrs: list[str],
    *,
    period: bool,
) -> pd.DataFrame:
    out = out.copy()
    present = set(attrs)
    if {"cv", "std_qty", "mean_qty"} <= present:
        out["cv"] = out["std_qty"] / out["mean_qty"].where(out["mean_qty"] > 0)
    if {"cv_raw", "std_qty_raw", "mean_qty"} <= present:
        out["cv_raw"] = out["std_qty_raw"] / out["mean_qty"].where(out["mean_qty"] > 0)
    if "nonzero_periods" in present and {"zero_share", "periods_observed"} <= present:
        nz = ordered["nonzero_periods"].astype("float64").groupby(group_keys, dropna=False)
        estimate = out["periods_observed"] * (1 - out["zero_share"])
        upper = np.fmin(nz.sum(min_count=1), out["periods_observed"])
        out["nonzero_periods"] = estimate.clip(lower=nz.max(), upper=upper)
    elif "nonzero_periods" in present:
        out["nonzero_periods"] = (
            ordered["nonzero_periods"].astype("float64").groupby(group_keys, dropna=False).max()
        )
    if "adi" in present and {"nonzero_periods", "periods_observed"} <= present:
        out["adi"] = out["periods_observed"] / out["nonzero_periods"].where(
            out["nonzero_periods"] > 0
        )
    if "margin_pct" in present and {"margin", "revenue"} <= present:
        out["margin_pct"] = out["margin"] / out["revenue"].where(out["revenue"] > 0)
    as_of = pd.Series(out.index.get_level_values(AS_OF), index=out.index) if period else None
    for basis in ("revenue", "margin"):
        if basis not in out.columns:
            continue
        share, cum, rank = _shares(out[basis], as_of)
        for name, value in (
            (f"{basis}_share", share),
            (f"{basis}_cum_share", cum),
            (f"{basis}_rank", rank),
        ):
            if name in present:
                out[name] = value
    missing = [c for c in attrs if c not in out.columns]
    if missing:
        needs = "; ".join(
            f"{c} needs {', '.join(_RECOMPUTE_INPUTS.get(c, ('?',)))}" for c in missing
        )
        raise StrataError(
            f"cannot recompute {', '.join(missing)} at the new grain ({needs}); add those "
            f"attributes to the frame or pass rules={{'{missing[0]}': 'weighted'}}"
        )
    return out


def aggregate_to_family(
    frame: pd.DataFrame,
    *,
    keep_location: bool = False,
    rules: Mapping[str, AggregationRule] | None = None,
) -> pd.DataFrame:
    """The attribute frame at family grain (family x location when keep_location); see the table."""
    by = [FAMILY, LOCATION_ID] if keep_location else [FAMILY]
    return aggregate_attributes(frame, by, rules)


LOCATION_KEY_SEPARATOR = "@"
NO_LOCATION = "(no location)"  # the location part of the key of a series whose location is unknown


def at_grain(frame: pd.DataFrame, grain: str) -> pd.DataFrame:
    """The rows a model of `grain` sees, each with a unique key in sku_id.

    product: as they are; product_location: one row per product and location, keyed
    ``<sku_id>@<location_id>``; family: one row per family (aggregated), keyed by the family.
    """
    if grain == "product_location":
        if LOCATION_ID not in frame.columns:
            raise StrataError(
                "configs/segments.yaml sets drivers.grain: product_location, but the snapshot "
                "has no location_id; build it with features.grain: product_location"
            )
        # a series without a location still needs a key (pandas keeps NaN through astype(str))
        location = frame[LOCATION_ID].astype("str").fillna(NO_LOCATION)
        key = frame[SKU_ID].astype("str") + LOCATION_KEY_SEPARATOR + location
        return frame.assign(**{SKU_ID: key}).reset_index(drop=True)
    if grain != "family":
        return frame.reset_index(drop=True)
    if FAMILY not in frame.columns:
        raise StrataError(
            "configs/segments.yaml sets drivers.grain: family, but the snapshot has no family "
            "column; map a family in the sources or set drivers.grain: product"
        )
    families = aggregate_to_family(frame)
    return families.assign(**{SKU_ID: families[FAMILY].astype(str)}).reset_index(drop=True)
