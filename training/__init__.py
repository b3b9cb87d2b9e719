"""Labelling, clustering, the supervised assigner, tuning, MLflow logging, gates and promotion."""
