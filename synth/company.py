"""A seeded synthetic multi-source company with planted segments, and its ground truth.

`write_synthetic_company(out, n_skus=, n_weeks=, seed=)` writes two regional ERP extracts with
different schemas, units and currencies (EU: csv, cases, EUR; US: parquet, each, USD), the
product master, SKU cross-reference, unit-of-measure and FX tables, supplier purchase orders
with receipts, weekly inventory, `ground_truth.csv` (planted segment, demand pattern, value
class, supplier profile and the expected harmonised totals per product), `truth_counts.json`
(every planted bad row per file and reason) and `strata.yaml`, a workspace config for it all.
Everything is vectorised over products; the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import yaml

from ml.columns import (
    CATEGORY,
    CURRENCY,
    DATE,
    DESCRIPTION,
    DESTINATION_COUNTRY,
    FACTOR_TO_BASE,
    FAMILY,
    LAUNCH_DATE,
    LOCATION_ID,
    MONTH,
    MOQ,
    ON_HAND,
    ORDER_DATE,
    PACK_SIZE,
    PO_ID,
    PROMISED_DATE,
    QTY_ORDERED,
    QTY_RECEIVED,
    RATE_TO_REPORTING,
    RECEIPT_DATE,
    REGION,
    SHELF_LIFE_DAYS,
    SKU_ID,
    SOURCE_SKU,
    SUPPLIER_COUNTRY,
    SUPPLIER_ID,
    UNIT_COST,
    UNIT_PRICE,
    UOM,
)
from ml.config import Workspace
from ml.errors import StrataError
from synth.erp import EU_STYLE, US_STYLE, ExtractLines, RegionStyle, extract_lines
from synth.erp import extract_table as region_extract_table
from synth.layout import REPORTING_CURRENCY, synthetic_workspace_config
from synth.patterns import (
    SEGMENTS,
    VALUE_SHARES,
    PlantedDemand,
    demand_pattern,
    planted_choice,
    planted_segment_index,
    realised_adi_cv2,
    weekly_demand,
)
from synth.supply import (
    SUPPLIER_PROFILES,
    inventory_on_hand,
    on_time_probability,
    purchase_orders,
    supplier_assignment,
)

__all__ = ["HISTORY_END", "MIN_WEEKS", "write_synthetic_company"]

HISTORY_END = date(2026, 11, 2)  # the Monday after the last day of history
MIN_WEEKS = 8
_AVG_WEEKLY_REVENUE = 500.0  # GBP per established product and week: sets the price level
_PO_LEAD_IN_WEEKS = 13  # purchase orders start this long before the sales history
_INVENTORY_WEEKS = 13  # weekly stock counts kept for the most recent weeks
_NEW_LAUNCH_WEEKS = (4, 10)  # new products launched this many weeks before the end
_SELLS_IN = ("EU", "US", "EU+US")
_SELLS_IN_SHARE = (0.3, 0.4, 0.3)

_FAMILIES = {
    "Bracket": "Mechanical",
    "Hinge": "Mechanical",
    "Bearing": "Mechanical",
    "Spring": "Mechanical",
    "Valve": "Fluid",
    "Filter": "Fluid",
    "Gasket": "Fluid",
    "Hose": "Fluid",
    "Pump": "Fluid",
    "Cable": "Electrical",
    "Connector": "Electrical",
    "Switch": "Electrical",
    "Relay": "Electrical",
    "Sensor": "Electrical",
    "Bolt": "Fasteners",
    "Clamp": "Fasteners",
    "Fitting": "Fasteners",
    "Lamp": "Lighting",
    "Driver": "Lighting",
    "Diffuser": "Lighting",
}
_MATERIALS = ("Steel", "Brass", "Nylon", "Alloy", "Copper", "Ceramic", "Rubber", "Zinc")
_FX_START = {"EUR": (0.86, 0.012), "USD": (0.79, 0.018)}  # GBP per unit, monthly log-sd


@dataclass(frozen=True)
class _Calendar:
    """Days of the history (day 0 = its first Monday) and the months they fall in."""

    start: date
    n_days: int
    months: list[str]  # YYYY-MM of every month touched
    month_of_day: np.ndarray

    def labels(
        self, day: np.ndarray, fmt: str = "%Y-%m-%d", valid: np.ndarray | None = None
    ) -> pa.Array:
        """Formatted dates for day indices (null where not valid), via a small label table."""
        day = np.asarray(day, dtype=np.int64)
        lo = int(day.min(initial=0))
        hi = int(day.max(initial=0))
        table = pa.array(
            [(self.start + timedelta(days=d)).strftime(fmt) for d in range(lo, hi + 1)]
        )
        return table.take(pa.array(day - lo, mask=None if valid is None else ~valid))


def _calendar(n_weeks: int) -> _Calendar:
    start = HISTORY_END - timedelta(weeks=n_weeks)
    n_days = 7 * n_weeks
    stamps = [(start + timedelta(days=d)).strftime("%Y-%m") for d in range(n_days)]
    months = sorted(set(stamps))
    index = {m: i for i, m in enumerate(months)}
    return _Calendar(start, n_days, months, np.array([index[m] for m in stamps]))


def _codes(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """prefix + zero-padded numbers, as an arrow string array."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _write_csv(table: pa.Table, path: Path, delimiter: str = ",") -> Path:
    """Plain csv: unquoted header and values (generated values never hold the delimiter)."""
    options = pcsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="none")
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((delimiter.join(table.column_names) + "\n").encode())
        pcsv.write_csv(table, sink, options)
    return path


