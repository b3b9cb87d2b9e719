"""Canonical tables built from accepted rows: demand bucketed per period, and the product master.

All vectorised over the long table (groupby), never a loop per product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml import columns as C
from ml.config import ProductMasterFallback
from ml.contracts import CONTRACTS, DATE_DTYPE, empty_table, table_dtypes

__all__ = [
    "bucketed_demand",
    "collapsed_products",
    "most_frequent",
    "period_start",
    "products_from_lines",
]


def period_start(day: pd.Series, bucket: str) -> pd.Series:
    """The first day of each date's period: Monday of its ISO week, or the first of its month."""
    values = day.to_numpy().astype("datetime64[D]")
    if bucket == "month":
        start = values.astype("datetime64[M]").astype("datetime64[D]")
    else:
        # numpy day 0 (1970-01-01) was a Thursday: shift by 3 so that Monday is weekday 0
        start = values - ((values.astype("int64") + 3) % 7).astype("timedelta64[D]")
    return pd.Series(start.astype(DATE_DTYPE), index=day.index)


def bucketed_demand(lines: pd.DataFrame, bucket: str) -> pd.DataFrame:
    """Demand lines summed per sku, location, period and kind (periods without lines absent)."""
    if lines.empty:
        return empty_table("demand")
    frame = pd.DataFrame(
        {
            C.SKU_ID: lines[C.SKU_ID],
            C.LOCATION_ID: lines[C.LOCATION_ID],
            C.PERIOD_START: period_start(lines[C.DATE], bucket),
            C.KIND: lines[C.KIND],
            C.QTY: lines[C.QTY],
            C.REVENUE: lines[C.REVENUE],
            C.COST: lines[C.COST],
            C.PROMO_QTY: lines[C.QTY].where(lines[C.PROMO_FLAG], 0.0),
        }
    )
    groups = frame.groupby([C.SKU_ID, C.LOCATION_ID, C.PERIOD_START, C.KIND], sort=True)
    sums = groups[[C.QTY, C.REVENUE, C.PROMO_QTY]].sum()
    out = sums.assign(
        **{
            C.COST: groups[C.COST].sum(min_count=1),
            C.N_LINES: groups.size().astype("int64"),
        }
    ).reset_index()
    return out[list(CONTRACTS["demand"].columns)].astype(table_dtypes("demand"))


def most_frequent(keys: pd.Series, values: pd.Series) -> pd.Series:
    """Per key, its most frequent non-missing value (ties: the alphabetically first)."""
    present = values.notna().to_numpy()
    key_codes, key_names = pd.factorize(keys[present], sort=True)
    value_codes, value_names = pd.factorize(values[present], sort=True)
    if not len(value_names):
        return pd.Series([], dtype=values.dtype)
    pairs, counts = np.unique(
        key_codes.astype("int64") * len(value_names) + value_codes, return_counts=True
    )
    key_of, value_of = np.divmod(pairs, len(value_names))
    order = np.lexsort((value_of, -counts, key_of))  # by key, then most frequent, then name
    top = order[np.r_[True, key_of[order][1:] != key_of[order][:-1]]]
    return pd.Series(
        value_names.take(value_of[top]), index=key_names.take(key_of[top]), dtype=values.dtype
    )


def _regex_group(sku: pd.Series, regex: str | None, default: str) -> pd.Series:
    if regex is None:
        return pd.Series(default, index=sku.index, dtype="str")
    return sku.str.extract(regex, expand=False).fillna(default).astype("str")


def products_from_lines(
    lines: pd.DataFrame, descriptions: pd.Series, fallback: ProductMasterFallback, base_uom: str
) -> pd.DataFrame:
    """A product master built from accepted demand lines, for workspaces without one.

    One row per sku_id in the lines: description = its most frequent description; family and
    category = group 1 of ``family_regex``/``category_regex`` on sku_id (else the defaults);
    unit_price = median of revenue/qty over sale lines with qty > 0 and revenue > 0; launch_date
    = first sale; region and business_unit = the most frequent. Costs, shelf life, supplier,
    MOQ and pack size are unknown (missing).
    """
    if lines.empty:
        return empty_table("products")
    sku = lines[C.SKU_ID]
    priced = (lines[C.KIND] == "sale") & (lines[C.QTY] > 0) & (lines[C.REVENUE] > 0)
    sales = lines[lines[C.KIND] == "sale"]
    skus = pd.Index(np.sort(sku.unique()), name=C.SKU_ID)
    ids = pd.Series(skus, index=skus, dtype="str")
    unit_price = (lines[C.REVENUE] / lines[C.QTY])[priced].groupby(sku[priced]).median()
    out = pd.DataFrame(
        {
            C.SKU_ID: ids,
            C.DESCRIPTION: most_frequent(sku, descriptions).reindex(skus),
            C.FAMILY: _regex_group(ids, fallback.family_regex, fallback.default_family),
            C.CATEGORY: _regex_group(ids, fallback.category_regex, fallback.default_category),
            C.REGION: most_frequent(sku, lines[C.REGION]).reindex(skus),
            C.BUSINESS_UNIT: most_frequent(sku, lines[C.BUSINESS_UNIT]).reindex(skus),
            C.UNIT_COST: np.nan,
            C.UNIT_PRICE: unit_price.reindex(skus),
            C.UOM: base_uom,
            C.SHELF_LIFE_DAYS: np.nan,
            C.LAUNCH_DATE: sales.groupby(C.SKU_ID)[C.DATE].min().dt.normalize().reindex(skus),
            C.SUPPLIER_ID: np.nan,
            C.MOQ: np.nan,
            C.PACK_SIZE: np.nan,
        },
        index=skus,
    )
    return out.reset_index(drop=True).astype(table_dtypes("products"))


def collapsed_products(rows: pd.DataFrame) -> pd.DataFrame:
    """One product row per sku_id from several: median of numbers, most frequent text, earliest date."""
    sku = rows[C.SKU_ID]
    skus = pd.Index(np.sort(sku.unique()), name=C.SKU_ID)
    columns: dict[str, pd.Series] = {C.SKU_ID: pd.Series(skus, index=skus, dtype="str")}
    for name, dtype in table_dtypes("products").items():
        if name == C.SKU_ID:
            continue
        if dtype == "float64":
            columns[name] = rows[name].groupby(sku).median().reindex(skus)
        elif dtype.startswith("datetime64"):
            columns[name] = rows[name].groupby(sku).min().reindex(skus)
        else:
            columns[name] = most_frequent(sku, rows[name]).reindex(skus)
    return pd.DataFrame(columns, index=skus).reset_index(drop=True).astype(table_dtypes("products"))
