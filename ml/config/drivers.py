"""Frozen config of the rule drivers (the `drivers:` key of configs/segments.yaml)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ml.config.base import Frozen

__all__ = [
    "AbcConfig",
    "HistoryConfig",
    "PatternConfig",
    "RiskConfig",
    "RiskWeights",
    "SegmentationConfig",
    "XyzConfig",
]

Grain = Literal["product", "family", "product_location"]


def _two_increasing(
    values: tuple[float, float], *, what: str, low: float, high: float, example: str
) -> tuple[float, float]:
    """Two cut-offs that split a scale into three classes must rise strictly inside [low, high]."""
    first, second = values
    if not first < second:
        raise ValueError(
            f"{what} must be strictly increasing (first cut-off < second), got "
            f"[{first:g}, {second:g}]; write e.g. {example}"
        )
    if first < low or second > high:
        raise ValueError(
            f"{what} must lie in [{low:g}, {high:g}], got [{first:g}, {second:g}]; "
            f"write e.g. {example}"
        )
    return values


class AbcConfig(Frozen):
    """ABC: revenue-, margin- or risk-based; cumulative-share cut-offs for revenue and margin."""

    basis: Literal["revenue", "margin", "risk"] = Field(
        "revenue",
        description="revenue or margin: Pareto by cumulative share; risk: by supply-risk score "
        "(A = high risk, B = medium, C = low, using risk.score_cutoffs)",
    )
    cum_share_cutoffs: tuple[float, float] = Field(
        (0.80, 0.95),
        description="upper cumulative shares of A and B (80/15/5 = [0.80, 0.95]); "
        "a product is A while the products ranked above it hold less than the first cut-off",
    )

    @field_validator("cum_share_cutoffs")
    @classmethod
    def _order(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] <= 0:
            raise ValueError(f"the A cut-off must be above 0, got {v[0]:g}; write e.g. [0.8, 0.95]")
        return _two_increasing(
            v, what="abc.cum_share_cutoffs", low=0.0, high=1.0, example="[0.8, 0.95]"
        )


class XyzConfig(Frozen):
    """XYZ: variability classes by the coefficient of variation of per-period demand."""

    attribute: Literal["cv", "cv_raw"] = Field(
        "cv", description="cv (spike-cleansed) or cv_raw (as sold)"
    )
    cv_cutoffs: tuple[float, float] = Field(
        (0.5, 1.0), description="X when cv <= first, Y when cv <= second, Z above"
    )

    @field_validator("cv_cutoffs")
    @classmethod
    def _order(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _two_increasing(
            v, what="xyz.cv_cutoffs", low=0.0, high=float("inf"), example="[0.5, 1.0]"
        )


class PatternConfig(Frozen):
    """Demand pattern: Syntetos–Boylan–Croston quadrants, or the Kostenko–Hyndman boundary."""

    method: Literal["sbc", "kostenko_hyndman"] = "sbc"
    adi_cutoff: float = Field(1.32, gt=1, description="ADI <= cut-off counts as frequent demand")
    cv2_cutoff: float = Field(0.49, gt=0, description="CV² <= cut-off counts as stable sizes")
    cv2_attribute: Literal["cv2", "cv2_raw"] = "cv2"
    kh_alpha: float | None = Field(
        None,
        gt=0,
        le=1,
        description="kostenko_hyndman only: None = the paper's approximation CV² = 2 - 3/2·ADI; "
        "a smoothing constant α in (0, 1] = the exact boundary for that α",
    )
    min_nonzero_periods: int = Field(
        2, ge=1, description="fewer non-zero periods than this -> insufficient_history"
    )

    @model_validator(mode="after")
    def _alpha_only_for_kh(self) -> PatternConfig:
        if self.kh_alpha is not None and self.method != "kostenko_hyndman":
            raise ValueError(
                f"pattern.kh_alpha ({self.kh_alpha:g}) only applies to method kostenko_hyndman; "
                f"remove it or set method: kostenko_hyndman"
            )
        return self


class RiskWeights(Frozen):
    """Weights of the supply-risk components; they are normalised, so only their ratios matter."""

    lead_time_cv: float = Field(0.30, ge=0)
    on_time_rate: float = Field(0.20, ge=0)
    supplier_fill_rate: float = Field(0.20, ge=0)
    import_dependency: float = Field(0.15, ge=0)
    single_source: float = Field(0.15, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> RiskWeights:
        if sum(self.model_dump().values()) <= 0:
            raise ValueError(
                "risk.weights are all 0; give at least one component a positive weight"
            )
        return self


class RiskConfig(Frozen):
    """Supply-risk score in [0, 1] and its low/medium/high cut-offs."""

    weights: RiskWeights = RiskWeights()
    lead_time_cv_cap: float = Field(
        1.0, gt=0, description="lead_time_cv at or above this counts as maximal risk (component 1)"
    )
    score_cutoffs: tuple[float, float] = Field(
        (0.3, 0.6), description="low when score <= first, medium when <= second, high above"
    )

    @field_validator("score_cutoffs")
    @classmethod
    def _order(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _two_increasing(
            v, what="risk.score_cutoffs", low=0.0, high=1.0, example="[0.3, 0.6]"
        )


class HistoryConfig(Frozen):
    """How much history a product needs before it is classified: the one "too young" threshold.

    Below it the rules say abc/xyz `new` and pattern `insufficient_history` (periods observed),
    the `age` rule class says `new` (periods since the first sale), and the model places the
    product with its launch-attribute model, flagged provisional.
    """

    min_periods: int = Field(
        13,
        ge=1,
        description="fewer periods than this: too young to classify from its own history",
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, value: Any) -> Any:
        if isinstance(value, dict) and "min_periods_observed" in value:
            raise ValueError(
                "'min_periods_observed' is now 'min_periods' (the one too-young threshold, "
                "also used by the age rule class and the new-product model); rename it"
            )
        return value


class SegmentationConfig(Frozen):
    """Grain and rule-driver settings: ABC basis and cut-offs, XYZ, demand pattern, supply risk."""

    grain: Grain = Field(
        "product",
        description="product, family (attributes aggregated with ml.grain.aggregate_to_family) "
        "or product_location (ABC ranked within each location)",
    )
    abc: AbcConfig = AbcConfig()
    xyz: XyzConfig = XyzConfig()
    pattern: PatternConfig = PatternConfig()
    risk: RiskConfig = RiskConfig()
    history: HistoryConfig = HistoryConfig()
