"""The synthetic company's planted answers: ground truth per product and planted row counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ml.columns import LAUNCH_DATE, SKU_ID, SUPPLIER_ID, UNIT_PRICE
from synth.erp import ExtractLines
from synth.files import HistoryCalendar, supplier_codes
from synth.patterns import SEGMENTS, PlantedDemand, demand_pattern, realised_adi_cv2
from synth.plan import SELLS_IN, Plan
from synth.supply import SUPPLIER_PROFILES, on_time_probability

__all__ = ["RegionResult", "file_counts", "ground_truth"]


@dataclass(frozen=True)
class RegionResult:
    """One written extract: its rows and, per product, the totals of its clean sale lines."""

    lines: ExtractLines
    qty: np.ndarray  # base units
    revenue: np.ndarray  # reporting currency
    n_lines: np.ndarray


def file_counts(lines: ExtractLines, source: str, bad_qty_reason: str) -> dict[str, Any]:
    """What was planted in one extract, keyed by ingestion's outcome and reason names."""
    c = lines.counts
    return {
        "source": source,
        "rows": int(lines.kind.size),
        "accepted": {"sale": c["sale"], "cancellation": c["cancellation"], "return": c["return"]},
        "excluded": {"freight": c["freight"], "fee": c["fee"]},
        "quarantined": {
            "exact_duplicate": c["duplicate"],
            "unknown_sku": c["unknown_sku"],
            "bad_date": c["bad_date"],
            bad_qty_reason: c["bad_qty"],
        },
        "accepted_variants": {"lowercase_code": c["lowercase_code"]},
    }


def ground_truth(
    plan: Plan,
    demand: PlantedDemand,
    expected_weekly_qty: np.ndarray,
    unit_price: np.ndarray,
    cal: HistoryCalendar,
    sku_ids: pa.Array,
    supplier: np.ndarray,
    supplier_profile: np.ndarray,
    launch_day: np.ndarray,
    regions: tuple[RegionResult, ...],
) -> pa.Table:
    """Per product: what was planted, and what harmonisation must add up to."""
    profile = supplier_profile[supplier]
    realised_adi, realised_cv2 = realised_adi_cv2(demand.qty, plan.first_week)

    def by_profile(values: list[float]) -> np.ndarray:
        return np.asarray(values, dtype=float)[profile]

    return pa.table(
        {
            SKU_ID: sku_ids,
            "segment": pa.array([s.name for s in SEGMENTS]).take(pa.array(plan.segment)),
            "demand_pattern": pa.array(plan.pattern),
            "value_class": pa.array(plan.value_class),
            "is_new": plan.first_week > 0,
            LAUNCH_DATE: cal.labels(launch_day),
            "sales_regions": pa.array(SELLS_IN).take(pa.array(plan.sells_in)),
            "case_factor": plan.case_factor,
            "true_adi": np.round(1.0 / demand.occurrence, 6),
            "true_cv2": np.round(demand.size_cv2, 6),
            "realised_adi": np.round(realised_adi, 6),
            "realised_cv2": np.round(realised_cv2, 6),
            "realised_pattern": pa.array(demand_pattern(realised_adi, realised_cv2).astype(str)),
            "true_mean_weekly_qty": np.round(expected_weekly_qty, 4),
            UNIT_PRICE: unit_price,
            SUPPLIER_ID: supplier_codes(supplier),
            "supplier_profile": pa.array([p.name for p in SUPPLIER_PROFILES]).take(
                pa.array(profile)
            ),
            "true_lead_time_mean_days": by_profile(
                [p.lead_time_mean_days for p in SUPPLIER_PROFILES]
            ),
            "true_lead_time_sd_days": by_profile([p.lead_time_sd_days for p in SUPPLIER_PROFILES]),
            "supplier_on_time_rate": np.round(
                by_profile([on_time_probability(p) for p in SUPPLIER_PROFILES]), 6
            ),
            "supplier_fill_rate": by_profile([p.fill_rate for p in SUPPLIER_PROFILES]),
            "expected_total_qty": sum(r.qty for r in regions).astype(np.int64),
            "expected_total_revenue_gbp": np.round(sum(r.revenue for r in regions), 4),
            "expected_sale_lines": sum(r.n_lines for r in regions),
        }
    )
