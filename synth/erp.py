"""Regional ERP extracts of the synthetic company: sale lines plus planted defects, as arrow tables.

Every defect is planted on purpose and counted, so ingestion's quarantine can be checked exactly:
cancellations and returns (negative quantity, own document prefix), non-product lines (freight,
fees), lines whose product code is missing from the cross-reference, malformed rows (a date
that does not parse, a quantity that is not a number) and exact duplicate lines. Clean sale
lines are exactly the planted demand; every other row is an extra row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synth.styles import RegionStyle

__all__ = ["DEFECT_RATES", "KIND", "ExtractLines", "extract_lines", "extract_table"]

# Row kinds inside the generator (not written): one code per planted row type.
KIND = {
    "sale": 0,
    "cancellation": 1,
    "return": 2,
    "freight": 3,
    "fee": 4,
    "unknown_sku": 5,
    "bad_date": 6,
    "bad_qty": 7,
    "duplicate": 8,  # written exactly like the sale line it repeats
}

# Planted rows per clean sale line, with a floor so small companies still have a few of each.
DEFECT_RATES: dict[str, tuple[float, int]] = {
    "cancellation": (0.002, 3),
    "return": (0.001, 3),
    "freight": (0.0005, 3),
    "fee": (0.0002, 2),
    "unknown_sku": (0.0001, 2),
    "bad_date": (0.0001, 2),
    "bad_qty": (0.0001, 2),
    "duplicate": (0.0005, 3),
    "lowercase_code": (0.0002, 2),
}


@dataclass(frozen=True)
class ExtractLines:
    """The rows of one extract in file order, as integer codes, plus what was planted."""

    kind: np.ndarray  # KIND code per row
    day: np.ndarray  # day index from the first history day
    customer: np.ndarray
    code: np.ndarray  # < n_skus: product; n_skus: freight; +1: fee; +2+j: unknown code j
    qty: np.ndarray
    price: np.ndarray
    doc: np.ndarray
    lower: np.ndarray  # product code written in lower case (a clean sale line)
    sale_day: np.ndarray  # day of each clean sale line, in the caller's sale order
    sale_price: np.ndarray  # unit price of each clean sale line, in the caller's sale order
    counts: dict[str, int]


def _planted_count(n_sales: int, reason: str) -> int:
    rate, floor = DEFECT_RATES[reason]
    return max(floor, round(n_sales * rate))


def _pick(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """k different row indices out of n (k <= n), sorted."""
    return np.sort(rng.choice(n, size=k, replace=False))


def _one_per_doc(rows: np.ndarray, doc: np.ndarray) -> np.ndarray:
    """The rows, keeping the first of any that share a document."""
    _, first = np.unique(doc[rows], return_index=True)
    return np.sort(rows[first])


def extract_lines(
    week: np.ndarray,
    sku: np.ndarray,
    qty: np.ndarray,
    price_per_unit: np.ndarray,
    rate_by_day: np.ndarray,
    n_skus: int,
    n_customers: int,
    key_customer: np.ndarray,
    key_share: np.ndarray,
    n_unknown_codes: int,
    lowercase_codes: bool,
    rng: np.random.Generator,
) -> ExtractLines:
    """Sale lines (sorted by week, then product) with planted defects merged in by week.

    `price_per_unit[sku]` is the reporting-currency price of one source unit and
    `rate_by_day[day]` the reporting-currency value of one unit of the source currency.
    """
    sales = _sale_lines(
        week, sku, qty, price_per_unit, rate_by_day, n_customers, key_customer, key_share, rng
    )
    counts = _planted_counts(sales.n, lowercase_codes)
    rows = _PlantedRows(sales)
    _plant_reversals(rows, counts, rate_by_day.size, n_customers, rng)
    _plant_extra_positions(rows, counts, n_skus, n_unknown_codes, rng)
    rows.add("bad_date", _pick(rng, sales.n, counts["bad_date"]))
    rows.add("bad_qty", _pick(rng, sales.n, counts["bad_qty"]))
    # Exact duplicates and lower-cased codes come from disjoint clean sale lines.
    chosen = rng.choice(sales.n, counts["duplicate"] + counts["lowercase_code"], replace=False)
    rows.add("duplicate", np.sort(chosen[: counts["duplicate"]]))
    return _merged(sales, rows.parts, chosen[counts["duplicate"] :], counts)


@dataclass(frozen=True)
class _Sales:
    """The clean sale lines of one extract, sorted by week, then product."""

    week: np.ndarray
    sku: np.ndarray
    qty: np.ndarray
    day: np.ndarray
    cust: np.ndarray
    price: np.ndarray  # source currency per source unit
    doc: np.ndarray

    @property
    def n(self) -> int:
        return self.week.size


def _sale_lines(
    week: np.ndarray,
    sku: np.ndarray,
    qty: np.ndarray,
    price_per_unit: np.ndarray,
    rate_by_day: np.ndarray,
    n_customers: int,
    key_customer: np.ndarray,
    key_share: np.ndarray,
    rng: np.random.Generator,
) -> _Sales:
    """Each sale line's customer, day, price and document."""
    n_sales = week.size
    # Customers: a product's key account takes its share, the rest are skewed towards low
    # customer numbers (P(customer < k) = (k / n) ** 0.4: the top 1 % buy about 16 % of lines).
    cust = (n_customers * rng.random(n_sales) ** 2.5).astype(np.int32)
    keyed = rng.random(n_sales) < key_share[sku]
    cust = np.where(keyed, key_customer[sku], cust).astype(np.int32)
    # One document per customer and week, dated on one weekday.
    weekday = rng.integers(0, 5, size=(int(week.max(initial=0)) + 1, n_customers))
    day = (week * 7 + weekday[week, cust]).astype(np.int32)
    price = np.maximum(0.01, np.round(price_per_unit[sku] / rate_by_day[day], 2))
    doc = day.astype(np.int64) * n_customers + cust
    return _Sales(week, sku, qty, day, cust, price, doc)


