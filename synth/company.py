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
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from ml.config import Workspace
from ml.errors import StrataError
from synth.erp import extract_lines
from synth.erp import extract_table as region_extract_table
from synth.files import HISTORY_END, HistoryCalendar, history_calendar, write_csv, write_table
from synth.layout import REPORTING_CURRENCY, synthetic_workspace_config
from synth.master_files import MasterFiles, ProductCodes, master_files, product_codes
from synth.patterns import SEGMENTS, PlantedDemand, weekly_demand
from synth.plan import Lines, Plan, fx_rates, planted_plan, regional_lines, unit_prices
from synth.styles import EU_STYLE, US_STYLE, RegionStyle
from synth.supply import LeadTimeShift, supplier_assignment
from synth.supply_files import Suppliers, SupplyFile, inventory_file, supply_file
from synth.truth import RegionResult, file_counts, ground_truth

__all__ = ["HISTORY_END", "MIN_WEEKS", "DemandShift", "LeadTimeShift", "write_synthetic_company"]

MIN_WEEKS = 8


@dataclass(frozen=True)
class DemandShift:
    """A planted drift: from week `from_week` on, one planted segment's demand is `factor` times."""

    segment: str  # a planted segment name (synth.patterns.SEGMENTS)
    from_week: int  # index into the history's weeks, 0 = the first week
    factor: float = 2.0


@dataclass(frozen=True)
class _Streams:
    """One independent random stream per part of the company (same seed, same files)."""

    plan: np.random.Generator
    demand: np.random.Generator
    price: np.random.Generator
    eu: np.random.Generator
    us: np.random.Generator
    supply: np.random.Generator
    stock: np.random.Generator
    master: np.random.Generator

    @classmethod
    def spawn(cls, seed: int) -> _Streams:
        """The eight streams of `seed`, in a fixed order."""
        return cls(*(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)))


@dataclass(frozen=True)
class _Planted:
    """What the company sells: the plan, its weekly demand, prices, FX and regional lines."""

    plan: Plan
    demand: PlantedDemand
    expected_weekly_qty: np.ndarray  # base units
    unit_price: np.ndarray  # GBP per base unit
    fx: dict[str, np.ndarray]
    eu_sales: Lines
    us_sales: Lines


@dataclass(frozen=True)
class _Written:
    """The files written from the planted company, and what the truth files need of them."""

    eu: RegionResult
    us: RegionResult
    master: MasterFiles
    supply: SupplyFile
    inventory: Path
    suppliers: Suppliers
    eu_paths: list[Path]
    us_paths: list[Path]


def write_synthetic_company(
    out: Path | str,
    *,
    n_skus: int = 1000,
    n_weeks: int = 104,
    seed: int = 7,
    demand_shift: DemandShift | None = None,
    lead_time_shift: LeadTimeShift | None = None,
    monthly_extracts: bool = False,
) -> list[Path]:
    """Write the synthetic company's files into `out`; returns the paths written.

    `monthly_extracts` writes each regional extract as one file per calendar month in a folder
    of its own (``erp_eu/2023-01.csv``, ...), the workspace reading them by a pattern; the rows
    are the same as in the single file.

    `demand_shift` plants a drift (e.g. one segment's demand doubling from a week on); the
    ground truth keeps the planted segments, and the truth's expected totals follow the shift.
    `lead_time_shift` plants one supplier's lead times growing from a week on (supply.csv).
    """
    _check_size(n_skus, n_weeks)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = _Streams.spawn(seed)
    cal = history_calendar(n_weeks)
    planted = _planted(n_skus, n_weeks, cal, rng, demand_shift)
    product = product_codes(n_skus, rng.master)
    written = _write_sources(out, planted, cal, product, rng, lead_time_shift, monthly_extracts)
    truth = ground_truth(
        planted.plan,
        planted.demand,
        planted.expected_weekly_qty,
        planted.unit_price,
        cal,
        product.sku_ids,
        written.suppliers.supplier,
        written.suppliers.profile,
        written.master.launch_day,
        (written.eu, written.us),
    )
    truth_path = write_csv(truth, out / "ground_truth.csv")
    counts_path = _write_truth_counts(out, seed, n_skus, n_weeks, cal, written)
    config_path = _write_config(out, n_skus, n_weeks, seed, monthly_extracts)
    return [
        *written.eu_paths,
        *written.us_paths,
        *written.master.paths,
        written.supply.path,
        written.inventory,
        truth_path,
        counts_path,
        config_path,
    ]


