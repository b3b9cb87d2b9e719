"""`strata score --engine spark`: the registered pyfunc through mlflow.pyfunc.spark_udf over a
Spark DataFrame (local mode) assigns exactly what the pandas engine assigns."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from registered_ws import LATER, write_snapshot_frame

from ml.config.scoring import ParquetSink, ScoringConfig

pyspark = pytest.importorskip(
    "pyspark", reason="pyspark is the optional extra strata[spark]: pip install -e '.[spark]'"
)

N = 300
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")


@pytest.fixture(scope="module")
def spark():
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from serving.spark_engine import local_spark

    with local_spark(2, "strata-test") as session:
        yield session


def test_spark_engine_assigns_exactly_what_pandas_assigns(serving_ws, spark):
    from features.snapshots import load_features
    from ml.config import GatesConfig
    from promotion.promote import promote
    from serving.scoring import score

    ws, ref = serving_ws
    small = load_features(LATER, workspace=ws).head(N)
    write_snapshot_frame(ws, small, pd.Timestamp("2026-12-28").date())
    promote(ws, ref, "1", "champion", GatesConfig(), ScoringConfig(), force=True, reason="t")

    def run(engine: str):
        config = ScoringConfig(sinks=[ParquetSink(kind="parquet", path=Path(f"out_{engine}"))])
        return score(ws, ref, config, engine=engine, spark=spark)

    by_pandas, by_spark = run("pandas"), run("spark")
    assert (by_pandas.engine, by_spark.engine, by_spark.products) == ("pandas", "spark", N)
    drop = ["run_id"]
    pd.testing.assert_frame_equal(
        by_spark.tables.assignments.drop(columns=drop),
        by_pandas.tables.assignments.drop(columns=drop),
    )
    pd.testing.assert_frame_equal(
        by_spark.tables.explanations.drop(columns=drop),
        by_pandas.tables.explanations.drop(columns=drop),
    )
