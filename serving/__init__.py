"""The scoring job: assignments, explanations, hysteresis, overrides, the Spark engine."""
