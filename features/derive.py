"""Attribute derivation: canonical tables as of a date -> one feature-snapshot frame + report.

`derive_attributes(tables, as_of, calendar, config)` returns a `DerivedAttributes`:

- `frame`: one row per key (sku_id, or sku_id x location_id at grain product_location), sorted
  by key, with `as_of`, the descriptors, every attribute of `ml.attributes` and a bool
  `<name>_imputed` flag for every imputable attribute (`ml.attributes.snapshot_columns`);
- `report`: a JSON-ready dict (written into the snapshot manifest): window, row count, how many
  values each fallback level filled per attribute, stale supply, and every key whose value no
  fallback could give (listed, never dropped);
- `unresolved`: the same unresolved values as a frame (key columns + attribute).

Point in time: every table is cut to what was known on `as_of` before anything is derived
(`tables_as_of`). Keys: at grain product, every product of the master launched on or before
as_of (or without a launch date) plus any sku with demand; at grain product_location, every
sku x location with demand or inventory, and products with neither get one row with a missing
location. Product-master and supply attributes are per sku (the supply table has no location).
Inventory is used only to name keys at grain product_location.

`history_attributes` (demand + value attributes from a `DemandHistory`) is the part the
benchmark (`benchmarks/bench_features.py`) times on 1M products: the same code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from features.attributes_customers import CUSTOMER_ATTRIBUTES, customer_attributes
from features.attributes_demand import demand_attributes
from features.attributes_supply import EVENT_ATTRIBUTES, MASTER_ATTRIBUTES, supply_attributes
from features.attributes_value import (
    MasterValues,
    catalogue_value_attributes,
    key_value_attributes,
    unit_cost_from_price,
    value_attributes,
)
from features.demand_accumulator import DemandHistory
from features.demand_matrix import demand_history_from_frame
from features.impute import LEVELS, Imputation, fill_by_hierarchy
from features.key_index import KeyIndex
from features.period_grid import PeriodGrid, history_periods
from ml import columns as C
from ml.attributes import DESCRIPTORS, attribute_names, imputable_names, imputed_column
from ml.config import Calendar, FeaturesConfig
from ml.errors import StrataError

__all__ = [
    "DerivedAttributes",
    "HistoryAttributes",
    "attribute_frame",
    "catalogue_attributes",
    "derivation_notes",
    "derivation_workers",
    "derive_attributes",
    "history_attributes",
    "key_attributes",
    "key_names_of",
    "tables_as_of",
]

MARGIN_FLAGGED = ("margin", "margin_pct")


@dataclass(frozen=True)
class DerivedAttributes:
    """A feature-snapshot frame, its imputation report and the values left missing."""

    frame: pd.DataFrame
    report: dict[str, Any]
    unresolved: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class HistoryAttributes:
    """Demand and value attributes of the keys of a DemandHistory (key-code order)."""

    values: dict[str, np.ndarray]
    margin_level: np.ndarray


def derivation_workers(config: FeaturesConfig) -> int:
    """Threads derivation uses: `config.workers`, else one per core."""
    return config.workers or os.cpu_count() or 1


def history_attributes(
    history: DemandHistory,
    calendar: Calendar,
    config: FeaturesConfig,
    master: MasterValues | None = None,
) -> HistoryAttributes:
    """Every demand and value attribute of every key, from its dense history."""
    master = master or MasterValues.unknown(history.n)
    demand = demand_attributes(history, calendar, config, workers=derivation_workers(config))
    value = value_attributes(history, master, config)
    return HistoryAttributes({**demand, **value.values}, value.margin_level)


def attribute_frame(
    keys: Sequence[np.ndarray], key_names: Sequence[str], values: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """A frame of key columns (str) and float64 attribute columns, in key-code order."""
    data: dict[str, Any] = {
        n: pd.array(k, dtype="str") for n, k in zip(key_names, keys, strict=True)
    }
    data.update({n: np.asarray(v, dtype=np.float64) for n, v in values.items()})
    return pd.DataFrame(data)


def tables_as_of(
    tables: Mapping[str, pd.DataFrame], as_of: date, grid: PeriodGrid
) -> dict[str, pd.DataFrame]:
    """The tables cut to what was known on `as_of` (new frames; other tables pass through).

    demand: periods complete on as_of; demand_lines and inventory: dated on or before as_of;
    products: launched on or before as_of (or no launch date); supply: lines placed on or
    before as_of (order date, else receipt, else promised date), with receipts after as_of
    blanked (quantity received unknown on as_of).
    """
    day = pd.Timestamp(as_of)
    out = dict(tables)
    if (d := tables.get("demand")) is not None:
        out["demand"] = d.loc[d[C.PERIOD_START] < pd.Timestamp(grid.start_of(grid.n_periods))]
    for name in ("demand_lines", "inventory"):
        if (t := tables.get(name)) is not None and C.DATE in t.columns:
            out[name] = t.loc[t[C.DATE] <= day]
    if (p := tables.get("products")) is not None and C.LAUNCH_DATE in p.columns:
        out["products"] = p.loc[~(p[C.LAUNCH_DATE] > day)]
    if (s := tables.get("supply")) is not None:
        placed = s[C.ORDER_DATE].fillna(s[C.RECEIPT_DATE]).fillna(s[C.PROMISED_DATE])
        s = s.loc[placed <= day]
        late = s[C.RECEIPT_DATE] > day
        out["supply"] = s.assign(
            **{
                C.RECEIPT_DATE: s[C.RECEIPT_DATE].mask(late),
                C.QTY_RECEIVED: s[C.QTY_RECEIVED].mask(late),
            }
        )
    return out


def _products(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    products = tables.get("products")
    if products is None:
        raise StrataError(
            f"derive_attributes needs the 'products' table; got tables {', '.join(sorted(tables))}."
            " Ingest a product master or enable harmonisation.product_master"
        )
    if C.SKU_ID not in products.columns:
        raise StrataError("table 'products' has no sku_id column; see docs/architecture.md")
    return products.drop_duplicates(C.SKU_ID).set_index(C.SKU_ID)


def _key_index(tables: Mapping[str, pd.DataFrame], products: pd.DataFrame, grain: str) -> KeyIndex:
    """Keys seeded with the products (grain product) or the known sku x location pairs."""
    if grain == "product":
        keys = KeyIndex(1)
        keys.codes(products.index.to_numpy(dtype=object))
        return keys
    keys = KeyIndex(2)
    pairs = [
        t[[C.SKU_ID, C.LOCATION_ID]]
        for name in ("inventory", "demand")
        if (t := tables.get(name)) is not None and C.LOCATION_ID in t.columns
    ]
    seen = pd.concat(pairs).drop_duplicates() if pairs else pd.DataFrame(columns=[C.SKU_ID])
    alone = products.index[~products.index.isin(seen[C.SKU_ID])]
    both = pd.concat([seen, pd.DataFrame({C.SKU_ID: alone, C.LOCATION_ID: None})])
    if len(both):
        keys.codes(
            both[C.SKU_ID].to_numpy(dtype=object), both[C.LOCATION_ID].to_numpy(dtype=object)
        )
    return keys


# Per-key columns beside the attributes that the catalogue step needs (dropped from the snapshot).
MARGIN_LEVEL = "_margin_level"
SUPPLY_STALE = "_supply_stale"
MASTER_UNIT_PRICE = "_master_unit_price"


def key_names_of(config: FeaturesConfig) -> list[str]:
    """The key columns of the snapshot at the configured grain."""
    return [C.SKU_ID] if config.grain == "product" else [C.SKU_ID, C.LOCATION_ID]


def snapshot_grid(as_of: date, calendar: Calendar, config: FeaturesConfig) -> PeriodGrid:
    """The period grid every key of a snapshot as of `as_of` is measured on."""
    return PeriodGrid.for_as_of(as_of, calendar, history_periods(calendar, config))


def derive_attributes(
    tables: Mapping[str, pd.DataFrame],
    as_of: date,
    calendar: Calendar,
    config: FeaturesConfig,
) -> DerivedAttributes:
    """The feature snapshot as of `as_of` from the canonical tables (see the module docstring)."""
    keyed = key_attributes(tables, as_of, calendar, config)
    return catalogue_attributes(keyed, derivation_notes(tables), as_of, calendar, config)


def key_attributes(
    tables: Mapping[str, pd.DataFrame],
    as_of: date,
    calendar: Calendar,
    config: FeaturesConfig,
) -> pd.DataFrame:
    """One row per key with every attribute that needs only that sku's own rows, unfilled.

    This is the step the Spark engine runs per partition of skus: every table row of a sku
    must be in the same call. Shares, ranks and fallbacks compare keys with each other and
    are left to `catalogue_attributes`. Beside the attributes: the descriptors, the margin's
    fallback level, the supply staleness flag and the master unit price.
    """
    grid = snapshot_grid(as_of, calendar, config)
    tables = tables_as_of(tables, as_of, grid)
    products = _products(tables)
    key_names = key_names_of(config)
    keys = _key_index(tables, products, config.grain)
    history = demand_history_from_frame(
        _demand(tables), grid, keys, config.cleansing.use_promo_flag, derivation_workers(config)
    )
    sku = pd.Index(history.keys[0])
    master = products.reindex(sku)
    num = {c: _float(master, c) for c in (C.UNIT_PRICE, C.UNIT_COST, *MASTER_ATTRIBUTES)}
    category = _text(master, C.CATEGORY)
    demand = demand_attributes(history, calendar, config, workers=derivation_workers(config))
    value = key_value_attributes(
        history, MasterValues(num[C.UNIT_PRICE], num[C.UNIT_COST], category), config
    )
    frame = attribute_frame(history.keys, key_names, {**demand, **value.values})
    _add_customer_attributes(frame, tables.get("demand_lines"), key_names, grid)
    supply = supply_attributes(tables.get("supply"), as_of, config).reindex(sku)
    _add_supply_attributes(frame, supply, num)
    for name in DESCRIPTORS:
        frame[name] = pd.array(_text(master, name), dtype="str")
    frame[MARGIN_LEVEL] = pd.array(value.margin_level, dtype="str")
    frame[SUPPLY_STALE] = supply["stale"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    frame[MASTER_UNIT_PRICE] = num[C.UNIT_PRICE]
    return frame


def derivation_notes(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """What the derivation had to do without: tables that were not given."""
    notes = []
    if tables.get("demand_lines") is None:
        notes.append("no demand_lines table: n_customers, top_customer_share, n_countries missing")
    if tables.get("supply") is None:
        notes.append("no supply table: lead-time and supplier attributes come from fallbacks")
    return notes


def catalogue_attributes(
    keyed: pd.DataFrame,
    notes: Sequence[str],
    as_of: date,
    calendar: Calendar,
    config: FeaturesConfig,
) -> DerivedAttributes:
    """The snapshot from the per-key rows of every key: shares, ranks, fallbacks and report.

    Rows are put in key order first, so the result does not depend on the order the keys
    arrive in (one pandas call, or the partitions of a Spark job).
    """
    grid = snapshot_grid(as_of, calendar, config)
    key_names = key_names_of(config)
    frame = keyed.sort_values(key_names, kind="stable").reset_index(drop=True)
    margin_level = _text(frame, MARGIN_LEVEL)
    shares = catalogue_value_attributes(
        frame["revenue"].to_numpy(dtype=np.float64), frame["margin"].to_numpy(dtype=np.float64)
    )
    for name, values in shares.items():
        frame[name] = values
    unit_price = frame[MASTER_UNIT_PRICE].to_numpy(dtype=np.float64)
    filled = _fill_missing(frame, unit_price, margin_level, config)
    stale = frame[SUPPLY_STALE].to_numpy(dtype=bool)
    frame = _snapshot_frame(frame, filled.flags, as_of, key_names)
    keys = [frame[n].to_numpy(dtype=object) for n in key_names]
    unresolved = _unresolved(keys, key_names, filled.imputation.unresolved)
    report = _report(as_of, grid, config, len(frame), filled.imputation, margin_level, stale)
    report["notes"] = list(notes)
    if filled.cost_from_price.any():
        report["imputed"].setdefault(C.UNIT_COST, {})["price_at_default_margin"] = int(
            filled.cost_from_price.sum()
        )
        report["imputed_values"] += int(filled.cost_from_price.sum())
    report["unresolved"] = _unresolved_report(unresolved, key_names)
    return DerivedAttributes(frame, report, unresolved)


def _demand(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    demand = tables.get("demand")
    if demand is None:
        raise StrataError(
            f"derive_attributes needs the bucketed 'demand' table; got tables "
            f"{', '.join(sorted(tables))}. Build it with `strata features build`"
        )
    return demand


def _add_customer_attributes(
    frame: pd.DataFrame, lines: pd.DataFrame | None, key_names: Sequence[str], grid: PeriodGrid
) -> None:
    """Fill the customer attributes into `frame` (the frame derivation builds)."""
    if lines is None:
        for name in CUSTOMER_ATTRIBUTES:
            frame[name] = np.nan
        return
    cust = customer_attributes(lines, key_names, grid.window_start, grid.window_end)
    at = (
        pd.MultiIndex.from_frame(frame[key_names])
        if len(key_names) > 1
        else pd.Index(frame[C.SKU_ID])
    )
    cust = cust.reindex(at)
    frame["n_customers"] = cust["n_customers"].fillna(0.0).to_numpy()
    frame["top_customer_share"] = cust["top_customer_share"].to_numpy()
    frame["n_countries"] = cust["n_countries"].fillna(0.0).to_numpy()


def _add_supply_attributes(
    frame: pd.DataFrame, supply: pd.DataFrame, num: Mapping[str, np.ndarray]
) -> None:
    """Fill the supply-event and product-master attributes into `frame`."""
    for name in EVENT_ATTRIBUTES:
        frame[name] = supply[name].to_numpy(dtype=np.float64)
    frame["n_suppliers"] = supply["n_suppliers"].fillna(0.0).to_numpy(dtype=np.float64)
    for name in MASTER_ATTRIBUTES:
        frame[name] = num[name]


@dataclass(frozen=True)
class _Filled:
    """What the fallbacks filled: the imputation, the final flags, costs implied by price."""

    imputation: Imputation
    flags: pd.DataFrame
    cost_from_price: np.ndarray


def _fill_missing(
    frame: pd.DataFrame,
    master_unit_price: np.ndarray,
    margin_level: np.ndarray,
    config: FeaturesConfig,
) -> _Filled:
    """Fill missing attributes in `frame` by the fallbacks and flag every filled value."""
    category = _text(frame, C.CATEGORY)
    # A product without a master cost gets the cost its own price implies at the default
    # margin: closer to the product than a family median, and flagged imputed like one.
    cost_from_price = frame[C.UNIT_COST].isna().to_numpy() & ~np.isnan(master_unit_price)
    frame.loc[cost_from_price, C.UNIT_COST] = unit_cost_from_price(
        master_unit_price, category, config
    )[cost_from_price]
    groups = pd.DataFrame({C.FAMILY: _text(frame, C.FAMILY), C.CATEGORY: category})
    imputation = fill_by_hierarchy(frame, groups, config.defaults, imputable_names())
    for name in imputable_names():
        frame[name] = imputation.values[name].to_numpy()
    flags = imputation.flags.copy()
    margin_filled = pd.notna(margin_level)
    flags[imputed_column(C.UNIT_COST)] = (
        flags[imputed_column(C.UNIT_COST)].to_numpy() | cost_from_price
    )
    for name in MARGIN_FLAGGED:
        flags[imputed_column(name)] = flags[imputed_column(name)].to_numpy() | margin_filled
    return _Filled(imputation, flags, cost_from_price)


def _snapshot_frame(
    frame: pd.DataFrame,
    flags: pd.DataFrame,
    as_of: date,
    key_names: Sequence[str],
) -> pd.DataFrame:
    """The snapshot's columns in their order (keys, as_of, descriptors, attributes, flags)."""
    frame[C.AS_OF] = pd.Timestamp(as_of).as_unit("us")
    frame = pd.concat([frame, flags.set_axis(frame.index)], axis=1)
    columns = [*key_names, C.AS_OF, *DESCRIPTORS, *attribute_names(), *flags.columns]
    return frame[columns].sort_values(list(key_names), kind="stable").reset_index(drop=True)


