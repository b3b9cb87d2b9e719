"""Tiny hand-made canonical tables for the derivation tests (weekly, as of Sunday 2024-03-31)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

AS_OF = date(2024, 3, 31)  # a Sunday: the week of Monday 2024-03-25 is the latest complete one
LAST_MONDAY = pd.Timestamp("2024-03-25")


def monday(weeks_back: int) -> pd.Timestamp:
    """The Monday `weeks_back` weeks before the latest complete week."""
    return LAST_MONDAY - pd.Timedelta(weeks=weeks_back)


def products() -> pd.DataFrame:
    """A, B in family F1; C in F2 (all category K1); D in F3/K2; E has a family nobody else has."""
    rows = [
        # sku, family, category, unit_cost, unit_price, moq, pack_size, shelf_life, supplier
        ("A", "F1", "K1", 2.0, 5.0, 10.0, 6.0, 365.0, "S1"),
        ("B", "F1", "K1", np.nan, 4.0, np.nan, 6.0, np.nan, "S1"),
        ("C", "F2", "K1", 1.0, 3.0, 20.0, 12.0, 30.0, "S2"),
        ("D", "F3", "K2", 1.0, 2.0, np.nan, 1.0, 90.0, "S3"),
        ("E", "F4", "K3", 1.0, 2.0, 5.0, 1.0, 10.0, "S4"),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "sku_id", "family", "category", "unit_cost", "unit_price", "moq", "pack_size",
            "shelf_life_days", "supplier_id",
        ],
    )  # fmt: skip
    frame["description"] = "item " + frame["sku_id"]
    frame["region"] = "UK"
    frame["business_unit"] = "retail"
    frame["uom"] = "EA"
    frame["launch_date"] = pd.NaT
    return frame.astype({"launch_date": "datetime64[us]"})


def demand_row(sku: str, weeks_back: int, qty: float, **kw: object) -> dict[str, object]:
    """One bucketed sale row (revenue = 2 x qty, cost = qty unless given)."""
    row = {
        "sku_id": sku,
        "location_id": kw.get("location_id", "L1"),
        "period_start": monday(weeks_back),
        "kind": kw.get("kind", "sale"),
        "qty": float(qty),
        "revenue": float(kw.get("revenue", 2.0 * qty)),
        "cost": kw.get("cost", float(qty)),
        "promo_qty": float(kw.get("promo_qty", 0.0)),
        "n_lines": 1,
    }
    return row


def demand(rows: list[dict[str, object]]) -> pd.DataFrame:
    """The demand table of `rows`, typed like the canonical table."""
    frame = pd.DataFrame(rows)
    return frame.astype({"period_start": "datetime64[us]", "cost": "float64"})


def supply(rows: list[tuple]) -> pd.DataFrame:
    """Supply lines: (sku, supplier, order, promised, receipt, ordered, received, from, to)."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "sku_id", "supplier_id", "order_date", "promised_date", "receipt_date",
            "qty_ordered", "qty_received", "supplier_country", "destination_country",
        ],
    )  # fmt: skip
    frame["po_id"] = [f"PO{i}" for i in range(len(frame))]
    for col in ("order_date", "promised_date", "receipt_date"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[us]")
    return frame
