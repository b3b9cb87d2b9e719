"""Frozen pydantic models of configs/operations.yaml: monitoring, trigger rules, actions, schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from ml.config.base import Frozen
from ml.config.training import Labeller

__all__ = [
    "Actions",
    "MonitoringConfig",
    "MonitoringThresholds",
    "OperationsConfig",
    "Probation",
    "Schedule",
    "TriggerRules",
]


class MonitoringThresholds(Frozen):
    """Limits a refresh's monitoring row is judged against; a value above its limit is a breach."""

    psi_max: float = Field(0.25, gt=0, description="PSI of any attribute, overall or per segment")
    mix_change_max: float = Field(
        0.05, ge=0, le=1, description="absolute change of a segment's share since the last refresh"
    )
    change_share_max: float = Field(
        0.15, ge=0, le=1, description="share of products whose segment changed"
    )
    provisional_share_max: float = Field(
        0.30, ge=0, le=1, description="share of products placed provisionally (launch model)"
    )
    imputed_share_max: float = Field(
        1.0, ge=0, le=1, description="share of products with any attribute filled by a fallback"
    )
    kpi_breaches_max: int = Field(0, ge=0, description="KPI judgements breached in a segment")


class MonitoringConfig(Frozen):
    """How the monitoring stage measures a refresh and where it draws its trend chart."""

    thresholds: MonitoringThresholds = MonitoringThresholds()
    psi_bins: int = Field(10, ge=1, description="quantile bins of the PSI (ml.drift)")
    min_segment_products: int = Field(
        50, ge=1, description="a segment's PSI is measured only with at least this many products"
    )
    exclude_attributes: list[str] = Field(
        [
            "age_periods",
            "staleness_periods",
            "revenue_rank",
            "revenue_cum_share",
            "margin_cum_share",
        ],
        description="attributes not measured: elapsed-time counts move with the clock alone; "
        "rank and cumulative shares move with the rest of the catalogue (a tail product's "
        "0.9995 becomes 0.9997), and quantile bins over such packed values make PSI explode",
    )
    chart: Path = Field(Path("reports/monitoring.png"), description="under the warehouse")

    @field_validator("exclude_attributes")
    @classmethod
    def _known_attributes(cls, value: list[str]) -> list[str]:
        from ml.attributes import attribute_names

        unknown = [v for v in value if v not in attribute_names()]
        if unknown:
            raise ValueError(
                f"unknown attribute(s) {', '.join(unknown)}; `strata features list` shows them"
            )
        return value


class TriggerRules(Frozen):
    """When monitoring should ask for attention: each rule fires on the monitoring rows."""

    drift_psi_max: float = Field(0.25, gt=0, description="fires when any PSI exceeds it")
    kpi_breached_refreshes: int = Field(
        3, ge=1, description="fires when a segment breached a KPI this many refreshes in a row"
    )
    mix_change_max: float = Field(0.10, ge=0, le=1, description="fires when any share moved more")


RuleName = Literal["drift", "kpi_breached", "mix_change"]


class Probation(Frozen):
    """The tolerances the first refresh after an automatic champion promotion is judged by."""

    reclassified_share_max: float = Field(
        0.20,
        ge=0,
        le=1,
        description="share of products the new champion proposes to move (held back or not)",
    )
    kpis_breached_increase_max: int = Field(
        2, ge=0, description="more KPI breaches than the refresh before the promotion allows"
    )


class Actions(Frozen):
    """What a fired rule sets in motion in the actions stage of `strata refresh`."""

    retrain_on: list[RuleName] = Field(
        ["drift", "kpi_breached", "mix_change"],
        description="the rules that start a retrain on the refresh's snapshot ([]: none)",
    )
    labels: Labeller | None = Field(
        None, description="labeller of the retrain (default: configs/training.yaml)"
    )
    trials: int = Field(0, ge=0, description="Optuna trials of the retrain (0: no tuning)")
    auto_champion: bool = Field(
        False, description="promote to champion when its gates pass; else wait for mlops"
    )
    probation: Probation = Probation()


def _check_cron(expression: str) -> str:
    """The expression when it is a valid crontab expression, else a ValueError saying why."""
    from ml.cron import check_crontab

    try:
        return check_crontab(expression)
    except ValueError as exc:
        raise ValueError(f"{expression!r} is not a valid cron expression: {exc}") from None


class Schedule(Frozen):
    """When `strata schedule` runs `strata refresh`: cron expressions, read in `timezone`."""

    cron: list[str] = Field(["0 6 * * 1"], min_length=1, description="default Mondays 06:00")
    timezone: str = "UTC"
    workspaces: list[Path] = Field(
        default_factory=list,
        description="workspace configs to refresh (default: the one given with --config)",
    )

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: list[str]) -> list[str]:
        return [_check_cron(v) for v in value]

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone name; e.g. UTC, Europe/London"
            ) from None
        return value


class OperationsConfig(Frozen):
    """configs/operations.yaml."""

    monitoring: MonitoringConfig = MonitoringConfig()
    rules: TriggerRules = TriggerRules()
    actions: Actions = Actions()
    schedule: Schedule = Schedule()
