"""The labels a run trains on: the snapshot checked, rule segments, new products, HDBSCAN clusters.

Everything a user can get wrong (missing attributes, a catalogue naming unknown attributes, a
single segment, too few products to cluster) is found here, before any MLflow run starts, so a bad
input leaves nothing in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from features.snapshots import load_features, read_manifest
from ml.catalogue import assign_by_rules, validate_catalogue
from ml.columns import SKU_ID
from ml.config import Workspace
from ml.config.files import load_catalogue, load_training_config
from ml.config.training import TrainingConfig
from ml.errors import StrataError
from ml.grain import at_grain
from ml.segment_rules import AGE_PERIODS
from training.clusters import ClusterResult, cluster_labels
from training.pyfunc_model import new_product_mask

__all__ = ["LABELLERS", "SegmentFn", "Training", "prepare_training"]

SegmentFn = Callable[[pd.DataFrame], pd.Series]
LABELLERS = ("rules", "clusters")


@dataclass
class Training:
    """The validated inputs of a run: snapshot, labels and which rows train which model."""

    config: TrainingConfig
    catalogue: Any
    labeller: str
    frame: pd.DataFrame
    manifest: dict[str, Any]
    as_of: date
    rule_segments: pd.Series
    labels: pd.Series  # per row: segment, noise, candidate_<id>, or "" for new products
    young: np.ndarray
    trainable: np.ndarray
    classes: list[str]
    clusters: ClusterResult | None


def prepare_training(
    ws: Workspace,
    *,
    labels: str | None = None,
    as_of: date | None = None,
    config: TrainingConfig | None = None,
    catalogue: Any = None,
    segment_fn: SegmentFn | None = None,
    frame: pd.DataFrame | None = None,
) -> Training:
    """Load and check the snapshot, compute labels; raise one StrataError when anything is off."""
    config = config if config is not None else load_training_config(ws)
    labeller = labels or config.labeller
    if labeller not in LABELLERS:
        raise StrataError(f"--labels {labeller!r} is not a labeller; use rules or clusters")
    catalogue = catalogue if catalogue is not None else load_catalogue(ws)
    frame, manifest, day = _snapshot(ws, catalogue, as_of, frame)
    where = f"the feature snapshot as of {day.isoformat()} of workspace '{ws.name}'"
    _check_inputs(frame, config, catalogue, labeller, where)
    _check_fallback(config, catalogue)
    rule_segments = rule_labels(frame, catalogue, segment_fn)
    young = new_products(frame, config, catalogue)
    clusters = None
    labels_out = pd.Series("", index=frame.index, dtype="str")
    trainable = ~young
    if labeller == "rules":
        labels_out[trainable] = rule_segments[trainable]
    else:
        clusters = cluster_established(frame, rule_segments, young, config, where)
        labels_out[~young] = clusters.labels.to_numpy()
        trainable[np.flatnonzero(~young)] = clusters.trainable
    classes = _ordered(set(labels_out[trainable]), catalogue)
    _check_classes(classes, labeller, int(trainable.sum()), where)
    return Training(
        config,
        catalogue,
        labeller,
        frame,
        manifest,
        day,
        rule_segments,
        labels_out,
        young,
        trainable,
        classes,
        clusters,
    )


def rule_labels(frame: pd.DataFrame, catalogue: Any, segment_fn: SegmentFn | None) -> pd.Series:
    """Each product's segment by the catalogue's rules (or by `segment_fn`), as text."""
    if segment_fn is None:
        segments = assign_by_rules(frame, catalogue)["segment"]
    else:
        segments = segment_fn(frame)
    return segments.astype(str).reset_index(drop=True)


def new_products(frame: pd.DataFrame, config: TrainingConfig, catalogue: Any) -> np.ndarray:
    """Products too young to classify (the launch model places them); none when it is off."""
    if not config.new_products.enabled:
        return np.zeros(len(frame), dtype=bool)
    return new_product_mask(frame, AGE_PERIODS, catalogue.drivers.history.min_periods)


def cluster_established(
    frame: pd.DataFrame,
    rule_segments: pd.Series,
    young: np.ndarray,
    config: TrainingConfig,
    where: str,
) -> ClusterResult:
    """HDBSCAN clusters of the established products, mapped onto catalogue segments."""
    established = ~young
    n = int(established.sum())
    need = 2 * config.clusters.min_cluster_size
    if n < need:
        raise StrataError(
            f"{where} has {n} established product(s); clustering with "
            f"clusters.min_cluster_size {config.clusters.min_cluster_size} needs at least "
            f"{need}. Lower clusters.min_cluster_size in configs/training.yaml or use "
            f"--labels rules"
        )
    return cluster_labels(
        frame.loc[established].reset_index(drop=True),
        rule_segments[established].reset_index(drop=True),
        config.clusters,
        seed=config.seed,
    )


def _snapshot(
    ws: Workspace, catalogue: Any, as_of: date | None, frame: pd.DataFrame | None
) -> tuple[pd.DataFrame, dict[str, Any], date]:
    """The snapshot at the catalogue's grain, its manifest and its day."""
    if frame is None:
        frame = load_features(as_of, workspace=ws)
        manifest = read_manifest(ws, as_of)
    else:
        manifest = {"as_of": str(as_of or date.today()), "feature_set": ws.features.feature_set}
    frame = at_grain(frame, catalogue.drivers.grain)
    return frame, manifest, date.fromisoformat(str(manifest.get("as_of", as_of)))


