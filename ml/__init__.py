"""Strata's domain core: table contracts, attribute registry, config models, rules and formulas (no I/O)."""
