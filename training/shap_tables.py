"""TreeSHAP of small trees as lookup tables: a product's SHAP values from its branch directions.

Path-dependent TreeSHAP (Lundberg et al. 2020, "From local explanations to global understanding
with explainable AI for trees", Algorithm 1 and its exact fast form, Algorithm 2; what LightGBM's
`pred_contrib` computes) values a feature set S by walking the tree: at a node splitting on a
feature in S follow the product's branch, elsewhere average both branches weighted by their
training counts. So a tree's SHAP values depend on the product only through the direction it
takes at each of the tree's m internal nodes: 2**m patterns. For the compact assigner (7 leaves,
m = 6) each tree's Shapley values are computed once per pattern, exactly over its (at most m)
split features, and a product's values are table look-ups by its pattern, over whole arrays.
Numerical splits only; a tree with a categorical split is left to LightGBM (`tree_tables` is None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

__all__ = ["TreeTable", "table_contributions", "tree_tables"]

# LightGBM's kZeroThreshold (a float): values this close to 0 are read as 0
_ZERO = float(np.float32(1e-35))
# a table holds 2**m patterns and is built over 2**m x 2**d (pattern, subset) pairs: past 8
# internal nodes building it costs more than LightGBM's TreeSHAP saves
_MAX_NODES = 8


@dataclass(frozen=True)
class TreeTable:
    """One tree: its internal nodes' splits and the SHAP values of each direction pattern."""

    feature: np.ndarray  # (m,) split feature of each internal node
    threshold: np.ndarray  # (m,) go left when value <= threshold
    default_left: np.ndarray  # (m,) the branch of a missing value
    missing: np.ndarray  # (m,) LightGBM's missing type: 0 None (as 0), 1 Zero, 2 NaN
    features: np.ndarray  # (d,) the distinct split features
    values: np.ndarray  # (d, 2**m) SHAP value of features[j] for direction pattern p
    expected: float  # the tree's mean output over the training rows (the base value)


def _nodes(tree: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The internal nodes in pre-order (each gets its index as "_k"), and the root."""
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        if "split_index" in node:
            node["_k"] = len(nodes)
            nodes.append(node)
            walk(node["left_child"])
            walk(node["right_child"])

    root = tree["tree_structure"]
    walk(root)
    return nodes, root


def _count(node: dict[str, Any]) -> float:
    return float(node["internal_count"] if "split_index" in node else node["leaf_count"])


def _table(tree: dict[str, Any]) -> TreeTable | None:
    """The TreeTable of one dumped tree; None for a categorical split or too many nodes."""
    nodes, root = _nodes(tree)
    m = len(nodes)
    if m > _MAX_NODES or any(n["decision_type"] != "<=" for n in nodes):
        return None
    features = np.array(sorted({int(n["split_feature"]) for n in nodes}), dtype=np.int64)
    d = len(features)
    column = {int(f): j for j, f in enumerate(features)}
    patterns = np.arange(2**m)
    subsets = np.arange(2**d)

    def expectation(node: dict[str, Any]) -> np.ndarray:
        """v(S) below `node` for every (pattern, subset S): follow x in S, else average."""
        if "split_index" not in node:
            return np.full((len(patterns), len(subsets)), float(node["leaf_value"]))
        left, right = node["left_child"], node["right_child"]
        e_left, e_right = expectation(left), expectation(right)
        go_left = ((patterns >> node["_k"]) & 1).astype(bool)[:, None]
        known = ((subsets >> column[int(node["split_feature"])]) & 1).astype(bool)[None, :]
        followed = np.where(go_left, e_left, e_right)
        averaged = (_count(left) * e_left + _count(right) * e_right) / _count(node)
        return np.where(known, followed, averaged)

    v = expectation(root)
    size = np.array([bin(s).count("1") for s in subsets])
    values = np.zeros((d, len(patterns)))
    for j in range(d):
        without = subsets[(subsets >> j) & 1 == 0]
        s = size[without]
        weight = np.array(
            [math.factorial(k) * math.factorial(d - k - 1) / math.factorial(d) for k in s]
        )
        values[j] = (v[:, without | (1 << j)] - v[:, without]) @ weight
    missing = {"None": 0, "Zero": 1, "NaN": 2}
    return TreeTable(
        feature=np.array([int(n["split_feature"]) for n in nodes], dtype=np.int64),
        threshold=np.array([float(n["threshold"]) for n in nodes]),
        default_left=np.array([bool(n["default_left"]) for n in nodes]),
        missing=np.array([missing[str(n["missing_type"])] for n in nodes], dtype=np.int64),
        features=features,
        values=values,
        expected=float(v[0, 0]),
    )


def tree_tables(booster: lgb.Booster) -> list[TreeTable] | None:
    """The TreeTable of every tree of a single-output `booster`; None if any tree has none."""
    dumped = booster.dump_model()
    if int(dumped.get("num_tree_per_iteration", 1)) != 1:
        return None
    tables = [_table(t) for t in dumped["tree_info"]]
    return None if any(t is None for t in tables) else tables  # type: ignore[return-value]


def _goes_left(x: np.ndarray, t: TreeTable, k: int) -> np.ndarray:
    """Whether each value takes node k's left branch, as LightGBM's NumericalDecision decides."""
    missing = int(t.missing[k])
    nan = np.isnan(x)
    x = np.where(nan | (np.abs(x) <= _ZERO), 0.0, x)
    left = x <= t.threshold[k]
    if missing == 2:
        return np.where(nan, bool(t.default_left[k]), left)
    if missing == 1:
        return np.where(x == 0.0, bool(t.default_left[k]), left)
    return left


def table_contributions(tables: list[TreeTable], X: np.ndarray) -> np.ndarray:
    """SHAP values (n, n_features + 1) of the rows of X, as `pred_contrib`; last column: base."""
    columns = np.ascontiguousarray(X.T, dtype=np.float64)
    out = np.zeros((X.shape[1] + 1, X.shape[0]))
    for t in tables:
        pattern = np.zeros(X.shape[0], dtype=np.int64)
        for k in range(len(t.feature)):
            pattern |= _goes_left(columns[t.feature[k]], t, k).astype(np.int64) << k
        for j, f in enumerate(t.features):
            out[f] += t.values[j][pattern]
        out[-1] += t.expected
    return out.T
