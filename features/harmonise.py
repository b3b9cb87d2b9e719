"""Harmonise one source into its canonical table: dedupe, type, filter, map codes, units, currency.

The steps, in order; a row that fails a step leaves with a quarantine reason and meets no later
step:

1. ``exact_duplicate``: the whole raw row repeats an earlier one (the first is kept).
2. parsing: ``bad_number``, ``bad_date``, ``bad_flag``, ``missing_value``, ``no_match``
   (see ``features.fields``).
3. ``out_of_range``: the row's date (``date_field``) is before ``date_from`` or after
   ``date_to`` (inclusive bounds, whole days).
4. exclusions: the ``reason`` of the first ``exclude`` rule that holds.
5. kinds (demand only): the first ``kind_rules`` rule that holds, else ``sale``.
6. ``unknown_sku``: a source giving its own codes (``source_sku``) has a (region, code)
   pair that is not in the SKU cross-reference; sources giving ``sku_id`` are not mapped.
7. ``unknown_uom``: no factor to the base unit for (sku_id, unit), and, judged in the same
   step, ``missing_fx_rate``: no rate for (month of the row's date, currency); product prices
   use the latest month's rate of their currency.
8. the table's contract (``ml.contracts``): ``missing_value``, ``duplicate_key`` or
   ``contract:<check>``.

Before these, the connector sets aside csv rows with the wrong number of cells
(``wrong_field_count``); after them, ingest quarantines a product whose sku_id an earlier
products source already gave (``duplicate_key``).

Quantities end in the base unit (qty * factor_to_base); money ends in the reporting currency
(value * rate_to_reporting). Demand revenue is the mapped revenue, else qty * unit_price, both
in the source's unit and currency; qty keeps the source's sign (cancellations are negative).
A source that names no unit is in the base unit; one that names no currency is in the
reporting currency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.fields import Fields, parsed_fields, typed_missing
from features.quarantine import ROW_FIELD, no_problems, problems
from features.rules import excluded_by, kinds
from ml import columns as C
from ml.config import Harmonisation, Source
from ml.contracts import CONTRACTS, DATE_DTYPE, SOURCE_FIELDS, contract_failures, table_dtypes

__all__ = ["Harmonised", "References", "contract_table", "default_date_field", "harmonise"]

_SKU_TABLES = ("demand", "products", "supply", "inventory")
_MONEY_TABLES = ("demand", "products")


@dataclass(frozen=True)
class References:
    """Accepted rows of the harmonisation reference tables (None when not declared)."""

    sku_xref: pd.DataFrame | None = None
    uom: pd.DataFrame | None = None
    fx: pd.DataFrame | None = None


@dataclass(frozen=True)
class Harmonised:
    """One source after harmonisation: accepted rows (index = raw row position) and problems."""

    rows: pd.DataFrame  # the contract's columns (+ description for demand sources)
    problems: pd.DataFrame
    duplicates_removed: int


def contract_table(table: str) -> str:
    """The contract a source table's rows are checked against (demand sources give lines)."""
    return "demand_lines" if table == "demand" else table


def default_date_field(table: str) -> str | None:
    """The date a source's date_from/date_to and fx month read, unless it sets date_field."""
    return {"demand": C.DATE, "inventory": C.DATE, "supply": C.RECEIPT_DATE, "fx": C.MONTH}.get(
        table
    )


def exact_duplicates(raw: pd.DataFrame, source_rows: pd.Series) -> pd.DataFrame:
    """Rows repeating an earlier row cell for cell, each pointing at the row it repeats."""
    group = raw.groupby(list(raw.columns), sort=False, dropna=False).ngroup().to_numpy()
    repeated = pd.Series(group).duplicated().to_numpy()
    if not repeated.any():
        return no_problems()
    first = pd.Series(np.arange(len(raw))).groupby(group).transform("min").to_numpy()
    shown = pd.Series(source_rows.to_numpy()[first[repeated]], index=raw.index[repeated])
    return problems(
        raw.index[repeated], ROW_FIELD, "same as row " + shown.astype("str"), "exact_duplicate"
    )


