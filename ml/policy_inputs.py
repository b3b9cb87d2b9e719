"""Per product: its segment's policy joined from the catalogue and every formula input (pure).

Times are converted into the demand's periods: lead time ``L = lead_time_mean_days /
period_days``, ``sigma_L = lead_time_sd_days / period_days``, review period ``R =
review_period_days / period_days`` (0 for continuous review); a week is 7 days, a month
365.25 / 12. Demand ``d`` and ``sigma_d`` are the snapshot's ``mean_qty`` and ``std_qty`` (per
period). A unit is valued at ``unit_cost``, else at ``unit_price x (1 - default margin)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue
from ml.like_items import DEMAND_SOURCE, like_item_demand

SERVICE_BANDS = "service_bands"  # per row: its segment's (edges, levels), or None

__all__ = [
    "PERIOD_DAYS",
    "POLICY_KINDS",
    "SERVICE_BANDS",
    "periods_per_year",
    "policy_inputs",
    "with_uniform_service_level",
]

Array = NDArray[np.float64]
PERIOD_DAYS = {"week": 7.0, "month": 365.25 / 12.0}
POLICY_KINDS = ("(s, Q)", "(R, S)", "(R, s, Q)")
_DAYS_PER_YEAR = 365.25

_POLICY_FIELDS = [
    C.TARGET_SERVICE_LEVEL,
    C.SERVICE_LEVEL_TYPE,
    C.REVIEW,
    C.REVIEW_PERIOD_DAYS,
    C.ORDER_RULE,
    "order_periods",
    "ordering_cost",
    "holding_rate",
    C.LTD_METHOD,
    "cost_based_switch",
    SERVICE_BANDS,
]


def periods_per_year(bucket: str) -> float:
    """Calendar periods in a year: 52.18 weeks or 12 months."""
    return _DAYS_PER_YEAR / PERIOD_DAYS[bucket]


def _bands(bands: list | None) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """A segment's service bands as (inner edges, levels), or None."""
    if not bands:
        return None
    edges = tuple(float(b.cycle_value_below) for b in bands[:-1])
    return edges, tuple(float(b.service_level) for b in bands)


def _catalogue_policies(catalogue: Catalogue) -> pd.DataFrame:
    """One row per segment with its policy's fields (the join table)."""
    rows = []
    for s in catalogue.segments:
        p, q = s.policy, s.policy.order_quantity
        rows.append(
            {
                SEGMENT: s.name,
                C.TARGET_SERVICE_LEVEL: p.service_level,
                C.SERVICE_LEVEL_TYPE: p.service_level_type,
                C.REVIEW: p.review,
                C.REVIEW_PERIOD_DAYS: float(p.review_period_days or 0),
                C.ORDER_RULE: q.rule,
                "order_periods": float(q.periods) if q.periods else np.nan,
                "ordering_cost": q.ordering_cost if q.ordering_cost else np.nan,
                "holding_rate": q.holding_rate if q.holding_rate else np.nan,
                C.LTD_METHOD: p.lead_time_demand,
                "cost_based_switch": p.cost_based_service_level,
                SERVICE_BANDS: _bands(p.service_bands),
            }
        )
    return pd.DataFrame(rows)


def _number(frame: pd.DataFrame, column: str) -> Array:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _review_frequency(review: pd.Series, days: Array) -> NDArray[np.object_]:
    """ "continuous", "weekly", "every 2 weeks", ... worded once per distinct review period."""
    distinct, which = np.unique(np.nan_to_num(days, nan=0.0), return_inverse=True)
    named = {7.0: "weekly", 14.0: "every 2 weeks", 28.0: "every 4 weeks"}
    words = np.array([named.get(float(d), f"every {d:g} days") for d in distinct], dtype=object)
    return np.where(review.to_numpy() == "continuous", "continuous", words[which.reshape(-1)])


