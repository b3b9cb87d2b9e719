"""What the policy stage reads besides snapshots: demand and on-hand histories, and the sinks.

Demand comes from the warehouse's canonical table ``tables/demand.parquet`` (kind ``sale``,
summed over locations: policies are per product), on-hand history from ``tables/inventory.parquet``.
Both are read with only the needed columns and rows (parquet filters), into dense
products x periods arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads

from ml import columns as C
from ml.config import Workspace
from ml.errors import StrataError
from ml.grain import LOCATION_KEY_SEPARATOR, NO_LOCATION
from ml.periods import period_index, period_starts, shift_period

__all__ = [
    "demand_history",
    "demand_matrix",
    "on_hand_matrix",
    "table_path",
]


def table_path(ws: Workspace, table: str) -> Path:
    """The canonical table's parquet file; a StrataError says how to build it when missing."""
    path = ws.warehouse / "tables" / f"{table}.parquet"
    if not path.is_file():
        raise StrataError(
            f"workspace '{ws.name}' has no {table} table at {path}; build the canonical tables "
            f"with `strata features build --config <workspace yaml>`"
        )
    return path


def _read(path: Path, columns: list[str], condition: pads.Expression | None) -> pd.DataFrame:
    return pads.dataset(path).to_table(columns=columns, filter=condition).to_pandas()


def _by_location(ws: Workspace) -> bool:
    return ws.features.grain == "product_location"


def _keys(rows: pd.DataFrame, by_location: bool) -> pd.Series:
    """Each row's series key: the product, or ``<sku>@<location>`` at product x location grain."""
    sku = rows[C.SKU_ID].astype("str")
    if not by_location:
        return sku
    return sku + LOCATION_KEY_SEPARATOR + rows[C.LOCATION_ID].astype("str").fillna(NO_LOCATION)


def demand_matrix(
    ws: Workspace, skus: Sequence[str], first: date, n_periods: int, bucket: str
) -> np.ndarray:
    """Units sold (kind sale) per series (rows, in ``skus`` order) and period: per product over
    all locations, or per ``<sku>@<location>`` at product x location grain.

    Periods are the ``n_periods`` starting at ``first``; periods without a sale are 0.
    """
    end = shift_period(first, n_periods, bucket)
    cond = (
        (pads.field(C.KIND) == "sale")
        & (pads.field(C.PERIOD_START) >= pd.Timestamp(first))
        & (pads.field(C.PERIOD_START) < pd.Timestamp(end))
    )
    by_location = _by_location(ws)
    columns = [C.SKU_ID, *([C.LOCATION_ID] if by_location else []), C.PERIOD_START, C.QTY]
    rows = _read(table_path(ws, "demand"), columns, cond)
    out = np.zeros((len(skus), n_periods))
    if rows.empty:
        return out
    where = pd.Index(pd.Series(skus, dtype="str")).get_indexer(_keys(rows, by_location))
    col = period_index(rows[C.PERIOD_START].to_numpy(), first, bucket)
    keep = (where >= 0) & (col >= 0) & (col < n_periods)
    qty = np.clip(rows[C.QTY].to_numpy(dtype=np.float64)[keep], 0.0, None)
    np.add.at(out, (where[keep], col[keep]), qty)
    return out


def demand_history(
    ws: Workspace, skus: Sequence[str], last: date, n_periods: int, bucket: str
) -> pd.DataFrame:
    """Per product the ``n_periods`` ending with the one starting ``last``: units sold, NaN before
    the product's first sale (index sku_id, columns the period starts) — the bootstrap's input."""
    first = shift_period(last, -(n_periods - 1), bucket)
    sold = demand_matrix(ws, skus, first, n_periods, bucket)
    cond = (pads.field(C.KIND) == "sale") & (
        pads.field(C.PERIOD_START) < pd.Timestamp(shift_period(last, 1, bucket))
    )
    by_location = _by_location(ws)
    columns = [C.SKU_ID, *([C.LOCATION_ID] if by_location else []), C.PERIOD_START]
    rows = _read(table_path(ws, "demand"), columns, cond)
    launch = rows.groupby(_keys(rows, by_location))[C.PERIOD_START].min()
    start = pd.Series(skus, dtype="str").map(launch)
    position = period_index(start.to_numpy(dtype="datetime64[ns]"), first, bucket)
    never = start.isna().to_numpy()
    position = np.where(never, n_periods, position)
    before = np.arange(n_periods)[None, :] < position[:, None]
    sold[before] = np.nan
    return pd.DataFrame(
        sold,
        index=pd.Index(pd.Series(skus, dtype="str"), name=C.SKU_ID),
        columns=period_starts(first, n_periods, bucket),
    )


def on_hand_matrix(
    ws: Workspace, skus: Sequence[str], first: date, n_periods: int, bucket: str
) -> np.ndarray | None:
    """On hand at the end of each period (last count in the period, summed over locations);
    NaN where the period has no count. None when the workspace has no inventory rows."""
    path = ws.warehouse / "tables" / "inventory.parquet"
    if not path.is_file():
        return None
    end = shift_period(first, n_periods, bucket)
    cond = (pads.field(C.DATE) >= pd.Timestamp(first)) & (pads.field(C.DATE) < pd.Timestamp(end))
    rows = _read(path, [C.SKU_ID, C.LOCATION_ID, C.DATE, C.ON_HAND], cond)
    if rows.empty:
        return None
    day = rows[C.DATE].to_numpy().astype("datetime64[D]")
    if bucket == "week":
        monday = day - ((day.astype(np.int64) + 3) % 7)  # 1970-01-01 was a Thursday
        rows["period"] = period_index(monday, first, bucket)
    else:
        rows["period"] = period_index(day, first, bucket)
    last = rows.sort_values(C.DATE).groupby([C.SKU_ID, C.LOCATION_ID, "period"]).tail(1)
    per = last.groupby([_keys(last, _by_location(ws)).to_numpy(), "period"])[C.ON_HAND].sum()
    out = np.full((len(skus), n_periods), np.nan)
    where = pd.Index(pd.Series(skus, dtype="str")).get_indexer(
        per.index.get_level_values(0).astype("str")
    )
    col = per.index.get_level_values(1).to_numpy()
    keep = (where >= 0) & (col >= 0) & (col < n_periods)
    out[where[keep], col[keep]] = per.to_numpy(dtype=np.float64)[keep]
    return out
