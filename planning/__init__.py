"""Inventory planning: policies per segment, service-level optimisation, the backtest, KPIs."""
