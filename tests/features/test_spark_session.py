"""features.spark_session: without pyspark both engines say how to install it and what else to use."""

from __future__ import annotations

import sys

import pytest

from features.spark_session import require_pyspark, spark_session
from ml.config import SparkConfig
from ml.errors import StrataError


def test_without_pyspark_the_error_names_the_extra_and_the_fallback(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # what `import pyspark` meets when absent
    with pytest.raises(StrataError, match=r"pip install -e '\.\[spark\]'.*score with --engine"):
        require_pyspark("score with --engine pandas")
    with pytest.raises(StrataError, match="use --engine pandas"), spark_session(SparkConfig()):
        pass
