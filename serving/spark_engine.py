"""The Spark engine of `strata score`: the registered pyfunc over a Spark DataFrame via spark_udf.

The snapshot's typed model inputs become a Spark DataFrame; ``mlflow.pyfunc.spark_udf`` runs the
same registered model on each partition (``env_manager="local"``: the executors use this
Python), returning the model's full output struct (its signature's output schema). Rows come
back in the input's order, so everything after prediction — hysteresis, overrides, sinks — is
the code the pandas engine runs. pyspark is the optional extra ``strata[spark]``; Java 17 is
needed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from ml.columns import SKU_ID
from ml.errors import StrataError

__all__ = ["local_spark", "predict_spark"]


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise StrataError(
            "--engine spark needs pyspark, the optional extra: `pip install -e '.[spark]'` "
            "(and Java 17: `java -version`); or score with --engine pandas"
        ) from None


@contextlib.contextmanager
def local_spark(cores: int = 2, app: str = "strata-score") -> Iterator[Any]:
    """A local-mode SparkSession for the block; stopped afterwards unless one was running."""
    _require_pyspark()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()


def predict_spark(
    model_uri: str,
    inputs: pd.DataFrame,
    params: dict[str, Any],
    spark: Any | None = None,
    partitions: int = 2,
) -> pd.DataFrame:
    """The pyfunc's output for `inputs` computed by Spark, rows in the order of `inputs`."""
    _require_pyspark()
    from pyspark.sql.functions import struct

    if spark is None:
        with local_spark(partitions) as session:
            return predict_spark(model_uri, inputs, params, session, partitions)
    frame = inputs.reset_index(drop=True)
    sdf = spark.createDataFrame(frame).repartition(partitions)
    udf = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local", params=params)
    out = sdf.select(udf(struct(*frame.columns)).alias("p")).select("p.*").toPandas()
    if len(out) != len(frame):
        raise StrataError(
            f"Spark returned {len(out)} predictions for {len(frame)} products; re-run with "
            f"--engine pandas and report this"
        )
    position = pd.Index(frame[SKU_ID].astype("str")).get_indexer(out[SKU_ID].astype("str"))
    return out.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)
