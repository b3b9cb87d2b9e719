"""Frozen config of the scoring job (configs/scoring.yaml): reclassification mode, sinks, shadow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ml.config.base import Frozen

__all__ = [
    "DuckDBSink",
    "HysteresisConfig",
    "ParquetSink",
    "ScoringConfig",
    "ShadowConfig",
    "Sink",
    "SqlSink",
    "resolve_sink",
]


class HysteresisConfig(Frozen):
    """When a product may leave its current segment (mode: hysteresis)."""

    margin: float = Field(
        0.15,
        ge=0,
        le=1,
        description="change at once when the new segment's probability beats the current "
        "segment's by at least this much",
    )
    k_consecutive: int = Field(
        3, ge=1, description="or when the same new segment was proposed this many runs in a row"
    )
    min_tenure_runs: int = Field(
        2,
        ge=0,
        description="never change before the product has held its segment for this many runs",
    )
    min_tenure_days: int = Field(
        0, ge=0, description="nor before this many days since it was assigned (0: off)"
    )


class ParquetSink(Frozen):
    """Parquet partitions <path>/as_of=YYYY-MM-DD/model_version=V/<table>/part.parquet."""

    kind: Literal["parquet"]
    path: Path = Field(Path("outputs"), description="relative paths are read from the warehouse")
    keep_history: int = Field(
        5, ge=1, description="superseded runs kept per partition for score rollback"
    )


class DuckDBSink(Frozen):
    """Tables in a DuckDB file, replaced per as_of and model_version in one transaction."""

    kind: Literal["duckdb"]
    path: Path = Field(
        Path("strata.duckdb"), description="relative paths are read from the warehouse"
    )
    keep_history: int = Field(5, ge=1)


class SqlSink(Frozen):
    """Tables in any SQLAlchemy database (SQLite, PostgreSQL, ...), same transaction semantics."""

    kind: Literal["sql"]
    url: str = Field(
        min_length=1, description="SQLAlchemy URL, e.g. postgresql+psycopg://host/strata"
    )
    db_schema: str | None = Field(None, description="database schema (PostgreSQL); default none")
    keep_history: int = Field(5, ge=1)


Sink = Annotated[ParquetSink | DuckDBSink | SqlSink, Field(discriminator="kind")]


class ShadowConfig(Frozen):
    """Shadow scoring: the staging model scored next to the champion, written apart."""

    enabled: bool = False
    alias: Literal["staging"] = "staging"
    sinks: list[Sink] = Field(
        default_factory=lambda: [ParquetSink(kind="parquet", path=Path("shadow"))]
    )


class ScoringConfig(Frozen):
    """configs/scoring.yaml."""

    mode: Literal["static", "hysteresis"] = Field(
        "hysteresis",
        description="static: every product takes the model's segment each run; hysteresis: "
        "a product changes only on a clear margin or a streak, never within its minimum tenure",
    )
    hysteresis: HysteresisConfig = HysteresisConfig()
    sinks: list[Sink] = Field(default_factory=lambda: [ParquetSink(kind="parquet")], min_length=1)
    shadow: ShadowConfig = ShadowConfig()

    @model_validator(mode="after")
    def _distinct_shadow(self) -> ScoringConfig:
        where = {_sink_key(s) for s in self.sinks}
        clash = [_sink_key(s) for s in self.shadow.sinks if _sink_key(s) in where]
        if self.shadow.enabled and clash:
            raise ValueError(
                f"shadow.sinks must differ from sinks, or shadow scores would replace the "
                f"champion's; both write to {', '.join(clash)}"
            )
        return self


def _sink_key(sink: ParquetSink | DuckDBSink | SqlSink) -> str:
    return sink.url if isinstance(sink, SqlSink) else f"{sink.kind}:{sink.path}"


def resolve_sink(
    sink: ParquetSink | DuckDBSink | SqlSink, warehouse: Path
) -> ParquetSink | DuckDBSink | SqlSink:
    """The sink with a relative path read from the warehouse folder (SQL sinks are unchanged)."""
    if isinstance(sink, SqlSink) or sink.path.is_absolute():
        return sink
    return sink.model_copy(update={"path": Path(warehouse) / sink.path})