def harmonise(
    raw: pd.DataFrame,
    source: Source,
    settings: Harmonisation,
    refs: References,
    source_file: str,
    source_rows: pd.Series,
) -> Harmonised:
    """The accepted canonical rows of one source and a problem for every row left out.

    ``raw`` must have a RangeIndex (row label = position). Each step judges every row; only
    the problems of rows no earlier step rejected are kept, so a row leaves under the first
    step it fails (within one step, e.g. parsing, all its problems are kept).
    """
    dupes = exact_duplicates(raw, source_rows)
    fields = parsed_fields(raw, source)
    rows = fields.values
    alive = np.ones(len(raw), dtype=bool)
    alive[dupes["row"].to_numpy()] = False
    found = [dupes]

    def reject(step_problems: pd.DataFrame) -> None:
        fresh = step_problems[alive[step_problems["row"].to_numpy()]]
        found.append(fresh)
        alive[fresh["row"].to_numpy()] = False

    reject(fields.problems)
    reject(_out_of_range(rows, fields, source))
    reject(_excluded(rows, fields, source))
    if source.table == "demand":
        rows = rows.assign(**{C.KIND: kinds(rows, source.kind_rules)})
    if C.SOURCE_SKU in rows and C.SKU_ID not in rows:
        global_sku, unknown = _cross_referenced(rows, fields, refs.sku_xref)
        rows = rows.assign(**{C.SKU_ID: global_sku})
        reject(unknown)
    # a row may lack both a unit factor and a rate: both are reported
    factor, uom_problems = (
        _factor_to_base(rows, settings.base_uom, refs.uom)
        if source.table in _SKU_TABLES
        else (pd.Series(1.0, index=rows.index), no_problems())
    )
    rate, fx_problems = _rate_to_reporting(rows, source, settings.reporting_currency, refs.fx)
    reject(pd.concat([uom_problems, fx_problems], ignore_index=True))
    rows, factor, rate = rows[alive], factor[alive], rate[alive]

    out = _canonical(rows, source, settings, factor, rate, source_file, source_rows)
    out, broken = _within_contract(out, source)
    found.append(broken)
    return Harmonised(
        rows=out, problems=pd.concat(found, ignore_index=True), duplicates_removed=len(dupes)
    )


