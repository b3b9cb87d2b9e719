"""Inventory planning: policies per segment, the point-in-time replay and simulation, KPIs."""
