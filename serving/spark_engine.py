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
from collections.abc import Iterator
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from features.spark_session import require_pyspark, spark_session
from ml.columns import SKU_ID
from ml.config import SparkConfig
from ml.errors import StrataError

__all__ = ["local_spark", "predict_spark"]


@contextlib.contextmanager
def local_spark(cores: int = 2, app: str = "strata-score") -> Iterator[Any]:
    """A local-mode SparkSession for the block (features.spark_session builds it); stopped
    afterwards unless one was running."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    config = SparkConfig(
        master=f"local[{cores}]",
        app_name=app,
        conf={"spark.sql.shuffle.partitions": str(cores)},
    )
    with spark_session(config, fallback="score with --engine pandas") as spark:
        yield spark


def predict_spark(
    model_uri: str,
    inputs: pd.DataFrame,
    params: dict[str, Any],
    spark: Any | None = None,
    partitions: int = 2,
) -> pd.DataFrame:
    """The pyfunc's output for `inputs` computed by Spark, rows in the order of `inputs`."""
    require_pyspark("score with --engine pandas")
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
