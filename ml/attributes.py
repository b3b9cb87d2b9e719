"""The attribute registry: every snapshot attribute declared once, worded for a planner.

Each `Attribute` carries its name, group, unit, a one-line meaning, what a high value means, its
dtype, the basis it is measured on and whether a missing value may be filled by the fallback
hierarchy (product -> family -> category -> configured default; see `features/impute.py`).

Text may hold placeholders that follow the configuration: ``{period}`` (the calendar bucket,
"week" or "month"), ``{recent}`` (calendar.recent_periods) and ``{currency}`` (the reporting
currency). `ATTRIBUTES` is the registry worded for the defaults (weeks, 13 recent periods,
"currency"); `attributes_for(...)` words it for another calendar. The snapshot schema, the
derivation (`features/derive.py`), `strata features list` and the planner's explanations all
read this one declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from difflib import get_close_matches
from typing import Literal

from ml import columns as C
from ml.errors import StrataError

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_TEMPLATES",
    "DESCRIPTORS",
    "GROUPS",
    "IMPUTED_SUFFIX",
    "Attribute",
    "attribute",
    "attribute_names",
    "attributes_for",
    "imputable_names",
    "imputed_column",
    "snapshot_columns",
]

Group = Literal["demand", "value", "customers", "supply"]
Basis = Literal["cleansed", "raw", "count", "master", "events"]
GROUPS: tuple[str, ...] = ("demand", "value", "customers", "supply")
IMPUTED_SUFFIX = "_imputed"
DESCRIPTORS: tuple[str, ...] = (
    C.DESCRIPTION,
    C.FAMILY,
    C.CATEGORY,
    C.REGION,
    C.BUSINESS_UNIT,
    C.SUPPLIER_ID,
)


@dataclass(frozen=True)
class Attribute:
    """One snapshot attribute: how it is named, measured and read by a planner."""

    name: str
    group: Group
    unit: str
    meaning: str
    high: str
    imputable: bool = False
    basis: Basis = "raw"
    dtype: str = "float64"

    def worded(
        self, bucket: str = "week", recent_periods: int = 13, currency: str = "currency"
    ) -> Attribute:
        """This attribute with its placeholders filled for a calendar and a currency."""
        fill = {"period": bucket, "recent": recent_periods, "currency": currency}
        return replace(
            self,
            unit=self.unit.format(**fill),
            meaning=self.meaning.format(**fill),
            high=self.high.format(**fill),
        )


def _a(name: str, group: Group, unit: str, meaning: str, high: str, **kw: object) -> Attribute:
    return Attribute(name, group, unit, meaning, high, **kw)  # type: ignore[arg-type]


# fmt: off
ATTRIBUTE_TEMPLATES: tuple[Attribute, ...] = (
    # demand: kind=sale rows, trailing window of calendar.window_periods complete periods
    _a("periods_observed", "demand", "{period}s",
       "Number of {period}s in the window since the product first sold",
       "a long track record in the window", basis="count"),
    _a("nonzero_periods", "demand", "{period}s",
       "Number of {period}s in the window with at least one sale",
       "sells in most {period}s", basis="count"),
    _a("total_qty", "demand", "units",
       "Units sold in the window, as recorded (before cleansing)",
       "a high-volume product", basis="raw"),
    _a("mean_qty", "demand", "units per {period}",
       "Average units sold per observed {period}, after removing promotion and one-off spikes",
       "sells a lot every {period}", basis="cleansed"),
    _a("std_qty", "demand", "units per {period}",
       "How far {period}ly sales swing around their average, after removing spikes",
       "volume swings a lot", imputable=True, basis="cleansed"),
    _a("std_qty_raw", "demand", "units per {period}",
       "How far {period}ly sales swing around their average, spikes included",
       "volume swings a lot, spikes included", imputable=True, basis="raw"),
    _a("cv", "demand", "ratio",
       "Swing of {period}ly sales relative to their average (std / mean), after removing spikes",
       "hard to forecast", imputable=True, basis="cleansed"),
    _a("cv_raw", "demand", "ratio",
       "Swing of {period}ly sales relative to their average (std / mean), spikes included",
       "hard to forecast when spikes are left in", imputable=True, basis="raw"),
    _a("adi", "demand", "{period}s",
       "Average number of {period}s between sales",
       "sells rarely", basis="count"),
    _a("cv2", "demand", "ratio",
       "How much the size of a sale varies (squared CV of non-zero {period}s), after removing "
       "spikes", "order sizes vary a lot (lumpy)", imputable=True, basis="cleansed"),
    _a("cv2_raw", "demand", "ratio",
       "How much the size of a sale varies (squared CV of non-zero {period}s), spikes included",
       "order sizes vary a lot, spikes included", imputable=True, basis="raw"),
    _a("zero_share", "demand", "share (0-1)",
       "Share of observed {period}s with no sale",
       "mostly idle", basis="count"),
    _a("seasonality_strength", "demand", "correlation (0-1)",
       "How closely the {period}ly pattern repeats one year later",
       "strongly seasonal", imputable=True, basis="cleansed"),
    _a("trend", "demand", "share of the average per {period}",
       "Straight-line change of {period}ly sales, as a share of the average",
       "growing fast (negative: declining)", imputable=True, basis="cleansed"),
    _a("growth", "demand", "share",
       "Change in sales over the last {recent} {period}s versus the {recent} before",
       "sales are rising (negative: falling)", imputable=True, basis="cleansed"),
    _a("peak_to_mean", "demand", "ratio",
       "Best {period}'s sales divided by the average {period}, after removing spikes",
       "sales come in peaks", basis="cleansed"),
    _a("age_periods", "demand", "{period}s",
       "{period}s since the first-ever sale (0 = first sold in the latest {period})",
       "an established product", basis="count"),
    _a("staleness_periods", "demand", "{period}s",
       "{period}s since the last sale (0 = sold in the latest {period})",
       "has stopped selling", basis="count"),
    _a("promo_share", "demand", "share (0-1)",
       "Share of units in the window sold on promotion",
       "sales are promotion-driven", basis="raw"),
    _a("outlier_share", "demand", "share (0-1)",
       "Share of units in the window sold in one-off spike {period}s",
       "volume comes from one-off big orders", basis="raw"),
    # value: kind=sale revenue and cost in the window, reporting currency
    _a("revenue", "value", "{currency}",
       "Sales revenue in the window", "an important product by turnover"),
    _a("revenue_share", "value", "share (0-1)",
       "Share of all products' revenue", "a big part of turnover"),
    _a("revenue_cum_share", "value", "share (0-1)",
       "Running revenue share of this product and all that earn at least as much (ABC)",
       "in the revenue tail (class C)"),
    _a("revenue_rank", "value", "rank",
       "Position by revenue, 1 = highest (ties share the best rank)",
       "earns little compared with other products"),
    _a("margin", "value", "{currency}",
       "Revenue minus cost of goods sold in the window",
       "earns a lot of profit", imputable=True),
    _a("margin_pct", "value", "share of revenue",
       "Margin as a share of revenue", "profitable per unit of turnover", imputable=True),
    _a("margin_share", "value", "share",
       "Share of all products' margin", "a big part of profit"),
    _a("margin_cum_share", "value", "share",
       "Running margin share of this product and all that earn at least as much margin",
       "in the profit tail"),
    _a("returns_rate", "value", "share of units sold",
       "Units returned or cancelled per unit sold", "often returned or cancelled",
       imputable=True),
    _a("unit_price", "value", "{currency} per unit",
       "Selling price per unit (product master, else average realised price)",
       "an expensive item", imputable=True, basis="master"),
    _a("unit_cost", "value", "{currency} per unit",
       "Cost per unit (product master, else average recorded cost)",
       "costly to hold in stock", imputable=True, basis="master"),
    # customers: demand lines (kind=sale) in the window
    _a("n_customers", "customers", "customers",
       "Distinct customers who bought in the window", "a broad customer base", basis="count"),
    _a("top_customer_share", "customers", "share (0-1)",
       "Largest single customer's share of units sold", "depends on one customer"),
    _a("n_countries", "customers", "countries",
       "Distinct countries sold to in the window", "sold widely", basis="count"),
    # supply: purchase-order lines due on or before as_of; product master
    _a("lead_time_mean_days", "supply", "days",
       "Average days from order to receipt", "slow to replenish", imputable=True,
       basis="events"),
    _a("lead_time_sd_days", "supply", "days",
       "How much lead times vary from order to order", "unpredictable deliveries",
       imputable=True, basis="events"),
    _a("lead_time_cv", "supply", "ratio",
       "Lead-time variation relative to the average lead time", "unreliable timing",
       imputable=True, basis="events"),
    _a("on_time_rate", "supply", "share (0-1)",
       "Share of due order lines received on or before the promised date",
       "a punctual supplier", imputable=True, basis="events"),
    _a("supplier_fill_rate", "supply", "share (0-1)",
       "Units received per unit ordered on due order lines", "the supplier delivers in full",
       imputable=True, basis="events"),
    _a("moq", "supply", "units",
       "Minimum order quantity", "must be bought in bulk", imputable=True, basis="master"),
    _a("pack_size", "supply", "units",
       "Units per pack", "coarse ordering steps", imputable=True, basis="master"),
    _a("shelf_life_days", "supply", "days",
       "Days before the product expires", "keeps a long time", imputable=True, basis="master"),
    _a("import_dependency", "supply", "share (0-1)",
       "Share of order lines from a supplier in another country than the destination",
       "relies on imports", imputable=True, basis="events"),
    _a("n_suppliers", "supply", "suppliers",
       "Distinct suppliers ordered from", "several sources to choose from", basis="count"),
)
# fmt: on

ATTRIBUTES: tuple[Attribute, ...] = tuple(a.worded() for a in ATTRIBUTE_TEMPLATES)
_BY_NAME: dict[str, Attribute] = {a.name: a for a in ATTRIBUTE_TEMPLATES}


def attributes_for(
    bucket: str = "week", recent_periods: int = 13, currency: str = "currency"
) -> tuple[Attribute, ...]:
    """The registry worded for a calendar bucket, growth horizon and reporting currency."""
    return tuple(a.worded(bucket, recent_periods, currency) for a in ATTRIBUTE_TEMPLATES)


def attribute(name: str, bucket: str = "week", recent_periods: int = 13) -> Attribute:
    """One attribute's declaration, worded for `bucket`; a StrataError suggests close names."""
    found = _BY_NAME.get(name)
    if found is None:
        close = get_close_matches(name, list(_BY_NAME), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise StrataError(
            f"no attribute named {name!r}{hint} `strata features list` prints all "
            f"{len(_BY_NAME)} attributes"
        )
    return found.worded(bucket, recent_periods)


def attribute_names(group: str | None = None) -> list[str]:
    """Attribute names in registry order, optionally of one group."""
    if group is not None and group not in GROUPS:
        raise StrataError(f"no attribute group {group!r}; groups are {', '.join(GROUPS)}")
    return [a.name for a in ATTRIBUTE_TEMPLATES if group is None or a.group == group]


def imputable_names() -> list[str]:
    """Names of the attributes a fallback may fill (each has a `<name>_imputed` flag)."""
    return [a.name for a in ATTRIBUTE_TEMPLATES if a.imputable]


def imputed_column(name: str) -> str:
    """The flag column telling whether `name` was filled by a fallback."""
    return f"{name}{IMPUTED_SUFFIX}"


def snapshot_columns(grain: str = "product") -> list[str]:
    """Every column of a feature snapshot, in order: keys, as_of, descriptors, values, flags."""
    keys = [C.SKU_ID, C.LOCATION_ID] if grain == "product_location" else [C.SKU_ID]
    flags = [imputed_column(n) for n in imputable_names()]
    return [*keys, C.AS_OF, *DESCRIPTORS, *attribute_names(), *flags]