def _float(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _text(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return frame[column].astype(object).where(frame[column].notna(), None).to_numpy(dtype=object)


def _unresolved(
    keys: Sequence[np.ndarray], key_names: Sequence[str], missing: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """One row per (key, attribute) that no fallback could fill, in key order."""
    rows = [
        pd.DataFrame({**{n: k[idx] for n, k in zip(key_names, keys, strict=True)}, "attribute": a})
        for a, idx in missing.items()
    ]
    if not rows:
        return pd.DataFrame(columns=[*key_names, "attribute"])
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values([*key_names, "attribute"], kind="stable").reset_index(drop=True)


def _report(
    as_of: date,
    grid: PeriodGrid,
    config: FeaturesConfig,
    rows: int,
    imputation: Imputation,
    margin_level: np.ndarray,
    stale_supply: np.ndarray,
) -> dict[str, Any]:
    """The JSON-ready derivation report: window, and values filled per attribute and level."""
    imputed = {a: dict(c) for a, c in imputation.counts.items() if c}
    levels, n = np.unique(margin_level[pd.notna(margin_level)].astype(str), return_counts=True)
    if len(levels):
        imputed["margin"] = {str(lv): int(k) for lv, k in zip(levels, n, strict=True)}
    return {
        "as_of": as_of.isoformat(),
        "grain": config.grain,
        "bucket": grid.bucket,
        "window": {
            "periods": grid.window_periods,
            "first_period": grid.window_start.isoformat(),
            "last_period": grid.start_of(grid.n_periods - 1).isoformat(),
            "last_day": grid.window_end.isoformat(),
        },
        "history_periods": grid.n_periods,
        "rows": rows,
        "levels": ["product", *LEVELS],
        "imputed": imputed,
        "imputed_values": int(sum(sum(c.values()) for c in imputed.values())),
        "stale_supply_products": int(stale_supply.sum()),
    }


def _unresolved_report(unresolved: pd.DataFrame, key_names: Sequence[str]) -> dict[str, Any]:
    """Counts per attribute and of keys left with a missing value (the keys: `unresolved`)."""
    if unresolved.empty:
        return {"values": 0, "keys": 0, "by_attribute": {}}
    counts = unresolved["attribute"].value_counts()
    return {
        "values": len(unresolved),
        "keys": int(unresolved.drop_duplicates(list(key_names)).shape[0]),
        "by_attribute": {str(k): int(v) for k, v in counts.items()},
    }
