"""Frozen pydantic models of the workspace config (configs/strata.yaml) and its sources."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ml.config.base import Frozen, hide_url_password
from ml.config.spark import SparkConfig

__all__ = [
    "Calendar",
    "Cleansing",
    "Condition",
    "Database",
    "ExcludeRule",
    "FeaturesConfig",
    "Harmonisation",
    "KindRule",
    "Paths",
    "ProductMasterFallback",
    "Source",
    "Workspace",
]

TableName = Literal["demand", "products", "supply", "inventory", "sku_xref", "uom", "fx"]
RowKind = Literal["sale", "cancellation", "return", "write_off", "adjustment"]


class Condition(Frozen):
    """One test on a canonical field of a raw row; a rule holds when all its conditions hold."""

    field: str
    startswith: str | None = None
    matches: str | None = Field(None, description="regular expression the whole value must match")
    not_matches: str | None = Field(
        None, description="regular expression the whole value must not match"
    )
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None
    eq: float | None = None
    is_null: bool | None = None


class KindRule(Frozen):
    """Recognises cancellations, returns, write-offs and adjustments; first matching rule wins."""

    kind: RowKind
    when: list[Condition] = Field(min_length=1)


class ExcludeRule(Frozen):
    """Excludes non-product rows (postage, fees, manual adjustments) under a named reason."""

    reason: str
    when: list[Condition] = Field(min_length=1)


class Source(Frozen):
    """One extract feeding one canonical table: where it is and how its columns map."""

    name: str
    table: TableName
    kind: Literal["csv", "parquet", "sql"]
    path: Path | None = None
    url: str | None = Field(None, description="SQLAlchemy URL, for kind: sql")
    query: str | None = None
    sql_table: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","
    columns: dict[str, str] = Field(description="canonical column -> column name in the source")
    date_formats: dict[str, str] = Field(default_factory=dict)
    na_values: list[str] = Field(default_factory=list)
    constants: dict[str, str] = Field(default_factory=dict)
    uom: str | None = None
    currency: str | None = None
    region: str | None = None
    business_unit: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    sku_case: Literal["as_is", "upper"] = "upper"
    kind_rules: list[KindRule] = Field(default_factory=list)
    exclude: list[ExcludeRule] = Field(default_factory=list)
    date_field: str | None = Field(
        None,
        description="canonical date column that date_from/date_to and the fx month read; "
        "default: date (demand, inventory), receipt_date (supply), month (fx)",
    )
    extract: dict[str, str] = Field(
        default_factory=dict,
        description="canonical column -> regex searched in its source value; group 1 is kept, "
        "no match leaves the value missing",
    )
    recode: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="canonical column -> {value as read (any case): value to keep}",
    )
    collapse: bool = Field(
        False,
        description="products only: the source has several rows per sku_id (e.g. an order file); "
        "keep one per sku_id: median of numbers, most frequent text, earliest date",
    )

    @model_validator(mode="after")
    def _where(self) -> Source:
        if self.kind in ("csv", "parquet") and self.path is None:
            raise ValueError(f"source '{self.name}': kind {self.kind} needs 'path'")
        if self.kind == "sql" and (
            self.url is None or (self.query is None) == (self.sql_table is None)
        ):
            raise ValueError(
                f"source '{self.name}': kind sql needs 'url' and one of 'query' or 'sql_table'"
            )
        return self


class ProductMasterFallback(Frozen):
    """How to build the product master from demand lines when no product extract exists."""

    enabled: bool = True
    family_regex: str | None = Field(None, description="regex on sku_id; group 1 is the family")
    category_regex: str | None = Field(None, description="regex on sku_id; group 1 is the category")
    default_family: str = "unknown"
    default_category: str = "unknown"


class Harmonisation(Frozen):
    """Cross-source harmonisation: SKU cross-reference, units, currency, product master."""

    reporting_currency: str = "GBP"
    base_uom: str = "EA"
    sku_xref: str | None = Field(None, description="name of a source with table sku_xref")
    uom: str | None = Field(None, description="name of a source with table uom")
    fx: str | None = Field(None, description="name of a source with table fx")
    product_master: ProductMasterFallback = ProductMasterFallback()


class Calendar(Frozen):
    """Time bucketing and the trailing window attributes are measured over."""

    bucket: Literal["week", "month"] = "week"
    window_periods: int = Field(52, gt=0)
    recent_periods: int = Field(13, gt=0, description="periods compared in recent-vs-prior growth")


class Cleansing(Frozen):
    """Spike cleansing before variability is measured (see features/attributes_demand.py)."""

    method: Literal["mad", "none"] = "mad"
    k_mad: float = Field(
        5.0,
        gt=0,
        description="a period above median + k*MAD of the product's non-zero periods in the "
        "window is an outlier (MAD unscaled; k=5 is about 3.4 standard deviations)",
    )
    scale: Literal["log", "linear"] = Field(
        "log",
        description="screen log sizes (fence median x e^(k*MAD), for right-skewed order sizes) "
        "or raw units (fence median + k*MAD)",
    )
    use_promo_flag: bool = True
    promo_period_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a period is promotional when at least this share of its units sold on promotion",
    )
    min_nonzero_periods: int = Field(
        4, ge=2, description="fewer non-zero periods in the window: not screened for outliers"
    )


class FeaturesConfig(Frozen):
    """Attribute derivation settings."""

    feature_set: str = "v1"
    grain: Literal["product", "product_location"] = "product"
    cleansing: Cleansing = Cleansing()
    default_margin: float = Field(0.35, ge=0, lt=1)
    default_margin_by_category: dict[str, float] = Field(default_factory=dict)
    defaults: dict[str, float] = Field(
        default_factory=dict, description="last-resort fallback value per attribute"
    )
    seasonal_history_periods: int | None = Field(
        None,
        gt=0,
        description="periods of history for seasonality_strength; default two seasonal cycles "
        "(104 weeks or 24 months)",
    )
    seasonality_min_pairs: int | None = Field(
        None,
        ge=3,
        description="fewest period pairs one season apart for seasonality_strength (fewer: "
        "missing, then imputed); default half a season (26 weeks or 6 months)",
    )
    min_observed_periods: int = Field(
        4,
        ge=2,
        description="fewer observed periods in the window: std_qty, cv and trend are missing "
        "(then imputed)",
    )
    supply_window_days: int = Field(
        730, gt=0, description="supply lines due within this many days before as_of are used"
    )
    supply_stale_days: int = Field(
        365,
        gt=0,
        description="a product whose newest supply event is older than this has stale supply "
        "attributes: they fall back like missing ones",
    )
    workers: int | None = Field(
        None, ge=1, description="threads for attribute derivation; default: one per core"
    )


class Paths(Frozen):
    """Where a workspace keeps data, tables and snapshots, and the MLflow store."""

    data_dir: Path = Path("data")
    warehouse_dir: Path = Path("warehouse")
    mlruns_dir: Path = Path("mlruns")


_DATABASE_URL = re.compile(r"^(sqlite|postgres(ql)?(\+psycopg)?)://")


class Database(Frozen):
    """The project's own database: users of `strata serve`, the refresh ledger (SQLite default)."""

    url: str | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite:///<warehouse>/strata.db. PostgreSQL: "
        "postgresql+psycopg://user:password@host:5432/strata",
    )

    @field_validator("url")
    @classmethod
    def _known_database(cls, url: str | None) -> str | None:
        if url is not None and not _DATABASE_URL.match(url):
            raise ValueError(
                f"database.url {hide_url_password(url)!r} is neither SQLite nor PostgreSQL; write "
                f"sqlite:///warehouse/strata.db or postgresql+psycopg://user@host:5432/strata "
                f"(or leave it out for the SQLite file in the warehouse)"
            )
        return url


