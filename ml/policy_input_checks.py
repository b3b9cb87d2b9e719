"""Every reason a product's policy inputs cannot be computed, all at once, worded for a planner."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ml import columns as C
from ml.columns import SEGMENT
from ml.policy import (
    validate_policy_inputs,
)

__all__ = ["add_reason", "input_reasons", "label_is", "labels_of"]


# where each formula input comes from in the snapshot, for reasons a planner can act on
_SOURCES = {
    C.DEMAND_MEAN: "mean_qty",
    C.DEMAND_SD: "std_qty",
    C.LEAD_TIME: "lead_time_mean_days",
    C.LEAD_TIME_SD: "lead_time_sd_days",
}


def add_reason(
    reasons: NDArray[np.object_], rows: NDArray[np.bool_] | NDArray[np.intp], text: object
) -> None:
    """Append `text` (one, or one per row) to the reason of `rows`, in place (our own array)."""
    current = reasons[rows]
    if current.size == 0:
        return
    texts = np.broadcast_to(np.asarray(text, dtype=object), current.shape)
    reasons[rows] = np.where(current == "", texts, current + "; " + texts)


def label_is(column: pd.Series, label: str) -> NDArray[np.bool_]:
    """Where a text column equals ``label`` (missing: False), compared without a Python string
    per row (an Arrow-backed column's to_numpy makes one)."""
    return (column == label).to_numpy(dtype=bool, na_value=False)


def labels_of(column: pd.Series, rows: NDArray[np.intp]) -> NDArray[np.str_]:
    """The text of ``rows`` of a column as numpy strings ("nan" where missing, as
    ``to_numpy().astype(str)`` gives), each distinct label converted once."""
    codes, distinct = pd.factorize(column)
    names = np.append(np.asarray(distinct, dtype=object).astype(str), "nan")
    return names[codes[rows]]  # code -1 (missing) takes the last name


def _named(reason: str) -> str:
    for name, source in _SOURCES.items():
        if reason.startswith(name + " ") or ("; " + name + " ") in reason:
            reason = reason.replace(name + " ", f"{name} (snapshot {source}) ", 1)
    return reason


def input_reasons(inputs: pd.DataFrame, history_rows: NDArray[np.bool_]) -> NDArray[np.object_]:
    """One reason per row ("" = computable) for every input problem, all at once."""
    n = len(inputs)
    reasons = np.full(n, "", dtype=object)
    unknown = ~inputs["known_segment"].to_numpy(dtype=bool)
    if unknown.any():
        for name in pd.unique(inputs.loc[unknown, SEGMENT]):
            add_reason(
                reasons,
                unknown & (inputs[SEGMENT].to_numpy() == name),
                f"segment '{name}' has no policy in the catalogue; add it to "
                "configs/segments.yaml or re-score with the current catalogue",
            )
    base = validate_policy_inputs(
        demand_mean=inputs[C.DEMAND_MEAN].to_numpy(),
        demand_sd=inputs[C.DEMAND_SD].to_numpy(),
        lead_time=inputs[C.LEAD_TIME].to_numpy(),
        lead_time_sd=inputs[C.LEAD_TIME_SD].to_numpy(),
    )
    bad = np.flatnonzero(base != "")
    if bad.size:
        distinct, which = np.unique(base[bad].astype(str), return_inverse=True)
        add_reason(reasons, bad, np.array([_named(r) for r in distinct], dtype=object)[which])
    d = inputs[C.DEMAND_MEAN].to_numpy()
    selling = np.isfinite(d) & (d > 0)
    method = inputs[C.LTD_METHOD]
    compound = selling & label_is(method, "poisson_gamma")
    if compound.any():
        intermittent = validate_policy_inputs(
            adi=inputs["adi"].to_numpy()[compound], cv2=inputs["cv2"].to_numpy()[compound]
        )
        wrong = intermittent != ""
        add_reason(
            reasons,
            np.flatnonzero(compound)[wrong],
            "method poisson_gamma: " + intermittent[wrong].astype(object),
        )
    eoq = selling & label_is(inputs[C.ORDER_RULE], "eoq")
    value = inputs[C.UNIT_VALUE].to_numpy()
    add_reason(
        reasons,
        eoq & ~(np.isfinite(value) & (value > 0)),
        "the eoq order rule needs a unit value: the product has no unit_cost and no unit_price; "
        "add them to the product master",
    )
    add_reason(
        reasons,
        selling & label_is(method, "bootstrap") & ~history_rows,
        "method bootstrap needs the product's demand history, and the demand table has none "
        "in the window",
    )
    return reasons
