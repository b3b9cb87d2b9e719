"""The Spark engine of `strata features build`: the per-sku derivation run per sku partition.

The accepted canonical rows are written as sku partitions (`features.sku_partitions`); one
Spark task per partition reads its rows and calls `features.derive.key_attributes`, the very
function the pandas engine calls on all rows at once (no formula exists twice). The per-key
rows are collected and `features.derive.catalogue_attributes` adds what compares keys with
each other (shares, ranks, family / category fallbacks) on the driver, as the pandas engine
does. Nothing is shuffled: a partition's rows are all the rows of its skus. pyspark is the
optional extra `strata[spark]`; Java 17 is needed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from features.derive import key_attributes
from features.sku_partitions import SkuPartitions, read_sku_partition
from features.spark_session import spark_session
from ml import columns as C
from ml.config import Calendar, FeaturesConfig, SparkConfig
from ml.errors import StrataError

__all__ = [
    "SparkKeyAttributes",
    "key_attributes_spark",
    "partition_count",
    "spark_session",  # re-exported from features.spark_session
]

# Per-task columns the job adds to every row it returns (dropped after collecting).
PART = "_part"
PART_ROWS = "_part_rows"
PART_SECONDS = "_part_seconds"


@dataclass(frozen=True)
class SparkKeyAttributes:
    """The per-key rows of every partition and one row per partition: keys, rows, seconds."""

    keyed: pd.DataFrame
    tasks: pd.DataFrame


def partition_count(n_skus: int, config: SparkConfig) -> int:
    """Sku partitions: `config.partitions`, else enough for `skus_per_partition` each."""
    return config.partitions or max(1, math.ceil(n_skus / config.skus_per_partition))


def _spark_type(dtype: Any) -> Any:
    from pyspark.sql import types as T

    if pd.api.types.is_bool_dtype(dtype):
        return T.BooleanType()
    if pd.api.types.is_float_dtype(dtype):
        return T.DoubleType()
    if pd.api.types.is_string_dtype(dtype):
        return T.StringType()
    raise StrataError(
        f"key_attributes returned a {dtype} column; the Spark engine maps only "
        "float, bool and str columns: report this"
    )


def _derive_partitions(
    parts: SkuPartitions, as_of: date, calendar: Calendar, config: FeaturesConfig
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The function each Spark task runs on its partition ids."""

    def derive(ids: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in ids:
            for k in batch["id"].tolist():
                started = time.perf_counter()
                tables = read_sku_partition(parts, int(k))
                keyed = key_attributes(tables, as_of, calendar, config)
                yield keyed.assign(
                    **{
                        PART: int(k),
                        PART_ROWS: len(tables["demand"]) if "demand" in tables else 0,
                        PART_SECONDS: time.perf_counter() - started,
                    }
                )

    return derive


def key_attributes_spark(
    spark: Any,
    parts: SkuPartitions,
    as_of: date,
    calendar: Calendar,
    config: FeaturesConfig,
) -> SparkKeyAttributes:
    """`key_attributes` of every sku partition, one Spark task each, collected on the driver.

    Spark already runs one task per core, so a task derives on `spark.task.cpus` threads
    (default 1) unless `config.workers` says otherwise: two tasks of two threads each would
    fight over two cores.
    """
    from pyspark.sql import types as T

    if config.workers is None:
        config = config.model_copy(update={"workers": int(spark.conf.get("spark.task.cpus", "1"))})
    # the output columns are whatever key_attributes returns, read off an empty call
    template = key_attributes(parts.empty, as_of, calendar, config)
    schema = T.StructType(
        [T.StructField(c, _spark_type(t), True) for c, t in template.dtypes.items()]
        + [
            T.StructField(PART, T.LongType(), False),
            T.StructField(PART_ROWS, T.LongType(), False),
            T.StructField(PART_SECONDS, T.DoubleType(), False),
        ]
    )
    ids = spark.range(0, parts.n, numPartitions=parts.n)
    collected = ids.mapInPandas(_derive_partitions(parts, as_of, calendar, config), schema)
    out = collected.toPandas()
    tasks = (
        out.groupby(PART, sort=True)
        .agg(keys=(C.SKU_ID, "size"), rows=(PART_ROWS, "first"), seconds=(PART_SECONDS, "first"))
        .reset_index()
        .rename(columns={PART: "partition"})
    )
    keyed = out.drop(columns=[PART, PART_ROWS, PART_SECONDS])
    return SparkKeyAttributes(_like(keyed, template), tasks)


def _like(frame: pd.DataFrame, template: pd.DataFrame) -> pd.DataFrame:
    """`frame` in the dtypes of `template` (Arrow hands strings and bools back as objects)."""
    dtypes: Mapping[str, Any] = template.dtypes.to_dict()
    return frame[list(template.columns)].astype(dict(dtypes)).reset_index(drop=True)
