"""A tiny workspace for the policy-stage tests, written by hand: weekly demand, snapshots, catalogue.

The snapshot attributes are computed here with plain numpy from the same demand (mean and sd per
week since the first sale in the trailing 52 weeks, ADI, CV² of the non-zero weeks), so every
expected number in the tests can be worked out from the series below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from features.snapshots import write_snapshot
from ml import columns as C
from ml.attributes import snapshot_columns
from ml.config import Workspace
from ml.config.files import load_workspace
from ml.periods import last_complete_period

START = date(2024, 1, 1)  # a Monday: week 0
CATALOGUE = {
    "segments": [
        {
            "name": "fast",
            "description": "sells most weeks",
            "priority": 10,
            "archetype": {"adi": {"le": 1.32}},
            "policy": {
                "service_level": 0.98,
                "service_level_type": "fill_rate",
                "review": "continuous",
                "order_quantity": {"rule": "eoq", "ordering_cost": 50, "holding_rate": 0.25},
                "lead_time_demand": "normal",
            },
        },
        {
            "name": "slow",
            "description": "everything else",
            "priority": 90,
            "archetype": {},
            "policy": {
                "service_level": 0.90,
                "service_level_type": "csl",
                "review": "periodic",
                "review_period_days": 14,
                "order_quantity": {"rule": "lot_for_lot"},
                "lead_time_demand": "poisson_gamma",
            },
        },
    ]
}
POLICY_CONFIG = {
    "build": {"bootstrap_samples": 200},
    "simulation": {
        "periods": 8,
        "warmup_periods": 4,
        "uniform": {"sweep": [0.8, 0.9, 0.95, 0.99]},
    },
    "kpis": {"window_periods": 4, "persist_periods": 2},
}


@dataclass(frozen=True)
class PolicyWorkspace:
    """Paths of the tiny workspace and its configs."""

    root: Path
    ws: Workspace
    config: Path
    catalogue: Path
    scoring: Path
    policy: Path


def week(i: int) -> date:
    """Monday of week i."""
    return START + timedelta(days=7 * i)


def attributes(series: np.ndarray, last_index: int) -> dict[str, float]:
    """The demand attributes of one weekly series as of the week ``last_index`` (inclusive)."""
    window = series[max(0, last_index - 51) : last_index + 1]
    sold = np.flatnonzero(series[: last_index + 1] > 0)
    if sold.size == 0:
        return {"periods_observed": 0.0, "total_qty": 0.0, "nonzero_periods": 0.0}
    first = max(sold[0], max(0, last_index - 51))
    seen = series[first : last_index + 1]
    nonzero = seen[seen > 0]
    mean = float(seen.mean())
    std = float(seen.std(ddof=1)) if seen.size > 1 else 0.0
    return {
        "periods_observed": float(seen.size),
        "nonzero_periods": float(nonzero.size),
        "total_qty": float(window.sum()),
        "mean_qty": mean,
        "std_qty": std,
        "cv": std / mean if mean > 0 else np.nan,
        "adi": seen.size / nonzero.size if nonzero.size else np.nan,
        "cv2": float(nonzero.var() / nonzero.mean() ** 2) if nonzero.size else np.nan,
        "age_periods": float(last_index - sold[0]),
        "staleness_periods": float(last_index - sold[-1]),
        "zero_share": 1.0 - nonzero.size / seen.size,
    }


def snapshot(
    demand: dict[str, np.ndarray], as_of: date, products: dict[str, dict[str, float]]
) -> pd.DataFrame:
    """A snapshot frame with every registry column; the demand ones computed from ``demand``."""
    last = last_complete_period(as_of, "week")
    last_index = (last - START).days // 7
    rows = []
    for sku, series in demand.items():
        row = {c: np.nan for c in snapshot_columns()}
        row.update({C.SKU_ID: sku, C.AS_OF: pd.Timestamp(as_of)})
        row.update({C.FAMILY: "f", C.CATEGORY: "c"})
        attrs = attributes(series, last_index)
        row.update(attrs)
        extra = products.get(sku, {})
        row.update(extra)
        price = row.get(C.UNIT_PRICE, np.nan)
        row["revenue"] = attrs["total_qty"] * (price if np.isfinite(price) else 1.0)
        row["margin_pct"] = row.get("margin_pct", 0.35)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for c in frame.columns:
        if c.endswith("_imputed"):
            frame[c] = False
    for c in (C.SKU_ID, C.FAMILY, C.CATEGORY, C.DESCRIPTION, C.REGION, C.BUSINESS_UNIT):
        frame[c] = frame[c].astype("str")
    frame[C.SUPPLIER_ID] = frame[C.SUPPLIER_ID].astype("str")
    return frame


def demand_table(demand: dict[str, np.ndarray]) -> pd.DataFrame:
    """The canonical bucketed demand table (kind sale; zero weeks not stored)."""
    rows = [
        {
            C.SKU_ID: sku,
            C.LOCATION_ID: "L1",
            C.PERIOD_START: pd.Timestamp(week(i)),
            C.KIND: "sale",
            C.QTY: float(q),
            C.REVENUE: float(q),
            C.COST: np.nan,
            C.PROMO_QTY: 0.0,
            C.N_LINES: 1,
        }
        for sku, series in demand.items()
        for i, q in enumerate(series)
        if q > 0
    ]
    return pd.DataFrame(rows)


def make_workspace(
    root: Path,
    demand: dict[str, np.ndarray],
    as_ofs: list[date],
    products: dict[str, dict[str, float]] | None = None,
    inventory: pd.DataFrame | None = None,
    catalogue: dict | None = None,
    policy_config: dict | None = None,
) -> PolicyWorkspace:
    """Write configs, the demand (and inventory) table and one snapshot per ``as_ofs``."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "strata.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "tiny",
                "root": ".",
                "paths": {"warehouse_dir": "warehouse"},
                "calendar": {"bucket": "week", "window_periods": 52, "recent_periods": 13},
                "sources": [
                    {
                        "name": "d",
                        "table": "demand",
                        "kind": "csv",
                        "path": "none.csv",
                        "columns": {"sku_id": "sku"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    cat = root / "segments.yaml"
    cat.write_text(yaml.safe_dump(catalogue or CATALOGUE), encoding="utf-8")
    scoring = root / "scoring.yaml"
    scoring.write_text(
        yaml.safe_dump({"mode": "static", "sinks": [{"kind": "parquet", "path": "outputs"}]}),
        encoding="utf-8",
    )
    policy = root / "policy.yaml"
    policy.write_text(yaml.safe_dump(policy_config or POLICY_CONFIG), encoding="utf-8")
    ws = load_workspace(config)
    tables = ws.warehouse / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    demand_table(demand).to_parquet(tables / "demand.parquet", index=False)
    if inventory is not None:
        inventory.to_parquet(tables / "inventory.parquet", index=False)
    info = products or {}
    defaults = {
        C.UNIT_PRICE: 10.0,
        C.UNIT_COST: 6.0,
        "lead_time_mean_days": 14.0,
        "lead_time_sd_days": 0.0,
    }
    for sku in demand:
        info[sku] = {**defaults, **info.get(sku, {})}
    for day in as_ofs:
        frame = snapshot(demand, day, info)
        write_snapshot(ws, frame, {"as_of": day.isoformat(), "workspace": "tiny"})
    return PolicyWorkspace(root, ws, config, cat, scoring, policy)
