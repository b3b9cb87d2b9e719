"""Labelling, clustering, the supervised assigner, tuning and MLflow logging."""