class Workspace(Frozen):
    """One company's workspace: paths, calendar, sources and feature settings."""

    name: str
    root: Path = Field(Path("."), description="relative paths are read from here")
    paths: Paths = Paths()
    calendar: Calendar = Calendar()
    harmonisation: Harmonisation = Harmonisation()
    features: FeaturesConfig = FeaturesConfig()
    training: Path = Field(
        Path("configs/training.yaml"), description="training settings (strata train)"
    )
    catalogue: Path = Field(
        Path("configs/segments.yaml"), description="the segment catalogue with its policies"
    )
    scoring: Path = Field(
        Path("configs/scoring.yaml"), description="scoring settings: hysteresis, sinks, shadow"
    )
    policy: Path = Field(
        Path("configs/policy.yaml"), description="policy build, simulation and KPI settings"
    )
    gates: Path = Field(Path("configs/gates.yaml"), description="promotion gates per alias")
    roles: Path = Field(Path("configs/roles.yaml"), description="who may do what in `strata serve`")
    operations: Path = Field(
        Path("configs/operations.yaml"),
        description="monitoring thresholds, trigger rules and the refresh schedule",
    )
    database: Database = Field(
        Database(),
        description="the project's database (users, refresh ledger): SQLite or PostgreSQL",
    )
    spark: SparkConfig = Field(
        SparkConfig(), description="the Spark engine of `strata features build --engine spark`"
    )
    sources: list[Source] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_sources(self) -> Workspace:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        known = set(names)
        h = self.harmonisation
        for key, ref in (("sku_xref", h.sku_xref), ("uom", h.uom), ("fx", h.fx)):
            if ref is not None and ref not in known:
                raise ValueError(
                    f"harmonisation.{key} names source '{ref}', which is not declared; "
                    f"declared sources: {', '.join(names)}"
                )
        return self

    def resolve(self, path: Path) -> Path:
        """An absolute path for a config path, relative paths read from the workspace root."""
        return path if path.is_absolute() else (self.root / path)

    @property
    def warehouse(self) -> Path:
        """The folder of canonical tables, quarantine, reports and snapshots."""
        return self.resolve(self.paths.warehouse_dir)