def _planted_counts(n_sales: int, lowercase_codes: bool) -> dict[str, int]:
    """How many rows of each defect to plant."""
    # Each planted row copies a different sale line, so a tiny extract gets fewer of them.
    counts = {reason: min(_planted_count(n_sales, reason), n_sales) for reason in DEFECT_RATES}
    if not lowercase_codes:
        counts["lowercase_code"] = 0
    counts["duplicate"] = min(counts["duplicate"], n_sales // 2)
    counts["lowercase_code"] = min(counts["lowercase_code"], n_sales - counts["duplicate"])
    return counts


class _PlantedRows:
    """The planted rows of one extract, each a copy of a sale line with some fields changed."""

    def __init__(self, sales: _Sales) -> None:
        self.sales = sales
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, kind: str, src: np.ndarray, **fields: np.ndarray) -> None:
        """Rows of `kind` copied from sale lines `src`, with `fields` replaced."""
        s = self.sales
        row = {
            "kind": np.full(src.size, KIND[kind], dtype=np.int8),
            "day": s.day[src],
            "customer": s.cust[src],
            "code": s.sku[src].astype(np.int32),
            "qty": s.qty[src],
            "price": s.price[src],
            "doc": s.doc[src],
        }
        row.update(fields)
        self.parts.append(row)


def _plant_reversals(
    rows: _PlantedRows,
    counts: dict[str, int],
    n_days: int,
    n_customers: int,
    rng: np.random.Generator,
) -> None:
    """Cancellations (within days) and returns (weeks later), each on a document of its own."""
    day, qty, n_sales = rows.sales.day, rows.sales.qty, rows.sales.n
    last_day = n_days - 1
    n_special = counts["cancellation"] + counts["return"]
    special_doc = n_days * n_customers + np.arange(n_special, dtype=np.int64)
    src = _pick(rng, n_sales, counts["cancellation"])
    c_day = np.minimum(day[src] + rng.integers(0, 3, src.size), last_day).astype(np.int32)
    rows.add("cancellation", src, day=c_day, qty=-qty[src], doc=special_doc[: src.size])
    src = _pick(rng, n_sales, counts["return"])
    r_day = np.minimum(day[src] + rng.integers(7, 29, src.size), last_day).astype(np.int32)
    r_qty = -np.maximum(1, np.floor(qty[src] * rng.uniform(0.1, 0.6, src.size))).astype(qty.dtype)
    rows.add("return", src, day=r_day, qty=r_qty, doc=special_doc[counts["cancellation"] :])


def _plant_extra_positions(
    rows: _PlantedRows,
    counts: dict[str, int],
    n_skus: int,
    n_unknown_codes: int,
    rng: np.random.Generator,
) -> None:
    """Freight, fee and unknown-code positions on sale documents (updates `counts`)."""
    doc, qty, n_sales = rows.sales.doc, rows.sales.qty, rows.sales.n
    # At most one per document, so no two of them can be the same raw row by chance.
    for kind, code in (("freight", n_skus), ("fee", n_skus + 1)):
        src = _one_per_doc(_pick(rng, n_sales, counts[kind]), doc)
        counts[kind] = src.size
        rows.add(
            kind,
            src,
            code=np.full(src.size, code, dtype=np.int32),
            qty=np.ones(src.size, dtype=qty.dtype),
            price=np.round(rng.uniform(5, 60, src.size), 2),
        )
    src = _one_per_doc(_pick(rng, n_sales, counts["unknown_sku"]), doc)
    counts["unknown_sku"] = src.size
    rows.add(
        "unknown_sku",
        src,
        code=(n_skus + 2 + np.arange(src.size) % n_unknown_codes).astype(np.int32),
    )


