"""Frozen config of the Spark engine (`spark:` in the workspace config): where and how it runs."""

from __future__ import annotations

from pydantic import Field

from ml.config.base import Frozen

__all__ = ["SparkConfig"]


class SparkConfig(Frozen):
    """Spark settings of `strata features build --engine spark` (local mode by default)."""

    master: str = Field(
        "local[*]",
        description="spark.master: local[*] (every core of this machine), local[N], or a cluster "
        "URL (spark://host:7077, yarn, k8s://...); under spark-submit the submitted master wins",
    )
    app_name: str = Field("strata-features", description="the Spark application name")
    partitions: int | None = Field(
        None,
        ge=1,
        description="sku partitions (tasks) of the per-sku derivation; default: "
        "ceil(skus / skus_per_partition)",
    )
    skus_per_partition: int = Field(
        50_000,
        ge=1,
        description="skus per partition when `partitions` is not set: bounds a task's memory "
        "(about 104 weeks x 8 bytes x 12 arrays per key and location)",
    )
    staging_dir: str | None = Field(
        None,
        description="where the sku-partitioned canonical rows are written for the executors "
        "(must be visible to every executor on a cluster: a shared path or object store); "
        "default <warehouse>/spark_staging",
    )
    conf: dict[str, str] = Field(
        default_factory=dict,
        description="extra Spark settings, e.g. spark.executor.memory: 8g",
    )