def _shifted(demand: PlantedDemand, plan: Plan, shift: DemandShift | None) -> PlantedDemand:
    """`demand` with the planted drift applied (whole units, rounded), or as it was."""
    if shift is None:
        return demand
    names = [s.name for s in SEGMENTS]
    if shift.segment not in names:
        raise StrataError(
            f"demand_shift.segment {shift.segment!r} is not a planted segment; use one of "
            f"{', '.join(names)}"
        )
    if not 0 <= shift.from_week < demand.qty.shape[0]:
        raise StrataError(
            f"demand_shift.from_week {shift.from_week} is outside the history's "
            f"{demand.qty.shape[0]} weeks; use 0 .. {demand.qty.shape[0] - 1}"
        )
    qty = demand.qty.copy()
    cols = plan.segment == names.index(shift.segment)
    qty[shift.from_week :, cols] = np.rint(qty[shift.from_week :, cols] * shift.factor)
    return replace(demand, qty=qty.astype(demand.qty.dtype))


def _planted(
    n_skus: int,
    n_weeks: int,
    cal: HistoryCalendar,
    rng: _Streams,
    shift: DemandShift | None = None,
) -> _Planted:
    plan = planted_plan(n_skus, n_weeks, rng.plan)
    demand = weekly_demand(plan.pattern, plan.size_mean, plan.first_week, n_weeks, rng.demand)
    demand = _shifted(demand, plan, shift)
    base_factor = np.where(plan.sells_in == 0, plan.case_factor, 1)
    expected_weekly_qty = demand.occurrence * demand.size_mean * base_factor
    unit_price = unit_prices(plan, expected_weekly_qty, rng.price)
    fx = fx_rates(cal.months, rng.price)
    eu_sales, us_sales = regional_lines(plan, demand.qty)
    return _Planted(plan, demand, expected_weekly_qty, unit_price, fx, eu_sales, us_sales)


