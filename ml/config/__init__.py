"""Every config model of Strata, one frozen pydantic model per YAML file; the loader is ml.config.files."""

from ml.config.base import Frozen
from ml.config.catalogue import ArchetypeCondition, Catalogue, OrderQuantity, Policy, Segment
from ml.config.drivers import SegmentationConfig
from ml.config.gates import Gate, GatesConfig
from ml.config.policy import PolicyConfig
from ml.config.roles import RolesConfig
from ml.config.scoring import ScoringConfig
from ml.config.spark import SparkConfig
from ml.config.training import TrainingConfig
from ml.config.workspace import (
    Calendar,
    Cleansing,
    Condition,
    Database,
    ExcludeRule,
    FeaturesConfig,
    Harmonisation,
    KindRule,
    Paths,
    ProductMasterFallback,
    RowKind,
    Source,
    Workspace,
)

__all__ = [
    "ArchetypeCondition",
    "Calendar",
    "Catalogue",
    "Cleansing",
    "Condition",
    "Database",
    "ExcludeRule",
    "FeaturesConfig",
    "Frozen",
    "Gate",
    "GatesConfig",
    "Harmonisation",
    "KindRule",
    "OrderQuantity",
    "Paths",
    "Policy",
    "PolicyConfig",
    "ProductMasterFallback",
    "RolesConfig",
    "RowKind",
    "ScoringConfig",
    "Segment",
    "SegmentationConfig",
    "Source",
    "SparkConfig",
    "TrainingConfig",
    "Workspace",
]
