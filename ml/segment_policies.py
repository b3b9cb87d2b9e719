"""Each product's inventory policy from its segment's policy and its own attributes (pure).

Two steps, both vectorised over products (loops run over methods and segments only):

1. :func:`ml.policy_inputs.policy_inputs` joins a snapshot (one row per product, with its ``segment``) to the
   catalogue's policy of that segment and converts every time into the demand's periods: lead
   time ``L = lead_time_mean_days / period_days``, ``sigma_L = lead_time_sd_days /
   period_days``, review period ``R = review_period_days / period_days`` (0 for continuous
   review); a week is 7 days, a month 365.25 / 12. Demand ``d`` and ``sigma_d`` are the
   snapshot's ``mean_qty`` and ``std_qty`` (per period). A unit is valued at ``unit_cost``, else
   at ``unit_price x (1 - default margin)``.
2. :func:`segment_policies` computes safety stock, reorder point (the order-up-to level S for
   (R, S)), order quantity and expected fill rate with the segment's lead-time-demand method:

   - ``normal``: :func:`ml.policy.inventory_policy` (Silver, Pyke & Thomas 2017, ch. 6), with
     lead-time variability in sigma;
   - ``poisson_gamma``: compound Poisson lead-time demand from ``mean_qty``, ``adi``, ``cv2``
     (:mod:`ml.policy.intermittent`; Axsäter 2015, ch. 5). Lead times are taken as fixed there;
   - ``bootstrap``: the product's own per-period demand (``history``) resampled over a lead
     time drawn from a gamma with the product's mean and sd, plus R (Willemain, Smart & Schwarz
     2004, simplified; the random lead time is our addition, so a variable supplier shows in the
     samples as it does in the simulation).

   Segments with ``cost_based_service_level`` plan with min(critical ratio, target), the
   newsvendor ratio of lost margin to margin + holding until the next replenishment
   (:func:`ml.policy.cost_based_service_level`), and say where it is below the target.

Bad rows never reach a formula: a segment missing from the catalogue, missing or negative demand
statistics, a lead time that is missing or not positive, an EOQ without a unit value, an
intermittent method without ADI / CV², a bootstrap without history — each such row is returned
in ``flagged`` with every reason, and ``policies`` holds only rows with finite numbers. A product
with no demand in the window gets the empty policy (nothing stocked, nothing ordered) and a note.
Reorder points are floored at 0 (sales are lost, so the inventory position never goes below 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ml import columns as C
from ml.columns import SEGMENT
from ml.like_items import DEMAND_SOURCE, OWN_HISTORY
from ml.policy import (
    compound_poisson_parameters,
    cost_based_service_level,
    intermittent_policy,
    inventory_policy,
    lead_time_demand_moments,
    order_quantity,
)
from ml.policy.bootstrap import (
    bootstrap_lead_time_demand,
    empirical_fill_rate,
    empirical_fill_rate_reorder_point,
    empirical_quantile,
)
from ml.policy.safety_stock import _implied_by_reorder_point
from ml.policy.service_classes import cycle_value
from ml.policy_input_checks import add_reason, input_reasons, label_is, labels_of
from ml.policy_inputs import SERVICE_BANDS

__all__ = [
    "SegmentPolicies",
    "segment_policies",
]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class SegmentPolicies:
    """Valid policies (finite numbers only) and the flagged rows with their reasons."""

    policies: pd.DataFrame
    flagged: pd.DataFrame


@dataclass
class _Outputs:
    """Output columns being filled, one slot per input row."""

    n: int

    def __post_init__(self) -> None:
        names = (
            C.SERVICE_LEVEL,
            C.CRITICAL_RATIO,
            C.SAFETY_STOCK,
            C.REORDER_POINT,
            C.ORDER_QTY,
            C.EXPECTED_FILL_RATE,
            C.LEAD_TIME_DEMAND_MEAN,
            C.LEAD_TIME_DEMAND_SD,
            C.SAFETY_FACTOR,
        )
        self.columns = {name: np.full(self.n, np.nan) for name in names}
        self.cost_based = np.zeros(self.n, dtype=bool)
        self.notes = np.full(self.n, "", dtype=object)

    def put(self, rows: NDArray[np.intp], **values: Array) -> None:
        for name, value in values.items():
            self.columns[name][rows] = value


def _normal(out: _Outputs, rows, inputs, level, q, k_min, reasons) -> None:
    a = {c: inputs[c].to_numpy()[rows] for c in (C.DEMAND_MEAN, C.DEMAND_SD, C.LEAD_TIME)}
    p = inventory_policy(
        level,
        a[C.DEMAND_MEAN],
        a[C.DEMAND_SD],
        a[C.LEAD_TIME],
        inputs[C.LEAD_TIME_SD].to_numpy()[rows],
        inputs[C.REVIEW_PERIOD].to_numpy()[rows],
        service_type=labels_of(inputs[C.SERVICE_LEVEL_TYPE], rows),
        order_qty=q,
        k_min=k_min,
        errors="flag",
    )
    bad = p.reason != ""
    add_reason(reasons, rows[bad], p.reason[bad])
    r = np.maximum(p.reorder_point, 0.0)
    out.put(
        rows,
        **{
            C.REORDER_POINT: r,
            C.SAFETY_STOCK: r - p.lead_time_demand_mean,
            C.LEAD_TIME_DEMAND_MEAN: p.lead_time_demand_mean,
            C.LEAD_TIME_DEMAND_SD: p.lead_time_demand_sd,
            C.SAFETY_FACTOR: p.safety_factor,
            C.EXPECTED_FILL_RATE: p.expected_fill_rate,
        },
    )
    capped = rows[p.safety_factor_capped]
    out.notes[capped] = "the order quantity alone meets the fill-rate target: no safety stock"


def _put_reorder_point(out: _Outputs, rows, r: Array, mean: Array, sd: Array, rate: Array) -> None:
    """Record a reorder point set from a distribution, with the safety stock it implies."""
    safety, factor = _implied_by_reorder_point(r, mean, sd)
    out.put(
        rows,
        **{
            C.REORDER_POINT: r,
            C.SAFETY_STOCK: safety,
            C.LEAD_TIME_DEMAND_MEAN: mean,
            C.LEAD_TIME_DEMAND_SD: sd,
            C.SAFETY_FACTOR: factor,
            C.EXPECTED_FILL_RATE: rate,
        },
    )


def _compound(out: _Outputs, rows, inputs, level, q) -> None:
    d = inputs[C.DEMAND_MEAN].to_numpy()[rows]
    cp = compound_poisson_parameters(
        d, inputs["adi"].to_numpy()[rows], inputs["cv2"].to_numpy()[rows]
    )
    lt = inputs[C.LEAD_TIME].to_numpy()[rows]
    review = inputs[C.REVIEW_PERIOD].to_numpy()[rows]
    args = (cp.demand_rate, cp.size_mean, cp.size_sd, lt, review)
    fill = label_is(inputs[C.SERVICE_LEVEL_TYPE], "fill_rate")[rows]
    # a cycle-service row's fill rate is a consequence, not a target: the periodic review's
    # own formula, which lets one order exceed the stock (the (r, Q) one plans sparse, lumpy
    # products 20-80 points above what their own demand model gives them in the replay); the
    # order-up-to level is r for (R, S), at most r + Q for (R, s, Q)
    up_to = inputs[C.POLICY].to_numpy()[rows] == "(R, S)"
    offset = np.where(~fill & (review > 0), np.where(up_to, 0.0, q), np.nan)
    r, rate = intermittent_policy(
        level, q, fill, *args, method="poisson_gamma", order_up_to_offset=offset
    )
    mean, var = lead_time_demand_moments(*args)
    _put_reorder_point(out, rows, r, mean, np.sqrt(var), rate)


def _bootstrap(out: _Outputs, rows, inputs, level, q, history, samples, seed) -> None:
    skus = inputs[C.SKU_ID].to_numpy()[rows]
    matrix = history.reindex(skus).to_numpy(dtype=np.float64)
    x = bootstrap_lead_time_demand(
        matrix,
        inputs[C.LEAD_TIME].to_numpy()[rows],
        inputs[C.REVIEW_PERIOD].to_numpy()[rows],
        samples,
        seed,
        lead_time_sd=inputs[C.LEAD_TIME_SD].to_numpy()[rows],
    )
    fill = label_is(inputs[C.SERVICE_LEVEL_TYPE], "fill_rate")[rows]
    r = np.empty(rows.size)
    if (~fill).any():
        r[~fill] = empirical_quantile(x[~fill], level[~fill])
    if fill.any():
        r[fill] = empirical_fill_rate_reorder_point(x[fill], level[fill], q[fill])
    r = np.maximum(r, 0.0)
    _put_reorder_point(out, rows, r, x.mean(axis=1), x.std(axis=1), empirical_fill_rate(x, r, q))


def _order_quantities(inputs: pd.DataFrame, rows: NDArray[np.intp]) -> Array:
    d = inputs[C.DEMAND_MEAN].to_numpy()[rows]
    rule = labels_of(inputs[C.ORDER_RULE], rows)
    ppy = inputs[C.PERIODS_PER_YEAR].to_numpy()[rows]
    value = inputs[C.UNIT_VALUE].to_numpy()[rows]
    holding = value * inputs["holding_rate"].to_numpy()[rows]
    eoq = rule == "eoq"
    pack = inputs[C.PACK_SIZE].to_numpy()[rows]
    return np.asarray(
        order_quantity(
            rule,
            d,
            annual_demand=d * ppy,
            order_cost=np.where(eoq, inputs["ordering_cost"].to_numpy()[rows], 1.0),
            holding_cost=np.where(eoq, holding, 1.0),
            periods_of_supply=np.where(
                rule == "periods_of_supply", inputs["order_periods"].to_numpy()[rows], 1.0
            ),
            review_period=inputs[C.REVIEW_PERIOD].to_numpy()[rows],
            moq=inputs[C.MOQ].to_numpy()[rows],
            pack_size=np.where(np.isfinite(pack) & (pack > 0), pack, 1.0),
        ),
        dtype=np.float64,
    ).reshape(-1)


def _banded_targets(inputs: pd.DataFrame, rows: NDArray[np.intp], q: Array) -> Array:
    """Each row's target: its segment's, or its cycle-value band's where the segment has bands."""
    target = inputs[C.TARGET_SERVICE_LEVEL].to_numpy(dtype=np.float64)[rows].copy()
    if SERVICE_BANDS not in inputs.columns:
        return target
    bands = inputs[SERVICE_BANDS].to_numpy()[rows]
    banded = np.flatnonzero(pd.notna(pd.Series(bands, dtype=object)).to_numpy())
    if banded.size == 0:
        return target
    value = cycle_value(
        inputs[C.UNIT_VALUE].to_numpy()[rows][banded],
        q[banded],
        inputs[C.DEMAND_MEAN].to_numpy()[rows][banded],
    )
    segment = inputs[SEGMENT].to_numpy()[rows][banded]
    for name in pd.unique(segment):  # one pass per banded segment, vectorised within it
        pick = segment == name
        edges, levels = bands[banded[pick][0]]
        known = np.isfinite(value[pick])
        band = np.searchsorted(np.asarray(edges), value[pick], side="right")
        chosen = np.asarray(levels)[band]
        target[banded[pick]] = np.where(known, chosen, target[banded[pick]])
    return target


