"""The `strata` command line: one verb per stage, wiring the stages together."""
