"""The synthetic company's supply side as files: purchase orders with receipts, weekly stock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ml.columns import (
    DATE,
    DESTINATION_COUNTRY,
    LOCATION_ID,
    ON_HAND,
    ORDER_DATE,
    PO_ID,
    PROMISED_DATE,
    QTY_ORDERED,
    QTY_RECEIVED,
    RECEIPT_DATE,
    SKU_ID,
    SUPPLIER_COUNTRY,
    SUPPLIER_ID,
)
from synth.files import HistoryCalendar, codes, supplier_codes, write_csv
from synth.plan import Plan
from synth.styles import EU_STYLE, US_STYLE
from synth.supply import LeadTimeShift, inventory_on_hand, purchase_orders, shifted_lead_times

__all__ = ["Suppliers", "SupplyFile", "inventory_file", "supply_file"]

_PO_LEAD_IN_WEEKS = 13  # purchase orders start this long before the sales history
_INVENTORY_WEEKS = 13  # weekly stock counts kept for the most recent weeks


@dataclass(frozen=True)
class Suppliers:
    """Each product's supplier (index), the suppliers' profiles and countries."""

    supplier: np.ndarray
    profile: np.ndarray  # index into SUPPLIER_PROFILES, per supplier
    country: np.ndarray


@dataclass(frozen=True)
class SupplyFile:
    """supply.csv as written: its path, its purchase orders and how many are still open."""

    path: Path
    open_orders: int
    n_orders: int


def supply_file(
    out: Path,
    plan: Plan,
    expected_weekly_qty: np.ndarray,
    cal: HistoryCalendar,
    sku_ids: pa.Array,
    suppliers: Suppliers,
    moq: np.ndarray,
    rng: np.random.Generator,
    lead_time_shift: LeadTimeShift | None = None,
) -> SupplyFile:
    """supply.csv: purchase orders with promised and actual receipts; open orders have none.
    `lead_time_shift` plants a supplier's lead times growing from a week on."""
    supplier = suppliers.supplier
    pos = purchase_orders(
        expected_weekly_qty,
        plan.case_factor,
        moq,
        plan.first_week,
        plan.eu_share,
        suppliers.profile[supplier],
        cal.n_days // 7,
        _PO_LEAD_IN_WEEKS,
        rng,
    )
    pos = shifted_lead_times(pos, supplier, lead_time_shift, cal.n_days)
    supplier_ids = supplier_codes(np.arange(suppliers.profile.size))
    table = pa.table(
        {
            SKU_ID: sku_ids.take(pa.array(pos.sku)),
            SUPPLIER_ID: supplier_ids.take(pa.array(supplier[pos.sku])),
            PO_ID: codes("PO", np.arange(1, pos.sku.size + 1), 7),
            ORDER_DATE: cal.labels(pos.order_day),
            PROMISED_DATE: cal.labels(pos.promised_day),
            RECEIPT_DATE: cal.labels(pos.receipt_day, valid=pos.received),
            QTY_ORDERED: pos.qty_ordered,
            QTY_RECEIVED: pa.array(pos.qty_received, mask=~pos.received),
            SUPPLIER_COUNTRY: pa.array(suppliers.country.astype(str)).take(
                pa.array(supplier[pos.sku])
            ),
            DESTINATION_COUNTRY: pa.array(["US", "NL"]).take(pa.array(pos.to_eu.astype(np.int8))),
        }
    )
    path = write_csv(table, out / "supply.csv")
    return SupplyFile(path, int((~pos.received).sum()), int(pos.sku.size))


def inventory_file(
    out: Path,
    plan: Plan,
    expected_weekly_qty: np.ndarray,
    cal: HistoryCalendar,
    sku_ids: pa.Array,
    rng: np.random.Generator,
) -> Path:
    """inventory.csv: on hand per product and distribution centre, counted every Sunday."""
    n_weeks = cal.n_days // 7
    stock = inventory_on_hand(
        expected_weekly_qty,
        plan.eu_share,
        plan.first_week,
        n_weeks,
        min(_INVENTORY_WEEKS, n_weeks),
        rng,
    )
    locations = pa.array([EU_STYLE.location_id, US_STYLE.location_id])
    table = pa.table(
        {
            SKU_ID: sku_ids.take(pa.array(stock["sku"])),
            LOCATION_ID: locations.take(pa.array(stock["location"])),
            DATE: cal.labels(stock["week"] * 7 + 6),
            ON_HAND: stock["on_hand"],
        }
    )
    return write_csv(table, out / "inventory.csv")
