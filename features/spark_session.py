"""The one SparkSession builder of both Spark engines (`strata features build` and `strata score`).

An active session (spark-submit, a notebook, a test fixture) is used as it is and left running;
otherwise one is built on `config.master` with `config.conf` and stopped after the block. Under
spark-submit (its JVM gateway is already up) the submitted --master wins. pyspark is the
optional extra `strata[spark]`; Java 17 is needed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from ml.config import SparkConfig
from ml.errors import StrataError

__all__ = ["require_pyspark", "spark_session"]


def require_pyspark(fallback: str) -> None:
    """A StrataError saying how to install pyspark, naming `fallback` (e.g. `--engine pandas`)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise StrataError(
            "--engine spark needs pyspark, the optional extra: `pip install -e '.[spark]'` "
            f"(and Java 17: `java -version`); or {fallback}"
        ) from None


@contextlib.contextmanager
def spark_session(config: SparkConfig, fallback: str = "use --engine pandas") -> Iterator[Any]:
    """A SparkSession for the block (see the module docstring)."""
    require_pyspark(fallback)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    builder = (
        SparkSession.builder.appName(config.app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if not os.environ.get("PYSPARK_GATEWAY_PORT"):
        builder = builder.master(config.master)
    for key, value in config.conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()