def _write_table(table: pa.Table, path: Path, delimiter: str | None) -> Path:
    if delimiter is not None:
        return _write_csv(table, path, delimiter)
    pq.write_table(table, path)
    return path


def _fx_rates(months: list[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Monthly reporting-currency value of one EUR and one USD: a gentle random walk."""
    return {
        cur: np.round(level * np.exp(np.cumsum(rng.normal(0, sd, len(months)))), 6)
        for cur, (level, sd) in _FX_START.items()
    }


_Lines = tuple[np.ndarray, np.ndarray, np.ndarray]  # week, product, quantity


@dataclass(frozen=True)
class _Plan:
    """The planted catalogue: one entry per product."""

    segment: np.ndarray  # index into SEGMENTS
    pattern: np.ndarray
    value_class: np.ndarray
    first_week: np.ndarray  # launch week of new products, 0 for established ones
    size_mean: np.ndarray  # sell units per non-zero week
    case_factor: np.ndarray  # each per case (the EU sells in cases)
    sells_in: np.ndarray  # index into _SELLS_IN; EU-only products sell whole cases
    eu_share: np.ndarray  # share of base units sold in the EU


def _planted_plan(n_skus: int, n_weeks: int, rng: np.random.Generator) -> _Plan:
    segment = planted_segment_index(n_skus, rng)
    pattern = planted_choice(segment, [s.patterns for s in SEGMENTS], rng)
    value_class = planted_choice(segment, [s.value_classes for s in SEGMENTS], rng)
    is_new = np.array([s.new for s in SEGMENTS])[segment]
    launch_ago = rng.integers(_NEW_LAUNCH_WEEKS[0], _NEW_LAUNCH_WEEKS[1] + 1, n_skus)
    first_week = np.where(is_new, np.clip(n_weeks - launch_ago, 1, n_weeks - 2), 0)
    log_range = np.log([s.size_mean for s in SEGMENTS])[segment]
    sells_in = rng.choice(len(_SELLS_IN), size=n_skus, p=_SELLS_IN_SHARE)
    if n_skus >= 2:  # every extract has sales (a single product can feed only one region)
        for region, product in ((0, 0), (1, 1)):
            if not (sells_in == region).any():
                sells_in[product] = region
    mixed_share = rng.uniform(0.3, 0.7, n_skus)
    return _Plan(
        segment=segment,
        pattern=pattern.astype(str),
        value_class=value_class.astype(str),
        first_week=first_week,
        size_mean=np.exp(rng.uniform(log_range[:, 0], log_range[:, 1])),
        case_factor=rng.choice(np.array([6, 12]), size=n_skus),
        sells_in=sells_in,
        eu_share=np.where(sells_in == 0, 1.0, np.where(sells_in == 1, 0.0, mixed_share)),
    )


def _unit_prices(
    plan: _Plan, expected_weekly_qty: np.ndarray, rng: np.random.Generator
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


def _regional_lines(plan: _Plan, units: np.ndarray) -> tuple[_Lines, _Lines]:
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


@dataclass(frozen=True)
class _RegionResult:
    """One written extract: its rows and, per product, the totals of its clean sale lines."""

    lines: ExtractLines
    qty: np.ndarray  # base units
    revenue: np.ndarray  # reporting currency
    n_lines: np.ndarray


def _write_region(
    style: RegionStyle,
    sales: _Lines,
    price_per_unit: np.ndarray,
    factor: np.ndarray,
    rate_by_day: np.ndarray,
    product_codes: pa.Array,
    n_customers: int,
    cal: _Calendar,
    out: Path,
    rng: np.random.Generator,
) -> _RegionResult:
    """Build one regional extract from its weekly sales (source units) and write it."""
    n_skus = len(product_codes)
    week, sku, qty = sales
    lines = extract_lines(
        week=week,
        sku=sku,
        qty=qty,
        price_per_unit=price_per_unit,
        rate_by_day=rate_by_day,
        n_skus=n_skus,
        n_customers=n_customers,
        key_customer=rng.integers(0, n_customers, n_skus),
        key_share=rng.uniform(0.0, 0.6, n_skus),
        n_unknown_codes=len(style.unknown_codes),
        lowercase_codes=style.lowercase_codes,
        rng=rng,
    )
    day_labels = cal.labels(np.arange(cal.n_days), style.date_format).to_pylist()
    table = region_extract_table(lines, style, product_codes, n_customers, day_labels, rng)
    _write_table(table, out / style.file_name, style.delimiter)
    revenue = qty * lines.sale_price * rate_by_day[lines.sale_day]
    return _RegionResult(
        lines=lines,
        qty=np.bincount(sku, weights=qty * factor[sku], minlength=n_skus),
        revenue=np.bincount(sku, weights=revenue, minlength=n_skus),
        n_lines=np.bincount(sku, minlength=n_skus),
    )


def _file_counts(lines: ExtractLines, source: str, bad_qty_reason: str) -> dict[str, Any]:
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


def _check_size(n_skus: int, n_weeks: int) -> None:
    if n_skus < 1:
        raise StrataError(f"synth: --skus {n_skus} is below 1; ask for at least one product")
    if n_weeks < MIN_WEEKS:
        raise StrataError(
            f"synth: --weeks {n_weeks} is below {MIN_WEEKS}; planted demand patterns need at "
            f"least {MIN_WEEKS} weeks of history"
        )


def write_synthetic_company(
    out: Path | str, *, n_skus: int = 1000, n_weeks: int = 104, seed: int = 7
) -> list[Path]:
    """Write the synthetic company's files into `out`; returns the paths written."""
    _check_size(n_skus, n_weeks)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    r_plan, r_demand, r_price, r_eu, r_us, r_supply, r_stock, r_master = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)
    )
    cal = _calendar(n_weeks)

    plan = _planted_plan(n_skus, n_weeks, r_plan)
    demand = weekly_demand(plan.pattern, plan.size_mean, plan.first_week, n_weeks, r_demand)
    base_factor = np.where(plan.sells_in == 0, plan.case_factor, 1)
    expected_weekly_qty = demand.occurrence * demand.size_mean * base_factor
    unit_price = _unit_prices(plan, expected_weekly_qty, r_price)
    fx = _fx_rates(cal.months, r_price)
    eu_sales, us_sales = _regional_lines(plan, demand.qty)

    sku_ids = _codes("SKU", np.arange(1, n_skus + 1), max(5, len(str(n_skus))))
    eu_numbers = 1000 + 3 * r_master.permutation(n_skus)  # numeric codes with leading zeros
    eu_codes = _codes("", eu_numbers, 7)
    us_codes = _codes("IT-", 100_000 + r_master.permutation(n_skus), 6)
    n_customers = int(np.clip(n_skus // 20, 20, 4000))

    # The two extracts are the bulk of the work: build and write them in parallel threads.
    with ThreadPoolExecutor(max_workers=2) as pool:
        eu_job = pool.submit(
            _write_region,
            EU_STYLE,
            eu_sales,
            unit_price * plan.case_factor,
            plan.case_factor,
            fx["EUR"][cal.month_of_day],
            eu_codes,
            n_customers,
            cal,
            out,
            r_eu,
        )
        us_job = pool.submit(
            _write_region,
            US_STYLE,
            us_sales,
            unit_price,
            np.ones(n_skus, dtype=np.int64),
            fx["USD"][cal.month_of_day],
            us_codes,
            n_customers,
            cal,
            out,
            r_us,
        )
        supplier, supplier_profile, supplier_country = supplier_assignment(n_skus, r_master)
        master = _master_files(
            out,
            plan,
            unit_price,
            fx,
            cal,
            sku_ids,
            eu_codes,
            us_codes,
            eu_numbers,
            supplier,
            supplier_profile,
            r_master,
        )
        supply_path, open_orders, n_orders = _supply_file(
            out,
            plan,
            expected_weekly_qty,
            cal,
            sku_ids,
            supplier,
            supplier_profile,
            supplier_country,
            master.moq,
            r_supply,
        )
        inventory_path = _inventory_file(out, plan, expected_weekly_qty, cal, sku_ids, r_stock)
        eu, us = eu_job.result(), us_job.result()

    truth_path = _write_csv(
        _ground_truth(
            plan,
            demand,
            expected_weekly_qty,
            unit_price,
            cal,
            sku_ids,
            supplier,
            supplier_profile,
            master.launch_day,
            (eu, us),
        ),
        out / "ground_truth.csv",
    )
    counts = {
        "seed": seed,
        "n_skus": n_skus,
        "n_weeks": n_weeks,
        "history_start": cal.start.isoformat(),
        "history_end": (HISTORY_END - timedelta(days=1)).isoformat(),
        "reporting_currency": REPORTING_CURRENCY,
        "files": {
            EU_STYLE.file_name: _file_counts(eu.lines, EU_STYLE.source, "bad_number"),
            US_STYLE.file_name: _file_counts(us.lines, US_STYLE.source, "missing_value"),
            supply_path.name: {"source": "supply", "rows": n_orders, "open_orders": open_orders},
        },
    }
    counts_path = out / "truth_counts.json"
    counts_path.write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
    config_path = _write_config(out, n_skus, n_weeks, seed)
    return [
        out / EU_STYLE.file_name,
        out / US_STYLE.file_name,
        *master.paths,
        supply_path,
        inventory_path,
        truth_path,
        counts_path,
        config_path,
    ]


@dataclass(frozen=True)
class _Master:
    paths: list[Path]
    moq: np.ndarray
    launch_day: np.ndarray


def _master_files(
    out: Path,
    plan: _Plan,
    unit_price: np.ndarray,
    fx: dict[str, np.ndarray],
    cal: _Calendar,
    sku_ids: pa.Array,
    eu_codes: pa.Array,
    us_codes: pa.Array,
    eu_numbers: np.ndarray,
    supplier: np.ndarray,
    supplier_profile: np.ndarray,
    rng: np.random.Generator,
) -> _Master:
    """products.csv, sku_xref.csv, uom.csv and fx.csv."""
    n = len(sku_ids)
    family_names = list(_FAMILIES)
    family = pa.array(rng.integers(0, len(family_names), n))
    material = pa.array(rng.integers(0, len(_MATERIALS), n))
    margin = rng.uniform(0.15, 0.55, n)
    shelf_life = np.where(
        rng.random(n) < 0.25,
        rng.integers(30, 366, n),
        rng.choice(np.array([730, 1825, 3650]), n),
    )
    launch_day = np.where(plan.first_week > 0, plan.first_week * 7, -rng.integers(60, 1500, n))
    moq = plan.case_factor * rng.choice(np.array([1, 2, 4, 10]), n)
    families = pa.array(family_names).take(family)
    supplier_ids = _codes("SUP", np.arange(1, supplier_profile.size + 1), 4)
    products = {
        SKU_ID: sku_ids,
        DESCRIPTION: pc.binary_join_element_wise(
            pa.array(_MATERIALS).take(material),
            families,
            pc.cast(pa.array(eu_numbers), pa.string()),
            " ",
        ),
        FAMILY: families,
        CATEGORY: pa.array([_FAMILIES[f] for f in family_names]).take(family),
        UNIT_COST: np.round(unit_price * (1 - margin), 2),
        UNIT_PRICE: unit_price,
        UOM: pa.array(["EA"] * n),
        SHELF_LIFE_DAYS: shelf_life,
        LAUNCH_DATE: cal.labels(launch_day),
        SUPPLIER_ID: supplier_ids.take(pa.array(supplier)),
        MOQ: moq,
        PACK_SIZE: plan.case_factor,
    }
    xref = {
        REGION: pa.array([EU_STYLE.region] * n + [US_STYLE.region] * n),
        SOURCE_SKU: pa.concat_arrays([eu_codes, us_codes]),
        SKU_ID: pa.concat_arrays([sku_ids, sku_ids]),
    }
    uom = {
        SKU_ID: sku_ids.take(pa.array(np.repeat(np.arange(n), 2))),
        UOM: pa.array(["EA", "CS"] * n),
        FACTOR_TO_BASE: np.column_stack([np.ones(n, dtype=np.int64), plan.case_factor]).ravel(),
    }
    fx_rows = {
        MONTH: pa.array([m for m in cal.months for _ in fx]),
        CURRENCY: pa.array(list(fx) * len(cal.months)),
        RATE_TO_REPORTING: np.column_stack(list(fx.values())).ravel(),
    }
    paths = [
        _write_csv(pa.table(table), out / f"{name}.csv")
        for name, table in (
            ("products", products),
            ("sku_xref", xref),
            ("uom", uom),
            ("fx", fx_rows),
        )
    ]
    return _Master(paths=paths, moq=moq, launch_day=launch_day)


def _supply_file(
    out: Path,
    plan: _Plan,
    expected_weekly_qty: np.ndarray,
    cal: _Calendar,
    sku_ids: pa.Array,
    supplier: np.ndarray,
    supplier_profile: np.ndarray,
    supplier_country: np.ndarray,
    moq: np.ndarray,
    rng: np.random.Generator,
) -> tuple[Path, int, int]:
    """supply.csv: purchase orders with promised and actual receipts; open orders have none."""
    pos = purchase_orders(
        expected_weekly_qty,
        plan.case_factor,
        moq,
        plan.first_week,
        plan.eu_share,
        supplier_profile[supplier],
        cal.n_days // 7,
        _PO_LEAD_IN_WEEKS,
        rng,
    )
    supplier_ids = _codes("SUP", np.arange(1, supplier_profile.size + 1), 4)
    table = pa.table(
        {
            SKU_ID: sku_ids.take(pa.array(pos.sku)),
            SUPPLIER_ID: supplier_ids.take(pa.array(supplier[pos.sku])),
            PO_ID: _codes("PO", np.arange(1, pos.sku.size + 1), 7),
            ORDER_DATE: cal.labels(pos.order_day),
            PROMISED_DATE: cal.labels(pos.promised_day),
            RECEIPT_DATE: cal.labels(pos.receipt_day, valid=pos.received),
            QTY_ORDERED: pos.qty_ordered,
            QTY_RECEIVED: pa.array(pos.qty_received, mask=~pos.received),
            SUPPLIER_COUNTRY: pa.array(supplier_country.astype(str)).take(
                pa.array(supplier[pos.sku])
            ),
            DESTINATION_COUNTRY: pa.array(["US", "NL"]).take(pa.array(pos.to_eu.astype(np.int8))),
        }
    )
    path = _write_csv(table, out / "supply.csv")
    return path, int((~pos.received).sum()), int(pos.sku.size)


def _inventory_file(
    out: Path,
    plan: _Plan,
    expected_weekly_qty: np.ndarray,
    cal: _Calendar,
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
    return _write_csv(table, out / "inventory.csv")


def _ground_truth(
    plan: _Plan,
    demand: PlantedDemand,
    expected_weekly_qty: np.ndarray,
    unit_price: np.ndarray,
    cal: _Calendar,
    sku_ids: pa.Array,
    supplier: np.ndarray,
    supplier_profile: np.ndarray,
    launch_day: np.ndarray,
    regions: tuple[_RegionResult, ...],
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
            "sales_regions": pa.array(_SELLS_IN).take(pa.array(plan.sells_in)),
            "case_factor": plan.case_factor,
            "true_adi": np.round(1.0 / demand.occurrence, 6),
            "true_cv2": np.round(demand.size_cv2, 6),
            "realised_adi": np.round(realised_adi, 6),
            "realised_cv2": np.round(realised_cv2, 6),
            "realised_pattern": pa.array(demand_pattern(realised_adi, realised_cv2).astype(str)),
            "true_mean_weekly_qty": np.round(expected_weekly_qty, 4),
            UNIT_PRICE: unit_price,
            SUPPLIER_ID: _codes("SUP", supplier + 1, 4),
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


def _write_config(out: Path, n_skus: int, n_weeks: int, seed: int) -> Path:
    config = synthetic_workspace_config(n_weeks)
    Workspace.model_validate(config)  # an invalid config here is a bug in this module
    header = (
        "# Workspace for the synthetic company written by `strata synth`"
        f" (seed {seed}, {n_skus} products, {n_weeks} weeks).\n"
        "# Paths are relative to this folder; ground_truth.csv and truth_counts.json are the\n"
        "# planted answers, not sources.\n"
    )
    path = out / "strata.yaml"
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    path.write_text(header + body, encoding="utf-8")
    return path
