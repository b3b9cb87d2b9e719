"""Frozen config of the training stage (configs/training.yaml): labeller, HDBSCAN, LightGBM, CV."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from ml.config.base import Frozen

__all__ = [
    "AssignerConfig",
    "ClustersConfig",
    "ExplainConfig",
    "LightGBMParams",
    "NewProductsConfig",
    "TrainingConfig",
    "TuningConfig",
]

Labeller = Literal["rules", "clusters"]

# Demand shape, value and supply-risk inputs: what the catalogue's rule drivers read, so the
# assigner can learn ABC / XYZ / pattern / risk classes, plus a few attributes planners recognise.
DEFAULT_ASSIGNER_FEATURES = [
    "adi",
    "cv2",
    "cv",
    "zero_share",
    "nonzero_periods",
    "periods_observed",
    "total_qty",
    "mean_qty",
    "seasonality_strength",
    "trend",
    "staleness_periods",
    "age_periods",
    "revenue",
    "revenue_cum_share",
    "margin_pct",
    "unit_price",
    "lead_time_cv",
    "on_time_rate",
    "supplier_fill_rate",
    "import_dependency",
    "n_suppliers",
]


class LightGBMParams(Frozen):
    """A compact LightGBM multiclass model: TreeSHAP cost grows with rounds x leaves x depth²."""

    num_boost_round: int = Field(50, ge=1, le=5000, description="boosting rounds (trees per class)")
    num_leaves: int = Field(7, ge=2, le=1024)
    max_depth: int = Field(3, ge=-1, le=32, description="-1 = unlimited (slow explanations)")
    learning_rate: float = Field(0.15, gt=0, le=1)
    min_data_in_leaf: int = Field(20, ge=1)
    feature_fraction: float = Field(1.0, gt=0, le=1)
    lambda_l2: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _leaves_fit_depth(self) -> LightGBMParams:
        if self.max_depth > 0 and self.num_leaves > 2**self.max_depth:
            raise ValueError(
                f"num_leaves {self.num_leaves} cannot be reached with max_depth {self.max_depth} "
                f"(at most {2**self.max_depth} leaves); lower num_leaves or raise max_depth"
            )
        return self


class ClustersConfig(Frozen):
    """HDBSCAN on transformed attributes; clusters are mapped to catalogue segments."""

    attributes: list[str] = Field(
        default_factory=lambda: [
            "adi",
            "cv2",
            "mean_qty",
            "revenue",
            "seasonality_strength",
            "staleness_periods",
        ],
        min_length=1,
        description="attributes HDBSCAN clusters on",
    )
    log1p: list[str] = Field(
        default_factory=lambda: ["adi", "mean_qty", "revenue", "staleness_periods"],
        description="scale attributes log1p-transformed (negative values clipped to 0) before "
        "robust scaling; every clustered attribute is then centred on its median and divided by "
        "its inter-quartile range",
    )
    min_cluster_size: int = Field(50, ge=2)
    min_samples: int | None = Field(10, ge=1, description="None = min_cluster_size")
    cluster_selection_method: Literal["eom", "leaf"] = "eom"
    sample_cap: int = Field(
        50_000,
        ge=100,
        description="above this many products HDBSCAN fits a sample stratified by rule segment; "
        "the rest are placed with hdbscan.approximate_predict",
    )
    validity_sample: int = Field(
        3_000, ge=100, description="DBCV and silhouette are computed on at most this many points"
    )
    min_majority_share: float = Field(
        0.6,
        gt=0,
        le=1,
        description="a cluster maps to the segment most of its members get from the rules when "
        "that share is at least this; below it the cluster is a candidate new segment",
    )

    @model_validator(mode="after")
    def _log_subset(self) -> ClustersConfig:
        extra = sorted(set(self.log1p) - set(self.attributes))
        if extra:
            raise ValueError(
                f"clusters.log1p names {', '.join(extra)}, which clusters.attributes does not "
                f"list; add them to attributes or remove them from log1p"
            )
        return self


class AssignerConfig(Frozen):
    """The supervised assigner: features, model size, cross-validation."""

    features: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ASSIGNER_FEATURES), min_length=1
    )
    params: LightGBMParams = LightGBMParams()
    class_weight: Literal["balanced", "none"] = Field(
        "balanced", description="balanced: each segment weighs n / (k * n_segment)"
    )
    cv_folds: int = Field(5, ge=2, le=20)
    holdout_share: float = Field(
        0.2, gt=0, lt=0.5, description="share held out for holdout_macro_f1 (stratified)"
    )
    calibration: Literal["temperature", "none"] = Field(
        "temperature",
        description="temperature: the probabilities are softmax(raw / T) with T fitted on the "
        "cross-validation's out-of-fold raw scores (segments unchanged); none: LightGBM's own",
    )
    num_threads: int = Field(
        1,
        ge=0,
        description="LightGBM threads for training and for the model's predictions (0 = all "
        "cores); OpenMP threads thrash when the cores are shared, so the default is 1",
    )


class NewProductsConfig(Frozen):
    """Products with short history get a provisional segment from launch-time attributes."""

    enabled: bool = True
    features: list[str] = Field(
        default_factory=lambda: [
            "family",
            "category",
            "supplier_id",
            "unit_price",
            "unit_cost",
            "lead_time_mean_days",
            "moq",
            "pack_size",
            "shelf_life_days",
        ],
        min_length=1,
    )
    categorical: list[str] = Field(
        default_factory=lambda: ["family", "category", "supplier_id"],
        description="text features LightGBM treats as categories",
    )
    max_categories: int = Field(
        200, ge=2, description="most frequent values kept per categorical; the rest are unknown"
    )
    params: LightGBMParams = LightGBMParams(num_boost_round=40, num_leaves=15, max_depth=4)
    review_below: float = Field(
        0.6,
        ge=0,
        le=1,
        description="a provisional segment below this probability is flagged review",
    )
    fallback_segment: str | None = Field(
        "new_products",
        description="catalogue segment for a new product whose launch-model probability is "
        "below review_below (its guess is kept in the first reason); null keeps the guess",
    )

    @model_validator(mode="before")
    @classmethod
    def _threshold_moved(cls, value: Any) -> Any:
        moved = (
            sorted({"min_periods", "history_attribute"} & set(value))
            if isinstance(value, dict)
            else []
        )
        if moved:
            raise ValueError(
                f"new_products.{moved[0]} moved: a product is new while age_periods is below the "
                "catalogue's drivers.history.min_periods (configs/segments.yaml), the one "
                "too-young threshold; remove it here"
            )
        return value

    @model_validator(mode="after")
    def _categorical_subset(self) -> NewProductsConfig:
        extra = sorted(set(self.categorical) - set(self.features))
        if extra:
            raise ValueError(
                f"new_products.categorical names {', '.join(extra)}, which new_products.features "
                f"does not list; add them to features or remove them from categorical"
            )
        return self


class TuningConfig(Frozen):
    """Optuna search over LightGBM size and regularisation (`strata train --trials N`)."""

    max_boost_round: int = Field(150, ge=10)
    max_leaves: int = Field(31, ge=4)
    max_depth: int = Field(6, ge=2)
    timeout_s: float | None = Field(None, gt=0, description="stop starting trials after this")


class ExplainConfig(Frozen):
    """How many reasons each product gets."""

    top_k: int = Field(5, ge=1, le=20)


class TrainingConfig(Frozen):
    """configs/training.yaml."""

    @model_validator(mode="before")
    @classmethod
    def _catalogue_moved(cls, value: Any) -> Any:
        if isinstance(value, dict) and "catalogue" in value:
            raise ValueError(
                "'catalogue' moved to the workspace config: write `catalogue: "
                f"{value['catalogue']}` in the workspace YAML (e.g. configs/strata.yaml) and "
                "remove it here"
            )
        return value

    labeller: Labeller = "rules"
    experiment: str = Field("strata-segmentation", min_length=1, description="MLflow experiment")
    registered_model: str = Field("strata-segmenter", min_length=1)
    seed: int = 42
    clusters: ClustersConfig = ClustersConfig()
    assigner: AssignerConfig = AssignerConfig()
    new_products: NewProductsConfig = NewProductsConfig()
    tuning: TuningConfig = TuningConfig()
    explain: ExplainConfig = ExplainConfig()
