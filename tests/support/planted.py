"""Synthetic feature snapshots with PLANTED segments, and a catalogue whose rules name them.

Six established segments are planted far apart on the demand attributes (ADI, CV², volume,
revenue, seasonality, staleness); the catalogue's archetypes (pattern classes, seasonality and
staleness intervals) recover them by rule. A share of products is young (age < 13 weeks): their
demand attributes say little, but their launch attributes (family, category, supplier, price)
follow their planted segment, so the new-product model can place them. Every registry attribute
is filled, so the real rule drivers (ABC, XYZ, risk) run unchanged.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features.snapshots import write_snapshot
from ml.attributes import DESCRIPTORS, attribute_names
from ml.config import Catalogue, Workspace
from ml.config.training import TrainingConfig

__all__ = [
    "AS_OF",
    "PLANTED",
    "TRUTH",
    "planted_catalogue",
    "planted_config",
    "planted_frame",
    "planted_workspace",
]

AS_OF = date(2026, 11, 2)
TRUTH = "planted_segment"

# segment -> (adi, cv2, mean_qty, unit_price, seasonality, staleness) centres; spread is lognormal
PLANTED: dict[str, tuple[float, float, float, float, float, float]] = {
    "smooth_sellers": (1.0, 0.08, 200.0, 8.0, 0.10, 0.2),
    "erratic_sellers": (1.1, 1.40, 40.0, 12.0, 0.15, 0.2),
    "intermittent_sellers": (4.0, 0.15, 3.0, 20.0, 0.10, 1.0),
    "lumpy_sellers": (5.0, 1.60, 25.0, 15.0, 0.10, 1.0),
    "seasonal_sellers": (1.2, 0.60, 60.0, 10.0, 0.80, 0.2),
    "dormant_items": (12.0, 0.30, 1.5, 5.0, 0.05, 40.0),
}
_MIX = np.array([0.25, 0.15, 0.20, 0.10, 0.15, 0.15])


def planted_frame(
    n: int = 3000, seed: int = 0, new_share: float = 0.05, spread_scale: float = 1.0
) -> pd.DataFrame:
    """A snapshot-shaped frame (every registry attribute and descriptor) plus the TRUTH column.

    `spread_scale` widens every segment's spread (above ~2 the segments start to overlap).
    """
    rng = np.random.default_rng(seed)
    names = list(PLANTED)
    seg_idx = rng.choice(len(names), size=n, p=_MIX)
    centre = np.array([PLANTED[s] for s in names])[seg_idx]

    def spread(col: int, sd: float) -> np.ndarray:
        return centre[:, col] * np.exp(spread_scale * sd * rng.standard_normal(n))

    young = rng.random(n) < new_share
    adi = np.maximum(spread(0, 0.12), 1.0)
    cv2 = spread(1, 0.25)
    mean_qty = spread(2, 0.4)
    price = spread(3, 0.3)
    season = np.clip(centre[:, 4] + spread_scale * 0.05 * rng.standard_normal(n), 0, 1)
    stale = np.where(centre[:, 5] > 5, spread(5, 0.2), rng.exponential(0.3, n))
    age = np.where(young, rng.integers(1, 13, n), rng.integers(104, 400, n)).astype(float)
    periods = np.minimum(age, 104.0)
    nonzero = np.maximum(np.round(periods / adi), 1.0)
    total_qty = mean_qty * nonzero
    revenue = total_qty * price
    order = np.argsort(-revenue)
    cum = np.empty(n)
    cum[order] = np.cumsum(revenue[order]) / revenue.sum()
    rank = np.empty(n)
    rank[order] = np.arange(1, n + 1)
    cost = price * rng.uniform(0.4, 0.8, n)
    margin = revenue - total_qty * cost

    frame = pd.DataFrame({"sku_id": [f"SKU{i:06d}" for i in range(n)], "as_of": AS_OF})
    # launch attributes follow the segment: 5 families per segment (90% pure), 2 categories
    fam = np.where(rng.random(n) < 0.9, seg_idx, rng.integers(0, len(names), n))
    frame["description"] = "planted product"
    frame["family"] = [f"F{f}{j}" for f, j in zip(fam, rng.integers(0, 5, n), strict=True)]
    frame["category"] = [f"C{f}" for f in fam]
    frame["region"] = "UK"
    frame["business_unit"] = "retail"
    frame["supplier_id"] = [f"S{f}{j}" for f, j in zip(fam, rng.integers(0, 3, n), strict=True)]
    values = {
        "periods_observed": periods,
        "nonzero_periods": nonzero,
        "total_qty": total_qty,
        "mean_qty": mean_qty,
        "std_qty": mean_qty * np.sqrt(cv2),
        "std_qty_raw": mean_qty * np.sqrt(cv2) * 1.1,
        "cv": np.sqrt(cv2),
        "cv_raw": np.sqrt(cv2) * 1.1,
        "adi": adi,
        "cv2": cv2,
        "cv2_raw": cv2 * 1.2,
        "zero_share": 1 - nonzero / periods,
        "seasonality_strength": season,
        "trend": rng.normal(0, 0.1, n),
        "growth": rng.normal(0, 0.1, n),
        "peak_to_mean": 1 + 2 * np.sqrt(cv2),
        "age_periods": age,
        "staleness_periods": stale,
        "promo_share": rng.uniform(0, 0.1, n),
        "outlier_share": rng.uniform(0, 0.05, n),
        "revenue": revenue,
        "revenue_share": revenue / revenue.sum(),
        "revenue_cum_share": cum,
        "revenue_rank": rank,
        "margin": margin,
        "margin_pct": margin / revenue,
        "margin_share": margin / margin.sum(),
        "margin_cum_share": cum,
        "returns_rate": rng.uniform(0, 0.05, n),
        "unit_price": price,
        "unit_cost": cost,
        "n_customers": np.maximum(1, np.round(nonzero * 1.5)),
        "top_customer_share": rng.uniform(0.05, 0.6, n),
        "n_countries": rng.integers(1, 10, n).astype(float),
        "lead_time_mean_days": 10 + 5 * fam + rng.exponential(2, n),
        "lead_time_sd_days": rng.uniform(1, 5, n),
        "lead_time_cv": rng.uniform(0.05, 0.4, n),
        "on_time_rate": rng.uniform(0.8, 1.0, n),
        "supplier_fill_rate": rng.uniform(0.9, 1.0, n),
        "moq": rng.choice([1.0, 6.0, 12.0, 24.0], n),
        "pack_size": rng.choice([1.0, 6.0, 12.0], n),
        "shelf_life_days": np.full(n, 3650.0),
        "import_dependency": rng.uniform(0, 0.3, n),
        "n_suppliers": rng.integers(1, 3, n).astype(float),
    }
    for name in attribute_names():
        frame[name] = values[name]
    assert all(d in frame.columns for d in DESCRIPTORS)
    frame[TRUTH] = np.array(names, dtype=object)[seg_idx]
    return frame


def _policy() -> dict:
    return {
        "service_level": 0.95,
        "service_level_type": "csl",
        "review": "periodic",
        "review_period_days": 7,
        "order_quantity": {"rule": "lot_for_lot"},
    }


def planted_catalogue() -> Catalogue:
    """Archetypes that name the planted segments by rule, plus new products and a catch-all."""
    segments = [
        ("new_products", 10, {"age": "new"}),
        ("dormant_items", 20, {"staleness_periods": {"ge": 13}}),
        ("seasonal_sellers", 30, {"seasonality_strength": {"ge": 0.5}}),
        ("smooth_sellers", 40, {"pattern": "smooth"}),
        ("erratic_sellers", 40, {"pattern": "erratic"}),
        ("intermittent_sellers", 40, {"pattern": "intermittent"}),
        ("lumpy_sellers", 40, {"pattern": "lumpy"}),
        ("other", 90, {}),
    ]
    return Catalogue.model_validate(
        {
            "segments": [
                {
                    "name": name,
                    "description": f"planted {name}",
                    "priority": prio,
                    "archetype": arch,
                    "policy": _policy(),
                }
                for name, prio, arch in segments
            ]
        }
    )


def planted_config(**overrides: object) -> TrainingConfig:
    """A training config sized for ~3,000 products (small clusters, 3 folds)."""
    base = {
        "clusters": {"min_cluster_size": 40, "min_samples": 10},
        "assigner": {"cv_folds": 3},
    }
    base.update(overrides)
    return TrainingConfig.model_validate(base)


# the planted workspace reads no source: its snapshot is written directly
PLANTED_WORKSPACE = {
    "name": "planted",
    "sources": [
        {
            "name": "none",
            "table": "demand",
            "kind": "csv",
            "path": "none.csv",
            "columns": {"sku_id": "sku"},
        }
    ],
}


def planted_workspace(root: Path, frame: pd.DataFrame, as_of: date = AS_OF) -> Workspace:
    """A workspace under `root` whose one snapshot (as of `as_of`) is `frame` without TRUTH."""
    ws = Workspace.model_validate({**PLANTED_WORKSPACE, "root": str(root)})
    snap = frame.drop(columns=[TRUTH]).assign(as_of=as_of)
    write_snapshot(
        ws, snap, {"as_of": as_of.isoformat(), "feature_set": "planted-v1", "workspace": ws.name}
    )
    return ws
