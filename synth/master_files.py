"""The synthetic company's master data files: products, SKU cross-reference, units and FX."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ml.columns import (
    CATEGORY,
    CURRENCY,
    DESCRIPTION,
    FACTOR_TO_BASE,
    FAMILY,
    LAUNCH_DATE,
    MONTH,
    MOQ,
    PACK_SIZE,
    RATE_TO_REPORTING,
    REGION,
    SHELF_LIFE_DAYS,
    SKU_ID,
    SOURCE_SKU,
    SUPPLIER_ID,
    UNIT_COST,
    UNIT_PRICE,
    UOM,
)
from synth.files import HistoryCalendar, codes, supplier_codes, write_csv
from synth.plan import Plan
from synth.styles import EU_STYLE, US_STYLE

__all__ = ["MasterFiles", "ProductCodes", "master_files", "product_codes"]

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


@dataclass(frozen=True)
class ProductCodes:
    """Each product's global sku_id and its code in each regional ERP."""

    sku_ids: pa.Array
    eu_numbers: np.ndarray  # the EU's numeric codes (written with leading zeros)
    eu_codes: pa.Array
    us_codes: pa.Array


def product_codes(n_skus: int, rng: np.random.Generator) -> ProductCodes:
    """Global and regional product codes; the regions number their products in their own order."""
    sku_ids = codes("SKU", np.arange(1, n_skus + 1), max(5, len(str(n_skus))))
    eu_numbers = 1000 + 3 * rng.permutation(n_skus)  # numeric codes with leading zeros
    eu_codes = codes("", eu_numbers, 7)
    us_codes = codes("IT-", 100_000 + rng.permutation(n_skus), 6)
    return ProductCodes(sku_ids, eu_numbers, eu_codes, us_codes)


@dataclass(frozen=True)
class MasterFiles:
    """The master files written, and the product fields later files need."""

    paths: list[Path]
    moq: np.ndarray
    launch_day: np.ndarray


def master_files(
    out: Path,
    plan: Plan,
    unit_price: np.ndarray,
    fx: dict[str, np.ndarray],
    cal: HistoryCalendar,
    product: ProductCodes,
    supplier: np.ndarray,
    n_suppliers: int,
    rng: np.random.Generator,
) -> MasterFiles:
    """products.csv, sku_xref.csv, uom.csv and fx.csv."""
    products, moq, launch_day = _products(
        plan, unit_price, cal, product, supplier, n_suppliers, rng
    )
    tables = {
        "products": products,
        "sku_xref": _sku_xref(product),
        "uom": _uom(product.sku_ids, plan.case_factor),
        "fx": _fx_rows(fx, cal),
    }
    paths = [write_csv(pa.table(table), out / f"{name}.csv") for name, table in tables.items()]
    return MasterFiles(paths=paths, moq=moq, launch_day=launch_day)


def _products(
    plan: Plan,
    unit_price: np.ndarray,
    cal: HistoryCalendar,
    product: ProductCodes,
    supplier: np.ndarray,
    n_suppliers: int,
    rng: np.random.Generator,
) -> tuple[dict[str, object], np.ndarray, np.ndarray]:
    """The product master's columns, its MOQs and launch days (draws in a fixed order)."""
    n = len(product.sku_ids)
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
    columns = {
        SKU_ID: product.sku_ids,
        DESCRIPTION: pc.binary_join_element_wise(
            pa.array(_MATERIALS).take(material),
            families,
            pc.cast(pa.array(product.eu_numbers), pa.string()),
            " ",
        ),
        FAMILY: families,
        CATEGORY: pa.array([_FAMILIES[f] for f in family_names]).take(family),
        UNIT_COST: np.round(unit_price * (1 - margin), 2),
        UNIT_PRICE: unit_price,
        UOM: pa.array(["EA"] * n),
        SHELF_LIFE_DAYS: shelf_life,
        LAUNCH_DATE: cal.labels(launch_day),
        SUPPLIER_ID: supplier_codes(np.arange(n_suppliers)).take(pa.array(supplier)),
        MOQ: moq,
        PACK_SIZE: plan.case_factor,
    }
    return columns, moq, launch_day


def _sku_xref(product: ProductCodes) -> dict[str, object]:
    n = len(product.sku_ids)
    return {
        REGION: pa.array([EU_STYLE.region] * n + [US_STYLE.region] * n),
        SOURCE_SKU: pa.concat_arrays([product.eu_codes, product.us_codes]),
        SKU_ID: pa.concat_arrays([product.sku_ids, product.sku_ids]),
    }


def _uom(sku_ids: pa.Array, case_factor: np.ndarray) -> dict[str, object]:
    n = len(sku_ids)
    return {
        SKU_ID: sku_ids.take(pa.array(np.repeat(np.arange(n), 2))),
        UOM: pa.array(["EA", "CS"] * n),
        FACTOR_TO_BASE: np.column_stack([np.ones(n, dtype=np.int64), case_factor]).ravel(),
    }


def _fx_rows(fx: dict[str, np.ndarray], cal: HistoryCalendar) -> dict[str, object]:
    return {
        MONTH: pa.array([m for m in cal.months for _ in fx]),
        CURRENCY: pa.array(list(fx) * len(cal.months)),
        RATE_TO_REPORTING: np.column_stack(list(fx.values())).ravel(),
    }
