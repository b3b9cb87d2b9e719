"""The feature store: sources, validation, harmonisation, attribute derivation, snapshots."""
