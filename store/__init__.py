"""The workspace's stores: the DuckDB file, locks, table sinks, the audit trail and the model registry."""