def _write_sources(
    out: Path,
    planted: _Planted,
    cal: HistoryCalendar,
    product: ProductCodes,
    rng: _Streams,
    lead_time_shift: LeadTimeShift | None = None,
    monthly: bool = False,
) -> _Written:
    """Every source file: the two extracts, the master data, supply and inventory."""
    plan, n_skus = planted.plan, len(product.sku_ids)
    n_customers = int(np.clip(n_skus // 20, 20, 4000))
    # The two extracts are the bulk of the work: build and write them in parallel threads.
    with ThreadPoolExecutor(max_workers=2) as pool:
        eu_job = pool.submit(
            _write_region,
            EU_STYLE,
            planted.eu_sales,
            planted.unit_price * plan.case_factor,
            plan.case_factor,
            planted.fx["EUR"][cal.month_of_day],
            product.eu_codes,
            n_customers,
            cal,
            out,
            rng.eu,
            monthly,
        )
        us_job = pool.submit(
            _write_region,
            US_STYLE,
            planted.us_sales,
            planted.unit_price,
            np.ones(n_skus, dtype=np.int64),
            planted.fx["USD"][cal.month_of_day],
            product.us_codes,
            n_customers,
            cal,
            out,
            rng.us,
            monthly,
        )
        suppliers = Suppliers(*supplier_assignment(n_skus, rng.master))
        master = master_files(
            out,
            plan,
            planted.unit_price,
            planted.fx,
            cal,
            product,
            suppliers.supplier,
            suppliers.profile.size,
            rng.master,
        )
        ewq = planted.expected_weekly_qty
        supply = supply_file(
            out,
            plan,
            ewq,
            cal,
            product.sku_ids,
            suppliers,
            master.moq,
            rng.supply,
            lead_time_shift,
        )
        inventory = inventory_file(out, plan, ewq, cal, product.sku_ids, rng.stock)
        (eu, eu_paths), (us, us_paths) = eu_job.result(), us_job.result()
    return _Written(eu, us, master, supply, inventory, suppliers, eu_paths, us_paths)


def _write_region(
    style: RegionStyle,
    sales: Lines,
    price_per_unit: np.ndarray,
    factor: np.ndarray,
    rate_by_day: np.ndarray,
    product_codes: pa.Array,
    n_customers: int,
    cal: HistoryCalendar,
    out: Path,
    rng: np.random.Generator,
    monthly: bool = False,
) -> tuple[RegionResult, list[Path]]:
    """Build one regional extract from its weekly sales (source units) and write it (one file,
    or one per month); the files written."""
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
    paths = _write_extract(table, cal.month_of_day[lines.day], style, cal, out, monthly)
    revenue = qty * lines.sale_price * rate_by_day[lines.sale_day]
    result = RegionResult(
        lines=lines,
        qty=np.bincount(sku, weights=qty * factor[sku], minlength=n_skus),
        revenue=np.bincount(sku, weights=revenue, minlength=n_skus),
        n_lines=np.bincount(sku, minlength=n_skus),
    )
    return result, paths


def _write_extract(
    table: pa.Table,
    month: np.ndarray,
    style: RegionStyle,
    cal: HistoryCalendar,
    out: Path,
    monthly: bool,
) -> list[Path]:
    """The extract as one file, or with `monthly` one file per month of its rows' days (`month`:
    the calendar month of each row) in the folder ``<stem>/``, named ``YYYY-MM<suffix>``."""
    if not monthly:
        return [write_table(table, out / style.file_name, style.delimiter)]
    name = Path(style.file_name)
    folder = out / name.stem
    folder.mkdir(parents=True, exist_ok=True)
    first_day = np.unique(cal.month_of_day, return_index=True)
    paths = []
    for m, day in zip(*first_day, strict=True):
        if not (month == m).any():
            continue
        label = (cal.start + timedelta(days=int(day))).strftime("%Y-%m")
        part = table.filter(pa.array(month == m))
        paths.append(write_table(part, folder / f"{label}{name.suffix}", style.delimiter))
    return paths


def _check_size(n_skus: int, n_weeks: int) -> None:
    if n_skus < 1:
        raise StrataError(f"synth: --skus {n_skus} is below 1; ask for at least one product")
    if n_weeks < MIN_WEEKS:
        raise StrataError(
            f"synth: --weeks {n_weeks} is below {MIN_WEEKS}; planted demand patterns need at "
            f"least {MIN_WEEKS} weeks of history"
        )


def _write_truth_counts(
    out: Path, seed: int, n_skus: int, n_weeks: int, cal: HistoryCalendar, written: _Written
) -> Path:
    """truth_counts.json: the company's size and every planted row per file and reason."""
    counts = {
        "seed": seed,
        "n_skus": n_skus,
        "n_weeks": n_weeks,
        "history_start": cal.start.isoformat(),
        "history_end": (HISTORY_END - timedelta(days=1)).isoformat(),
        "reporting_currency": REPORTING_CURRENCY,
        "files": {
            EU_STYLE.file_name: file_counts(written.eu.lines, EU_STYLE.source, "bad_number"),
            US_STYLE.file_name: file_counts(written.us.lines, US_STYLE.source, "missing_value"),
            written.supply.path.name: {
                "source": "supply",
                "rows": written.supply.n_orders,
                "open_orders": written.supply.open_orders,
            },
        },
    }
    path = out / "truth_counts.json"
    path.write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
    return path


def _write_config(out: Path, n_skus: int, n_weeks: int, seed: int, monthly: bool) -> Path:
    config = synthetic_workspace_config(n_weeks, monthly)
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
