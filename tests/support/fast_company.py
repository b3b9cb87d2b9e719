"""What the tests that train on a synthetic company share: the repository's training config with
two CV folds, and a scope with the repository as working directory and no MLflow URI exported."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ml.config.files import load_training_config

REPO = Path(__file__).resolve().parents[2]
MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def fast_training(ws: Any) -> Any:
    """configs/training.yaml with 2 cross-validation folds (the tests' small companies)."""
    base = load_training_config(ws, REPO / "configs" / "training.yaml")
    return base.model_copy(update={"assigner": base.assigner.model_copy(update={"cv_folds": 2})})


@contextmanager
def in_repo_without_mlflow_env() -> Iterator[None]:
    """cwd = the repository (its stage configs), MLflow URIs unset; both restored after."""
    saved = {k: os.environ.pop(k, None) for k in MLFLOW_ENV}
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        yield
    finally:
        os.chdir(cwd)
        for key in MLFLOW_ENV:
            os.environ.pop(key, None)
            if saved[key] is not None:
                os.environ[key] = saved[key]  # type: ignore[assignment]