def _merged(
    sales: _Sales,
    parts: list[dict[str, np.ndarray]],
    lower_src: np.ndarray,
    counts: dict[str, int],
) -> ExtractLines:
    """The planted rows merged into the week-sorted sale lines, after the sales of their week."""
    n_sales = sales.n
    extra = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(extra["day"] // 7, kind="stable")
    extra = {k: v[order] for k, v in extra.items()}
    at = np.searchsorted(sales.week, extra["day"] // 7, side="right") + np.arange(order.size)
    n_rows = n_sales + order.size
    is_extra = np.zeros(n_rows, dtype=bool)
    is_extra[at] = True
    sale_at = np.flatnonzero(~is_extra)

    def merged(sale_values: np.ndarray, extra_values: np.ndarray) -> np.ndarray:
        out = np.empty(n_rows, dtype=np.result_type(sale_values, extra_values))
        out[sale_at] = sale_values
        out[at] = extra_values
        return out

    lower = np.zeros(n_rows, dtype=bool)
    lower[sale_at[lower_src]] = True
    return ExtractLines(
        kind=merged(np.zeros(n_sales, dtype=np.int8), extra["kind"]),
        day=merged(sales.day, extra["day"]),
        customer=merged(sales.cust, extra["customer"]),
        code=merged(sales.sku.astype(np.int32), extra["code"]),
        qty=merged(sales.qty, extra["qty"]),
        price=merged(sales.price, extra["price"]),
        doc=merged(sales.doc, extra["doc"]),
        lower=lower,
        sale_day=sales.day,
        sale_price=sales.price,
        counts={"sale": n_sales, **counts},
    )


def extract_table(
    lines: ExtractLines,
    style: RegionStyle,
    product_codes: pa.Array,
    n_customers: int,
    day_labels: list[str],
    rng: np.random.Generator,
) -> pa.Table:
    """The extract as the region's ERP writes it: its column names, formats and prefixes."""
    kind = lines.kind
    doc_name, date_name, cust_name, state_name, country_name, sku_name, qty_name, price_name = (
        style.columns
    )
    prefix_code = np.where(kind == KIND["cancellation"], 1, np.where(kind == KIND["return"], 2, 0))
    doc = pc.binary_join_element_wise(
        pa.array(list(style.doc_prefix)).take(pa.array(prefix_code.astype(np.int8))),
        pc.cast(pa.array(lines.doc + style.doc_base), pa.string()),
        "",
    )
    bad_date = kind == KIND["bad_date"]
    day_code = lines.day.astype(np.int32)
    day_code[bad_date] = len(day_labels) + np.arange(bad_date.sum()) % len(style.bad_dates)
    dates = pa.array(day_labels + list(style.bad_dates)).take(pa.array(day_code))
    extra_codes = [style.freight_code, style.fee_code, *style.unknown_codes]
    codes = pa.concat_arrays([product_codes, pa.array(extra_codes)]).take(pa.array(lines.code))
    if lines.lower.any():
        codes = pc.if_else(pa.array(lines.lower), pc.utf8_lower(codes), codes)
    bad_qty = kind == KIND["bad_qty"]
    if style.bad_qtys is None:
        qty = pa.array(lines.qty, mask=bad_qty)
    else:
        text = np.arange(bad_qty.sum()) % len(style.bad_qtys)
        qty = pc.replace_with_mask(
            pc.cast(pa.array(lines.qty), pa.string()),
            pa.array(bad_qty),
            pa.array(list(style.bad_qtys)).take(pa.array(text)),
        )
    states, countries, shares = zip(*style.geography, strict=True)
    place = pa.array(rng.choice(len(shares), n_customers, p=np.array(shares) / sum(shares)))
    customer = pa.array(lines.customer)
    customer_codes = pc.binary_join_element_wise(
        style.customer_prefix,
        pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n_customers + 1)), pa.string()), 5, "0"),
        "",
    )
    columns = {
        doc_name: doc,
        date_name: dates,
        cust_name: customer_codes.take(customer),
        **({state_name: pa.array(states).take(place).take(customer)} if state_name else {}),
        country_name: pa.array(countries).take(place).take(customer),
        sku_name: codes,
        qty_name: qty,
        price_name: pa.array(lines.price),
    }
    return pa.table(columns)