def _within_contract(out: pd.DataFrame, source: Source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows that keep the table's contract, and a problem per failing row and field."""
    table = contract_table(source.table)
    failures = contract_failures(table, out[list(CONTRACTS[table].columns)])
    if source.collapse:  # several rows per sku_id are expected: merged into one later
        failures = failures[failures["reason"] != "duplicate_key"]
    if failures.empty:
        return out, no_problems()
    found = pd.DataFrame(
        {
            "row": failures["index"].to_numpy(dtype="int64"),
            C.FIELD: failures["field"].to_numpy(),
            C.VALUE: failures["value"].to_numpy(),
            C.REASON: failures["reason"].to_numpy(),
        }
    ).astype({C.FIELD: "str", C.VALUE: "str", C.REASON: "str"})
    return out.drop(index=pd.unique(found["row"].to_numpy())), found


def _out_of_range(rows: pd.DataFrame, fields: Fields, source: Source) -> pd.DataFrame:
    field = source.date_field or default_date_field(source.table)
    if (source.date_from is None and source.date_to is None) or field not in rows:
        return no_problems()
    day = rows[field]
    out = pd.Series(False, index=rows.index)
    if source.date_from is not None:
        out |= day < pd.Timestamp(source.date_from)
    if source.date_to is not None:
        out |= day >= pd.Timestamp(source.date_to) + pd.Timedelta(days=1)
    return problems(rows.index[out.to_numpy()], field, fields.raw[field], "out_of_range")


def _excluded(rows: pd.DataFrame, fields: Fields, source: Source) -> pd.DataFrame:
    if not source.exclude:
        return no_problems()
    chosen = excluded_by(rows, source.exclude).to_numpy()
    found = [no_problems()]
    for position, rule in enumerate(source.exclude):
        field = rule.when[0].field
        found.append(
            problems(rows.index[chosen == position], field, fields.raw[field], rule.reason)
        )
    return pd.concat(found, ignore_index=True)


def _region_key(rows: pd.DataFrame) -> pd.Series:
    if C.REGION in rows:
        return rows[C.REGION].fillna("")
    return pd.Series("", index=rows.index, dtype="str")


def _cross_referenced(
    rows: pd.DataFrame, fields: Fields, xref: pd.DataFrame | None
) -> tuple[pd.Series, pd.DataFrame]:
    """Global sku_id per row from (region, source_sku); unknown_sku where the pair is absent.

    The region is the row's (mapped, constant or the source's); a cross-reference row with an
    empty region matches rows without one.
    """
    keys = pd.DataFrame({"region": _region_key(rows), "code": rows[C.SOURCE_SKU]})
    if xref is None:  # a declaration problem, reported before reading; nothing maps
        xref = pd.DataFrame({C.REGION: [], C.SOURCE_SKU: [], C.SKU_ID: []}, dtype="str")
    table = pd.DataFrame(
        {"region": xref[C.REGION].fillna(""), "code": xref[C.SOURCE_SKU], "global": xref[C.SKU_ID]}
    )
    mapped = keys.merge(table, how="left", on=["region", "code"])["global"]
    global_sku = pd.Series(mapped.to_numpy(), index=rows.index, dtype="str")
    unknown = global_sku.isna().to_numpy()
    region = keys["region"][unknown]
    shown = fields.raw[C.SOURCE_SKU][unknown].astype("str") + region.where(
        region == "", " (region " + region + ")"
    )
    return global_sku, problems(rows.index[unknown], C.SOURCE_SKU, shown, "unknown_sku")


def _codes(rows: pd.DataFrame, field: str, default: str) -> pd.Series:
    if field not in rows:
        return pd.Series(default.upper(), index=rows.index, dtype="str")
    return rows[field].str.upper().fillna(default.upper())


def _factor_to_base(
    rows: pd.DataFrame, base_uom: str, uom: pd.DataFrame | None
) -> tuple[pd.Series, pd.DataFrame]:
    """Per row, the factor from its unit to the base unit; unknown_uom where there is none."""
    factor = pd.Series(1.0, index=rows.index)
    unit = _codes(rows, C.UOM, base_uom)
    other = (unit != base_uom.upper()).to_numpy()
    if not other.any():
        return factor, no_problems()
    keys = pd.DataFrame({"sku": rows[C.SKU_ID][other], "unit": unit[other]})
    if uom is None:
        found_factor = np.full(len(keys), np.nan)
    else:
        table = pd.DataFrame(
            {"sku": uom[C.SKU_ID], "unit": uom[C.UOM].str.upper(), "f": uom[C.FACTOR_TO_BASE]}
        )
        found_factor = keys.merge(table, how="left", on=["sku", "unit"])["f"].to_numpy()
    factor[other] = found_factor
    missing = factor.isna()
    shown = unit + " for " + rows[C.SKU_ID]
    return factor.fillna(1.0), problems(rows.index[missing.to_numpy()], C.UOM, shown, "unknown_uom")


def _rate_to_reporting(
    rows: pd.DataFrame, source: Source, reporting: str, fx: pd.DataFrame | None
) -> tuple[pd.Series, pd.DataFrame]:
    """Per row, the rate from its currency to the reporting one; missing_fx_rate where none."""
    rate = pd.Series(1.0, index=rows.index)
    if source.table not in _MONEY_TABLES:
        return rate, no_problems()
    currency = _codes(rows, C.CURRENCY, reporting)
    other = (currency != reporting.upper()).to_numpy()
    if not other.any():
        return rate, no_problems()
    table = (
        fx.assign(**{C.CURRENCY: fx[C.CURRENCY].str.upper()})
        if fx is not None
        else pd.DataFrame(
            {
                C.MONTH: pd.Series(dtype=DATE_DTYPE),
                C.CURRENCY: pd.Series(dtype="str"),
                C.RATE_TO_REPORTING: pd.Series(dtype="float64"),
            }
        )
    )
    date_field = source.date_field or default_date_field(source.table)
    if date_field is not None and date_field in rows:
        month = _month_start(rows[date_field][other])
        keys = pd.DataFrame({C.MONTH: month, C.CURRENCY: currency[other]})
        found = keys.merge(table, how="left", on=[C.MONTH, C.CURRENCY])[C.RATE_TO_REPORTING]
        shown = currency + " " + month.dt.strftime("%Y-%m").reindex(rows.index).fillna("no date")
    else:  # product prices carry no date: the latest month's rate of their currency
        latest = table.sort_values(C.MONTH).drop_duplicates(C.CURRENCY, keep="last")
        found = currency[other].map(latest.set_index(C.CURRENCY)[C.RATE_TO_REPORTING])
        shown = currency + " (latest month)"
    rate[other] = found.to_numpy()
    missing = rate.isna()
    return rate.fillna(1.0), problems(
        rows.index[missing.to_numpy()], C.CURRENCY, shown, "missing_fx_rate"
    )


def _month_start(day: pd.Series) -> pd.Series:
    return pd.Series(day.to_numpy().astype("datetime64[M]").astype(DATE_DTYPE), index=day.index)


def _column(rows: pd.DataFrame, field: str, table: str) -> pd.Series:
    if field in rows:
        return rows[field]
    return typed_missing(SOURCE_FIELDS[table].types.get(field, "text"), rows.index)


def _demand_line_values(
    rows: pd.DataFrame,
    get: Callable[[str], pd.Series],
    source: Source,
    factor: pd.Series,
    rate: pd.Series,
    source_file: str,
    source_rows: pd.Series,
) -> dict[str, pd.Series]:
    """Quantity in base units, revenue and cost in reporting currency, and each line's origin."""
    qty = get(C.QTY)
    revenue = (
        get(C.REVENUE).fillna(qty * get(C.UNIT_PRICE))
        if C.REVENUE in rows
        else qty * get(C.UNIT_PRICE)
    )
    cost = get(C.COST).fillna(qty * get(C.UNIT_COST)) if C.COST in rows else qty * get(C.UNIT_COST)
    return {
        C.QTY: qty * factor,
        C.REVENUE: revenue * rate,
        C.COST: cost * rate,
        C.SOURCE: pd.Series(source.name, index=rows.index, dtype="str"),
        C.SOURCE_FILE: pd.Series(source_file, index=rows.index, dtype="str"),
        C.SOURCE_ROW: pd.Series(source_rows.to_numpy()[rows.index.to_numpy()], index=rows.index),
    }


def _canonical(
    rows: pd.DataFrame,
    source: Source,
    settings: Harmonisation,
    factor: pd.Series,
    rate: pd.Series,
    source_file: str,
    source_rows: pd.Series,
) -> pd.DataFrame:
    """The table's contract columns from typed fields, in base units and reporting currency."""
    table = source.table
    get = lambda field: _column(rows, field, table)  # noqa: E731
    if table == "demand":
        derived = _demand_line_values(rows, get, source, factor, rate, source_file, source_rows)
        columns = [*CONTRACTS["demand_lines"].columns, C.DESCRIPTION]
    elif table == "products":
        fallback = settings.product_master
        derived = {
            C.UNIT_PRICE: get(C.UNIT_PRICE) * rate / factor,
            C.UNIT_COST: get(C.UNIT_COST) * rate / factor,
            C.MOQ: get(C.MOQ) * factor,
            C.UOM: pd.Series(settings.base_uom, index=rows.index, dtype="str"),
            C.FAMILY: get(C.FAMILY).fillna(fallback.default_family),
            C.CATEGORY: get(C.CATEGORY).fillna(fallback.default_category),
        }
        columns = list(CONTRACTS["products"].columns)
    elif table in ("supply", "inventory"):
        columns = list(CONTRACTS[table].columns)
        derived = {
            name: get(name) * factor
            for name in (C.QTY_ORDERED, C.QTY_RECEIVED, C.ON_HAND)
            if name in columns
        }
    elif table == "fx":
        derived = {C.MONTH: _month_start(get(C.MONTH))}
        columns = list(CONTRACTS[table].columns)
    else:
        columns = list(CONTRACTS[table].columns)
        derived = {}
    if C.UOM in columns and table == "uom":
        derived[C.UOM] = get(C.UOM).str.upper()
    data = {name: derived[name] if name in derived else get(name) for name in columns}
    frame = pd.DataFrame(data, index=rows.index)
    return frame.astype({name: _dtype(table, name) for name in columns if _dtype(table, name)})


def _dtype(table: str, column: str) -> str | None:
    dtypes = table_dtypes(contract_table(table))
    return "str" if column == C.DESCRIPTION and column not in dtypes else dtypes.get(column)
