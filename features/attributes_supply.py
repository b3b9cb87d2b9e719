"""Supply attributes per sku from purchase-order lines known on as_of, plus master fields.

The supply table passed in is already point in time (see `features.derive.tables_as_of`): lines
placed after as_of are gone and receipts after as_of are blanked (unknown on as_of). Then:

- a line is *due* when it was received by as_of or its promised date has passed (an overdue
  open line counts, received 0 units so far); lines due within `config.supply_window_days` of
  as_of are used;
- `lead_time_mean_days` / `lead_time_sd_days` (ddof = 1) over received lines with an order date,
  receipt - order in days (negative lead times are ignored); `lead_time_cv` = sd / mean;
- `on_time_rate`: due lines with a promised date that were received on or before it;
- `supplier_fill_rate`: units received / units ordered over due lines;
- `import_dependency`: due lines whose supplier country differs from the destination country,
  among lines where both are known; `n_suppliers`: distinct suppliers of the due lines;
- stale: when the newest due line is older than `config.supply_stale_days`, the event-based
  attributes are blanked so the fallback hierarchy fills (and flags) them;
- `moq`, `pack_size`, `shelf_life_days` from the product master.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ml import columns as C
from ml.config import FeaturesConfig

__all__ = ["EVENT_ATTRIBUTES", "MASTER_ATTRIBUTES", "supply_attributes"]

EVENT_ATTRIBUTES = (
    "lead_time_mean_days",
    "lead_time_sd_days",
    "lead_time_cv",
    "on_time_rate",
    "supplier_fill_rate",
    "import_dependency",
)
MASTER_ATTRIBUTES = (C.MOQ, C.PACK_SIZE, C.SHELF_LIFE_DAYS)


def supply_attributes(
    supply: pd.DataFrame | None, as_of: date, config: FeaturesConfig
) -> pd.DataFrame:
    """Event-based supply attributes and a `stale` flag per sku_id (index)."""
    columns = [*EVENT_ATTRIBUTES, "n_suppliers", "stale"]
    if supply is None or supply.empty:
        return pd.DataFrame(columns=columns).astype({"stale": bool})
    day = pd.Timestamp(as_of)
    received = supply[C.RECEIPT_DATE].notna()
    overdue = ~received & (supply[C.PROMISED_DATE] <= day)
    event = supply[C.RECEIPT_DATE].where(received, supply[C.PROMISED_DATE])
    due = (received | overdue) & (event >= day - pd.Timedelta(config.supply_window_days, "D"))
    lines = supply.loc[due].assign(_event=event[due], _received=received[due])
    lead = (lines[C.RECEIPT_DATE] - lines[C.ORDER_DATE]).dt.days.astype("float64")
    lead = lead.where(lead >= 0)
    promised = lines[C.PROMISED_DATE].notna()
    countries = lines[C.SUPPLIER_COUNTRY].notna() & lines[C.DESTINATION_COUNTRY].notna()
    frame = pd.DataFrame(
        {
            C.SKU_ID: lines[C.SKU_ID],
            "lead": lead,
            "on_time": (lines["_received"] & (lines[C.RECEIPT_DATE] <= lines[C.PROMISED_DATE]))
            .astype("float64")
            .where(promised),
            "ordered": lines[C.QTY_ORDERED],
            "got": lines[C.QTY_RECEIVED].where(lines["_received"], 0.0),
            "imported": (lines[C.SUPPLIER_COUNTRY] != lines[C.DESTINATION_COUNTRY])
            .astype("float64")
            .where(countries),
            C.SUPPLIER_ID: lines[C.SUPPLIER_ID],
            "event": lines["_event"],
        }
    )
    g = frame.groupby(C.SKU_ID, sort=False)
    mean, sd = g["lead"].mean(), g["lead"].std(ddof=1)
    ordered = g["ordered"].sum(min_count=1)
    out = pd.DataFrame(
        {
            "lead_time_mean_days": mean,
            "lead_time_sd_days": sd,
            "lead_time_cv": sd / mean.where(mean > 0),
            "on_time_rate": g["on_time"].mean(),
            "supplier_fill_rate": g["got"].sum() / ordered.where(ordered > 0),
            "import_dependency": g["imported"].mean(),
            "n_suppliers": g[C.SUPPLIER_ID].nunique().astype("float64"),
        }
    )
    stale = (day - g["event"].max()).dt.days > config.supply_stale_days
    out.loc[stale, list(EVENT_ATTRIBUTES)] = np.nan
    out["stale"] = stale
    out.index.name = C.SKU_ID
    return out