def policy_inputs(
    features: pd.DataFrame,
    catalogue: Catalogue,
    *,
    bucket: str,
    default_margin: float,
    margin_by_category: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Per product: its segment's policy and every formula input, times in the demand's periods.

    ``features`` is a snapshot with a ``segment`` column. A segment the catalogue does not hold
    keeps missing policy fields (:func:`segment_policies` flags it, naming the segment).
    Returns a new frame in the order of ``features``.
    """
    if bucket not in PERIOD_DAYS:
        raise ValueError(f"bucket {bucket!r} is not one of {', '.join(PERIOD_DAYS)}")
    days = PERIOD_DAYS[bucket]
    per = _catalogue_policies(catalogue)
    seg = features[SEGMENT].astype("str").reset_index(drop=True)
    joined = pd.DataFrame({SEGMENT: seg}).merge(per, on=SEGMENT, how="left", sort=False)
    out = pd.DataFrame({C.SKU_ID: features[C.SKU_ID].astype("str").to_numpy(), SEGMENT: seg})
    for name in _POLICY_FIELDS:
        out[name] = joined[name].to_numpy()
    out["known_segment"] = seg.isin(per[SEGMENT]).to_numpy()
    review_days = _number(out, C.REVIEW_PERIOD_DAYS)
    out[C.REVIEW_PERIOD] = review_days / days
    out[C.REVIEW_FREQUENCY] = _review_frequency(out[C.REVIEW].fillna(""), review_days)
    out[C.REVIEWS_PER_YEAR] = np.where(
        out[C.REVIEW].to_numpy() == "periodic",
        _DAYS_PER_YEAR / np.where(review_days > 0, review_days, np.nan),
        _DAYS_PER_YEAR,  # continuous review counted as a daily look
    )
    out[C.POLICY] = np.where(
        out[C.REVIEW].to_numpy() == "continuous",
        POLICY_KINDS[0],
        np.where(out[C.ORDER_RULE].to_numpy() == "lot_for_lot", POLICY_KINDS[1], POLICY_KINDS[2]),
    )
    out[C.PERIOD] = bucket
    out[C.PERIOD_DAYS] = days
    out[C.PERIODS_PER_YEAR] = periods_per_year(bucket)
    demand = like_item_demand(features)
    out[C.DEMAND_MEAN] = demand["mean_qty"].to_numpy()
    out[C.DEMAND_SD] = demand["std_qty"].to_numpy()
    out[DEMAND_SOURCE] = demand[DEMAND_SOURCE].to_numpy()
    out[C.LEAD_TIME_DAYS] = _number(features, "lead_time_mean_days")
    out[C.LEAD_TIME_SD_DAYS] = _number(features, "lead_time_sd_days")
    out[C.LEAD_TIME] = out[C.LEAD_TIME_DAYS] / days
    out[C.LEAD_TIME_SD] = out[C.LEAD_TIME_SD_DAYS] / days
    for name in ("adi", "cv2"):
        out[name] = demand[name].to_numpy()
    out[C.MOQ] = np.nan_to_num(_number(features, C.MOQ), nan=0.0)
    out[C.PACK_SIZE] = _number(features, C.PACK_SIZE)
    price = _number(features, C.UNIT_PRICE)
    cost = _number(features, C.UNIT_COST)
    margin = np.full(len(out), float(default_margin))
    if margin_by_category and C.CATEGORY in features.columns:
        by_cat = features[C.CATEGORY].map(dict(margin_by_category)).to_numpy(dtype=np.float64)
        margin = np.where(np.isnan(by_cat), margin, by_cat)
    has_cost = np.isfinite(cost) & (cost > 0)
    out[C.UNIT_PRICE] = price
    out[C.UNIT_VALUE] = np.where(has_cost, cost, price * (1.0 - margin))
    out[C.UNIT_VALUE_SOURCE] = np.where(
        has_cost,
        "unit_cost",
        np.where(np.isfinite(price), "unit_price less default margin", "missing"),
    )
    return out


def with_uniform_service_level(inputs: pd.DataFrame, level: float, kind: str) -> pd.DataFrame:
    """The same inputs with one service level of one type for every product: no cost switch,
    no service bands."""
    return inputs.assign(
        **{
            C.TARGET_SERVICE_LEVEL: float(level),
            C.SERVICE_LEVEL_TYPE: kind,
            "cost_based_switch": False,
            SERVICE_BANDS: None,
        }
    )
