"""Test-wide settings: no telemetry, non-interactive plotting, repo root on the path."""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")
