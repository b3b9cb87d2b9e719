"""The planted catalogue of the synthetic company: segments, launches, prices, regional split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.patterns import SEGMENTS, VALUE_SHARES, planted_choice, planted_segment_index

__all__ = ["SELLS_IN", "Lines", "Plan", "fx_rates", "planted_plan", "regional_lines", "unit_prices"]

_AVG_WEEKLY_REVENUE = 500.0  # GBP per established product and week: sets the price level
_NEW_LAUNCH_WEEKS = (4, 10)  # new products launched this many weeks before the end
SELLS_IN = ("EU", "US", "EU+US")
_SELLS_IN_SHARE = (0.3, 0.4, 0.3)
_FX_START = {"EUR": (0.86, 0.012), "USD": (0.79, 0.018)}  # GBP per unit, monthly log-sd

Lines = tuple[np.ndarray, np.ndarray, np.ndarray]  # week, product, quantity


@dataclass(frozen=True)
class Plan:
    """The planted catalogue: one entry per product."""

    segment: np.ndarray  # index into SEGMENTS
    pattern: np.ndarray
    value_class: np.ndarray
    first_week: np.ndarray  # launch week of new products, 0 for established ones
    size_mean: np.ndarray  # sell units per non-zero week
    case_factor: np.ndarray  # each per case (the EU sells in cases)
    sells_in: np.ndarray  # index into SELLS_IN; EU-only products sell whole cases
    eu_share: np.ndarray  # share of base units sold in the EU


def planted_plan(n_skus: int, n_weeks: int, rng: np.random.Generator) -> Plan:
    segment = planted_segment_index(n_skus, rng)
    pattern = planted_choice(segment, [s.patterns for s in SEGMENTS], rng)
    value_class = planted_choice(segment, [s.value_classes for s in SEGMENTS], rng)
    is_new = np.array([s.new for s in SEGMENTS])[segment]
    launch_ago = rng.integers(_NEW_LAUNCH_WEEKS[0], _NEW_LAUNCH_WEEKS[1] + 1, n_skus)
    first_week = np.where(is_new, np.clip(n_weeks - launch_ago, 1, n_weeks - 2), 0)
    log_range = np.log([s.size_mean for s in SEGMENTS])[segment]
    sells_in = rng.choice(len(SELLS_IN), size=n_skus, p=_SELLS_IN_SHARE)
    if n_skus >= 2:  # every extract has sales (a single product can feed only one region)
        for region, product in ((0, 0), (1, 1)):
            if not (sells_in == region).any():
                sells_in[product] = region
    mixed_share = rng.uniform(0.3, 0.7, n_skus)
    return Plan(
        segment=segment,
        pattern=pattern.astype(str),
        value_class=value_class.astype(str),
        first_week=first_week,
        size_mean=np.exp(rng.uniform(log_range[:, 0], log_range[:, 1])),
        case_factor=rng.choice(np.array([6, 12]), size=n_skus),
        sells_in=sells_in,
        eu_share=np.where(sells_in == 0, 1.0, np.where(sells_in == 1, 0.0, mixed_share)),
    )


def unit_prices(
    plan: Plan, expected_weekly_qty: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """GBP list price per base unit, so each planted value class holds its share of revenue.

    Established products of class k share VALUE_SHARES[k] of the expected revenue (80/15/5),
    spread by a lognormal weight; new products earn a class-C weekly revenue.
    """
    weight = rng.lognormal(0.0, 0.25, plan.segment.size)
    established = plan.first_week == 0
    n_established = max(1, int(established.sum()))
    weekly_revenue = np.zeros(plan.segment.size)
    for cls, share in VALUE_SHARES.items():  # three classes, not products
        members = established & (plan.value_class == cls)
        if members.any():
            total = share * _AVG_WEEKLY_REVENUE * n_established
            weekly_revenue[members] = total * weight[members] / weight[members].sum()
    c_level = weekly_revenue[established & (plan.value_class == "C")]
    new_level = c_level.mean() if c_level.size else _AVG_WEEKLY_REVENUE * VALUE_SHARES["C"]
    weekly_revenue[~established] = new_level * weight[~established]
    return np.maximum(0.05, np.round(weekly_revenue / expected_weekly_qty, 2))


def regional_lines(plan: Plan, units: np.ndarray) -> tuple[Lines, Lines]:
    """Weekly sale quantities per region: EU in cases, US in each, as week-sorted lines.

    EU-only products sell whole cases; a product sold in both regions sends its EU share, in
    whole cases, to the EU and the rest, in each, to the US, so the weekly total is unchanged.
    """
    n_weeks, n_skus = units.shape
    flat = np.flatnonzero(units)  # week-major, so lines come out sorted by week
    week = np.repeat(np.arange(n_weeks, dtype=np.int32), np.count_nonzero(units, axis=1))
    sku = (flat - week.astype(np.int64) * n_skus).astype(np.int32)
    sold = units.ravel()[flat]
    f = plan.case_factor[sku].astype(sold.dtype)
    mode = plan.sells_in[sku]
    eu_cases = np.where(mode == 0, sold, 0).astype(sold.dtype)
    both = np.flatnonzero(mode == 2)
    eu_cases[both] = (sold[both] * plan.eu_share[sku[both]] / f[both]).astype(sold.dtype)
    us_each = np.where(mode == 0, 0, sold - eu_cases * f)
    eu, us = eu_cases > 0, us_each > 0
    return (week[eu], sku[eu], eu_cases[eu]), (week[us], sku[us], us_each[us])


def fx_rates(months: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Monthly reporting-currency value of one EUR and one USD: a gentle random walk."""
    return {
        cur: np.round(level * np.exp(np.cumsum(rng.normal(0, sd, len(months)))), 6)
        for cur, (level, sd) in _FX_START.items()
    }