def _column_problems(frame: pd.DataFrame, config: TrainingConfig, labeller: str) -> list[str]:
    wanted: list[tuple[str, str]] = [(f, "assigner.features") for f in config.assigner.features]
    if labeller == "clusters":
        wanted += [(a, "clusters.attributes") for a in config.clusters.attributes]
    if config.new_products.enabled:
        wanted += [(f, "new_products.features") for f in config.new_products.features]
        wanted.append((AGE_PERIODS, "new_products (the age test)"))
    missing: dict[str, list[str]] = {}
    for col, key in wanted:
        if col not in frame.columns:
            missing.setdefault(col, []).append(key)
    if SKU_ID not in frame.columns:
        missing[SKU_ID] = ["the snapshot key"]
    if not missing:
        return []
    listed = "; ".join(f"'{c}' (named in {', '.join(sorted(set(k)))})" for c, k in missing.items())
    return [
        f"it lacks {len(missing)} column(s) configs/training.yaml names: {listed}. Remove them "
        f"from configs/training.yaml or build a snapshot that has them (`strata features list` "
        f"prints the attributes)"
    ]


def _catalogue_problems(catalogue: Any, frame: pd.DataFrame) -> list[str]:
    problems = validate_catalogue(catalogue, [str(c) for c in frame.columns])
    return [
        f"the segment catalogue does not fit it: {p}. Change the archetypes in "
        f"configs/segments.yaml or build a snapshot with these attributes"
        for p in problems
    ]


def _check_inputs(
    frame: pd.DataFrame, config: TrainingConfig, catalogue: Any, labeller: str, where: str
) -> None:
    """Every problem of snapshot, training config and catalogue together, in one StrataError."""
    problems = _column_problems(frame, config, labeller) + _catalogue_problems(catalogue, frame)
    if len(problems) == 1:
        raise StrataError(f"cannot train on {where}: {problems[0]}")
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise StrataError(f"cannot train on {where}: {len(problems)} problem(s):\n{listed}")


def _check_fallback(config: TrainingConfig, catalogue: Any) -> None:
    np_cfg = config.new_products
    known = [s.name for s in catalogue.segments]
    if np_cfg.enabled and np_cfg.fallback_segment and np_cfg.fallback_segment not in known:
        raise StrataError(
            f"new_products.fallback_segment '{np_cfg.fallback_segment}' in configs/training.yaml "
            f"is not a segment of the catalogue; known segments: {', '.join(known)}. "
            "Name one of them or set it to null"
        )


def _check_classes(classes: list[str], labeller: str, n_trainable: int, where: str) -> None:
    if len(classes) >= 2:
        return
    got = classes[0] if classes else "none"
    raise StrataError(
        f"the {labeller} labeller gives the {n_trainable} trainable product(s) of "
        f"{where} a single segment ({got}); the assigner needs at least two. "
        + (
            "Check the catalogue's archetypes against the data (configs/segments.yaml)"
            if labeller == "rules"
            else "Lower clusters.min_cluster_size or clusters.min_majority_share in "
            "configs/training.yaml, or use --labels rules"
        )
    )


def _ordered(names: set[str], catalogue: Any) -> list[str]:
    known = [s.name for s in catalogue.segments]
    return [n for n in known if n in names] + sorted(names - set(known))
