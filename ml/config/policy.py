"""Frozen config of the policy stage (configs/policy.yaml): policy build, simulation, KPIs.

The segment catalogue says what each segment's policy is (service level, review, order rule,
lead-time-demand method); this file says how the stage computes, replays and watches them.
Every key has a default, so a missing file means the defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ml.config.base import Frozen

__all__ = [
    "BacktestConfig",
    "KpiConfig",
    "KpiTolerance",
    "OptimiseConfig",
    "PolicyBuildConfig",
    "PolicyConfig",
    "SimulationConfig",
    "UniformBaseline",
]


class PolicyBuildConfig(Frozen):
    """How `strata policy build` turns a segment's policy into numbers."""

    holding_rate: float = Field(
        0.25,
        gt=0,
        description="holding cost per year as a share of the unit value, for segments whose "
        "order rule gives none (the newsvendor's overage cost)",
    )
    k_min: float = Field(
        0.0, description="lowest safety factor a fill-rate target may plan (0: no negative stock)"
    )
    bootstrap_samples: int = Field(
        1000, ge=100, description="lead-time-demand samples per product for method bootstrap"
    )
    seed: int = Field(20261126, description="seed of the bootstrap and its lead-time draws")


class UniformBaseline(Frozen):
    """The comparison policy: one service level for every product, same formulas otherwise."""

    service_level: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="the uniform level; default: the demand-weighted average of the segments' "
        "targets",
    )
    service_level_types: list[Literal["csl", "fill_rate"]] = Field(
        default_factory=lambda: ["csl", "fill_rate"],
        min_length=1,
        description="one uniform rule per type; the report compares with the one needing the "
        "least inventory for the segmented fill rate and names the other",
    )
    sweep: list[float] = Field(
        default_factory=lambda: [0.80, 0.85, 0.90, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995],
        min_length=2,
        description="uniform levels simulated to draw the trade-off curve and to find the "
        "uniform inventory that reaches the segmented fill rate",
    )

    @model_validator(mode="after")
    def _levels(self) -> UniformBaseline:
        bad = [x for x in self.sweep if not 0 < x < 1]
        if bad:
            raise ValueError(f"sweep levels must lie in (0, 1), got {bad}; e.g. 0.95 for 95%")
        return self


class SimulationConfig(Frozen):
    """`strata simulate`: replay real demand through the policies."""

    periods: int | None = Field(
        None, gt=0, description="periods replayed; default one year (52 weeks or 12 months)"
    )
    warmup_periods: int | None = Field(
        None,
        ge=0,
        description="periods before the window replayed first and not measured, so the "
        "stock starts in a realistic state; default 13 weeks or 3 months",
    )
    steps_per_period: int | None = Field(
        None,
        ge=1,
        description="steps each period is split into, its demand spread evenly; default days "
        "(7 per week, 30 per month)",
    )
    lead_time_distribution: Literal["gamma", "lognormal"] = Field(
        "gamma", description="each order's lead time, with the product's mean and sd"
    )
    seed: int = 20261126
    uniform: UniformBaseline = UniformBaseline()


class KpiTolerance(Frozen):
    """How far a segment's KPI may stray from its target before an alert (None: not checked)."""

    fill_rate: float | None = Field(
        0.02, ge=0, description="alert when the fill rate is below its target by more than this"
    )
    turns: float | None = Field(
        0.30,
        ge=0,
        description="alert when turns are below the planned turns by more than this share",
    )
    inventory_value: float | None = Field(
        0.30,
        ge=0,
        description="alert when the average inventory value is above plan by more than this share",
    )
    stockout_duration: float | None = Field(
        2.0,
        ge=0,
        description="alert when the segment's stockouts last longer than this many periods on "
        "average",
    )


class KpiConfig(Frozen):
    """`strata kpis`: segment KPIs against targets, alerts, re-segmentation proposals."""

    window_periods: int = Field(13, gt=0, description="trailing periods each KPI is measured over")
    persist_periods: int = Field(
        3,
        ge=1,
        description="a breach in this many consecutive periods proposes re-segmentation",
    )
    fit_share: float = Field(
        0.3,
        gt=0,
        le=1,
        description="a persistent breach proposes re-segmentation only when at least this share "
        "of the segment's products drifted; below it the policy is reviewed instead",
    )
    drift_mean_change: float = Field(
        0.5, gt=0, description="a product drifted when its window mean demand moved by this ratio"
    )
    adi_cutoff: float = Field(
        1.32, gt=1, description="or its demand interval crossed this (Syntetos-Boylan) cutoff"
    )
    default: KpiTolerance = KpiTolerance()
    segments: dict[str, KpiTolerance] = Field(
        default_factory=dict, description="per-segment tolerances replacing the default"
    )

    def tolerance(self, segment: str) -> KpiTolerance:
        """The tolerances of `segment` (its own entry, else the default)."""
        return self.segments.get(segment, self.default)


class OptimiseConfig(Frozen):
    """`strata policy optimise`: fill-rate targets per segment that minimise safety stock."""

    target_fill_rate: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="aggregate demand-weighted fill rate to hold; default: what the catalogue "
        "plans today, so the proposal saves inventory at the same service",
    )
    default_floor: float = Field(
        0.5, gt=0, lt=1, description="a segment's lowest fill-rate target unless it sets one"
    )
    default_ceiling: float = Field(
        0.995, gt=0, lt=1, description="a segment's highest fill-rate target unless it sets one"
    )
    levels: int = Field(
        64, ge=4, le=1000, description="fill-rate levels tried per segment (the exchange curve)"
    )
    bands: int = Field(
        4,
        ge=1,
        le=20,
        description="cycle-value bands per segment, each with its own cycle-service level "
        "(1 = one level per segment)",
    )

    @model_validator(mode="after")
    def _bounds(self) -> OptimiseConfig:
        if self.default_floor > self.default_ceiling:
            raise ValueError(
                f"default_floor {self.default_floor} is above default_ceiling "
                f"{self.default_ceiling}; lower the floor or raise the ceiling"
            )
        return self


class BacktestConfig(Frozen):
    """`strata simulate --backtest`: the rolling origins the strategies are replayed from."""

    origins: int = Field(4, ge=1, le=52, description="origins replayed, newest first")
    spacing_periods: int = Field(
        13, ge=1, description="periods between two origins (13 weeks: quarterly)"
    )
    periods: int = Field(
        13, ge=1, description="periods of demand measured after each origin (its window)"
    )
    calibrate: bool = Field(
        True,
        description="plan each origin with its segments' shortage ratios learned from the "
        "windows before it (one extra catalogue-only window before the first origin)",
    )
    calibration_windows: int = Field(
        1,
        ge=1,
        description="the most recent earlier windows pooled into a segment's shortage ratio "
        "(1: the last quarter alone, which tracked Online Retail's seasons best)",
    )
    calibration_min_products: int = Field(
        10,
        ge=1,
        description="a window teaches a segment its shortage ratio only when the segment held "
        "at least this many products there (fewer: too few to say anything, the plan stays "
        "the formula's)",
    )
    calibration_credibility: float = Field(
        30.0,
        ge=0.0,
        description="products at which a segment's own shortage ratio and the window's pooled "
        "one weigh the same (credibility Z = n / (n + this)); 0: each segment's own ratio alone",
    )


class PolicyConfig(Frozen):
    """configs/policy.yaml."""

    build: PolicyBuildConfig = PolicyBuildConfig()
    simulation: SimulationConfig = SimulationConfig()
    kpis: KpiConfig = KpiConfig()
    optimise: OptimiseConfig = OptimiseConfig()
    backtest: BacktestConfig = BacktestConfig()
