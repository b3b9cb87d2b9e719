"""SHAP contributions of a LightGBM multiclass model, for each product's assigned segment only.

`booster.predict(X, pred_contrib=True)` runs TreeSHAP over every tree of every class: for k
segments that is k times the work a product's explanation needs. A multiclass booster keeps the
trees of class c at positions c, c + k, c + 2k, ... (`num_tree_per_iteration` = k), and the
initial score is folded into the first tree of each class, so the trees of one class form a
complete single-output model whose raw score is that class's raw score. `class_boosters` cuts
the saved model text into those k models; each product is then explained by its own class's
model only. The values are identical to the full `pred_contrib` block of that class (tested
against shap.TreeExplainer). Given the classes' `tree_tables` (training.shap_tables), a class
whose trees all have tables is explained by table look-ups instead of LightGBM's TreeSHAP.
"""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np

from training.shap_tables import TreeTable, table_contributions

__all__ = [
    "assigned_contributions",
    "class_boosters",
    "class_model_strings",
    "top_contributions",
]

_TREE_START = re.compile(r"(?m)^(?=Tree=\d+\n)")


def class_model_strings(model_str: str, n_classes: int) -> list[str]:
    """The model text of each class's trees as a single-output LightGBM model, in class order."""
    head, body = model_str.split("\n\n", 1)
    trees_part, _after = body.split("end of trees", 1)
    blocks = [b for b in _TREE_START.split(trees_part) if b.startswith("Tree=")]
    if len(blocks) % n_classes:
        raise ValueError(f"{len(blocks)} trees do not split into {n_classes} classes")
    out = []
    for c in range(n_classes):
        mine = [re.sub(r"^Tree=\d+", f"Tree={j}", b) for j, b in enumerate(blocks[c::n_classes])]
        h = re.sub(r"(?m)^num_class=\d+$", "num_class=1", head)
        h = re.sub(r"(?m)^num_tree_per_iteration=\d+$", "num_tree_per_iteration=1", h)
        h = re.sub(r"(?m)^objective=.*$", "objective=regression", h)
        sizes = " ".join(str(len(m.encode())) for m in mine)
        h = re.sub(r"(?m)^tree_sizes=.*$", f"tree_sizes={sizes}", h)
        out.append(f"{h}\n\n{''.join(mine)}end of trees\n\npandas_categorical:null\n")
    return out


def class_boosters(booster: lgb.Booster) -> list[lgb.Booster]:
    """One single-output booster per class of a multiclass `booster` (see the module docstring)."""
    n_classes = int(booster.params.get("num_class", 1)) if booster.params else 1
    n_classes = max(n_classes, booster.num_model_per_iteration())
    strings = class_model_strings(booster.model_to_string(), n_classes)
    return [lgb.Booster(model_str=s) for s in strings]


def assigned_contributions(
    boosters: list[lgb.Booster],
    X: np.ndarray,
    assigned: np.ndarray,
    num_threads: int = 0,
    tables: list[list[TreeTable] | None] | None = None,
) -> np.ndarray:
    """SHAP values (n, n_features + 1) of each row for its class; the last column is the base.

    `tables[c]`, when given and not None, are class c's tree tables: its rows are looked up.
    """
    out = np.zeros((X.shape[0], X.shape[1] + 1), dtype=np.float64)
    for c, booster in enumerate(boosters):
        rows = np.flatnonzero(assigned == c)
        if not rows.size:
            continue
        mine = tables[c] if tables is not None else None
        if mine is not None:
            out[rows] = table_contributions(mine, X[rows])
        else:
            out[rows] = booster.predict(X[rows], pred_contrib=True, num_threads=num_threads)
    return out


def top_contributions(contrib: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of each row's k largest |SHAP| features (base column excluded)."""
    values = contrib[:, :-1]
    k = min(k, values.shape[1])
    part = np.argpartition(-np.abs(values), k - 1, axis=1)[:, :k]
    picked = np.take_along_axis(values, part, axis=1)
    order = np.argsort(-np.abs(picked), axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)
    return idx, np.take_along_axis(values, idx, axis=1)