def _planned_levels(
    out: _Outputs, rows: NDArray[np.intp], inputs: pd.DataFrame, q: Array, holding_rate: float
) -> Array:
    """The service level each row plans with: the target (its band's, where the segment has
    service bands), or the lower critical ratio."""
    target = _banded_targets(inputs, rows, q)
    level = target.copy()
    switch = inputs["cost_based_switch"].to_numpy(dtype=bool)[rows]
    if not switch.any():
        return level
    price = inputs[C.UNIT_PRICE].to_numpy()[rows]
    value = inputs[C.UNIT_VALUE].to_numpy()[rows]
    d = inputs[C.DEMAND_MEAN].to_numpy()[rows]
    review = inputs[C.REVIEW_PERIOD].to_numpy()[rows]
    ppy = inputs[C.PERIODS_PER_YEAR].to_numpy()[rows]
    rate = inputs["holding_rate"].to_numpy()[rows]
    rate = np.where(np.isfinite(rate), rate, holding_rate)
    # a leftover unit waits for the next replenishment: R periods, or Q / d under (s, Q)
    cycle = np.where(review > 0, review, q / d)
    margin_known = switch & np.isfinite(price) & np.isfinite(value) & (value > 0) & (price > value)
    if margin_known.any():
        k = margin_known
        cb = cost_based_service_level(price[k], value[k], rate[k], cycle[k], target[k], ppy[k])
        level[k] = cb.service_level
        out.put(rows[k], **{C.CRITICAL_RATIO: cb.critical_ratio})
        below = rows[k][cb.differs_from_target]
        out.cost_based[below] = True
        out.notes[below] = (
            "cost-based: the newsvendor critical ratio (column critical_ratio) is below the "
            "segment's target; planned with it"
        )
        at_target = rows[k][~cb.differs_from_target]
        out.notes[at_target] = "cost-based: the critical ratio is above the target; target kept"
    unknown = rows[switch & ~margin_known]
    out.notes[unknown] = "cost-based switch: no positive margin known; target kept"
    return level


def _with_demand_source(notes: NDArray[np.object_], inputs: pd.DataFrame) -> NDArray[np.object_]:
    """The notes, with where the demand came from for products planned on like items."""
    if DEMAND_SOURCE not in inputs.columns:
        return notes
    source = inputs[DEMAND_SOURCE].to_numpy(dtype=object)
    borrowed = np.flatnonzero((source != OWN_HISTORY) & (source != ""))
    if borrowed.size == 0:
        return notes
    said = "no own history: demand from " + source[borrowed].astype(str)
    mine = notes[borrowed].astype(str)
    out = notes.copy()
    out[borrowed] = np.where(mine == "", said, mine + "; " + said)
    return out


def _note_column(notes: NDArray[np.object_]) -> pd.api.extensions.ExtensionArray:
    """The notes as a "str" array: each distinct note converted once (there are a handful)."""
    codes, distinct = pd.factorize(notes)
    return pd.array(np.asarray(distinct, dtype=object).astype(str), dtype="str").take(codes)


def segment_policies(
    inputs: pd.DataFrame,
    history: pd.DataFrame | None = None,
    *,
    holding_rate: float = 0.25,
    k_min: float = 0.0,
    bootstrap_samples: int = 1000,
    seed: int = 0,
) -> SegmentPolicies:
    """Every product's policy from :func:`policy_inputs`; bad rows come back flagged.

    ``history`` (index sku_id, one column per period, NaN before launch) feeds method
    ``bootstrap``. Returns the input columns plus service_level (planned), critical_ratio,
    cost_based, safety_stock, reorder_point, order_qty, expected_fill_rate,
    lead_time_demand_mean / _sd, safety_factor, note; flagged rows carry ``reason`` instead.
    """
    n = len(inputs)
    in_history = np.zeros(n, dtype=bool)
    if history is not None and len(history):
        observed = history.notna().any(axis=1)
        in_history = inputs[C.SKU_ID].map(observed).fillna(False).to_numpy(dtype=bool)
    reasons = input_reasons(inputs, in_history)
    out = _Outputs(n)
    d = inputs[C.DEMAND_MEAN].to_numpy()
    ok = reasons == ""
    idle = np.flatnonzero(ok & (d == 0))
    if idle.size:
        out.put(
            idle,
            **{
                C.SERVICE_LEVEL: inputs[C.TARGET_SERVICE_LEVEL].to_numpy(dtype=float)[idle],
                C.SAFETY_STOCK: 0.0,
                C.REORDER_POINT: 0.0,
                C.ORDER_QTY: 0.0,
                C.EXPECTED_FILL_RATE: 1.0,
                C.LEAD_TIME_DEMAND_MEAN: 0.0,
                C.LEAD_TIME_DEMAND_SD: 0.0,
                C.SAFETY_FACTOR: 0.0,
            },
        )
        out.notes[idle] = "no demand in the window: nothing stocked, nothing ordered"
    selling = np.flatnonzero(ok & (d > 0))
    if selling.size:
        q = _order_quantities(inputs, selling)
        level = _planned_levels(out, selling, inputs, q, holding_rate)
        out.put(selling, **{C.ORDER_QTY: q, C.SERVICE_LEVEL: level})
        for name in ("normal", "poisson_gamma", "bootstrap"):
            pick = label_is(inputs[C.LTD_METHOD], name)[selling]
            if not pick.any():
                continue
            rows = selling[pick]
            if name == "normal":
                _normal(out, rows, inputs, level[pick], q[pick], k_min, reasons)
            elif name == "poisson_gamma":
                _compound(out, rows, inputs, level[pick], q[pick])
            else:
                _bootstrap(
                    out, rows, inputs, level[pick], q[pick], history, bootstrap_samples, seed
                )
    numbers = [C.SAFETY_STOCK, C.REORDER_POINT, C.ORDER_QTY, C.EXPECTED_FILL_RATE]
    finite = np.logical_and.reduce([np.isfinite(out.columns[c]) for c in numbers])
    add_reason(
        reasons,
        (reasons == "") & ~finite,
        "the formulas gave no finite policy for these inputs; check the attributes",
    )
    good = reasons == ""
    frame = inputs.assign(
        **out.columns,
        **{
            C.COST_BASED: out.cost_based,
            C.NOTE: _note_column(_with_demand_source(out.notes, inputs)),
        },
    )
    if not good.all():  # most calls flag nothing: no copy of every column then
        frame = frame.loc[good]
    flagged = inputs.loc[~good].copy()
    flagged[C.REASON] = pd.array(reasons[~good].astype(str), dtype="str")
    return SegmentPolicies(frame.reset_index(drop=True), flagged.reset_index(drop=True))
