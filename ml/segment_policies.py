"""Each product's inventory policy from its segment's policy and its own attributes (pure).

Two steps, both vectorised over products (loops run over methods and segments only):

1. :func:`policy_inputs` joins a snapshot (one row per product, with its ``segment``) to the
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

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ml import columns as C
from ml.columns import SEGMENT
from ml.config import Catalogue
from ml.policy import (
    compound_poisson_parameters,
    cost_based_service_level,
    intermittent_fill_rate,
    intermittent_fill_rate_reorder_point,
    intermittent_reorder_point,
    inventory_policy,
    lead_time_demand_moments,
    order_quantity,
    validate_policy_inputs,
)

__all__ = [
    "PERIOD_DAYS",
    "POLICY_KINDS",
    "SegmentPolicies",
    "bootstrap_lead_time_demand_samples",
    "periods_per_year",
    "policy_inputs",
    "sample_fill_rate",
    "sample_fill_rate_reorder_point",
    "segment_policies",
    "with_uniform_service_level",
]

Array = NDArray[np.float64]
PERIOD_DAYS = {"week": 7.0, "month": 365.25 / 12.0}
POLICY_KINDS = ("(s, Q)", "(R, S)", "(R, s, Q)")
_DAYS_PER_YEAR = 365.25
_SAMPLE_CELLS_PER_CHUNK = 4_000_000  # products x samples x periods drawn at once (memory)
_BISECTION_STEPS = 60

# where each formula input comes from in the snapshot, for reasons a planner can act on
_SOURCES = {
    C.DEMAND_MEAN: "mean_qty",
    C.DEMAND_SD: "std_qty",
    C.LEAD_TIME: "lead_time_mean_days",
    C.LEAD_TIME_SD: "lead_time_sd_days",
}

_POLICY_FIELDS = [
    C.TARGET_SERVICE_LEVEL,
    C.SERVICE_LEVEL_TYPE,
    C.REVIEW,
    C.REVIEW_PERIOD_DAYS,
    C.ORDER_RULE,
    "order_periods",
    "ordering_cost",
    "holding_rate",
    C.LTD_METHOD,
    "cost_based_switch",
]


def periods_per_year(bucket: str) -> float:
    """Calendar periods in a year: 52.18 weeks or 12 months."""
    return _DAYS_PER_YEAR / PERIOD_DAYS[bucket]


def _catalogue_policies(catalogue: Catalogue) -> pd.DataFrame:
    """One row per segment with its policy's fields (the join table)."""
    rows = []
    for s in catalogue.segments:
        p, q = s.policy, s.policy.order_quantity
        rows.append(
            {
                SEGMENT: s.name,
                C.TARGET_SERVICE_LEVEL: p.service_level,
                C.SERVICE_LEVEL_TYPE: p.service_level_type,
                C.REVIEW: p.review,
                C.REVIEW_PERIOD_DAYS: float(p.review_period_days or 0),
                C.ORDER_RULE: q.rule,
                "order_periods": float(q.periods) if q.periods else np.nan,
                "ordering_cost": q.ordering_cost if q.ordering_cost else np.nan,
                "holding_rate": q.holding_rate if q.holding_rate else np.nan,
                C.LTD_METHOD: p.lead_time_demand,
                "cost_based_switch": p.cost_based_service_level,
            }
        )
    return pd.DataFrame(rows)


def _number(frame: pd.DataFrame, column: str) -> Array:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _review_frequency(review: pd.Series, days: Array) -> NDArray[np.object_]:
    """ "continuous", "weekly", "every 2 weeks", ... worded once per distinct review period."""
    distinct, which = np.unique(np.nan_to_num(days, nan=0.0), return_inverse=True)
    named = {7.0: "weekly", 14.0: "every 2 weeks", 28.0: "every 4 weeks"}
    words = np.array([named.get(float(d), f"every {d:g} days") for d in distinct], dtype=object)
    return np.where(review.to_numpy() == "continuous", "continuous", words[which.reshape(-1)])


def policy_inputs(
    features: pd.DataFrame,
    catalogue: Catalogue,
    *,
    bucket: str,
    default_margin: float,
    margin_by_category: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Per product: its segment's policy and every formula input, times in the demand's periods.

    ``features`` is a snapshot with a ``segment`` column. A segment the catalogue does not hold
    keeps missing policy fields (:func:`segment_policies` flags it, naming the segment).
    Returns a new frame in the order of ``features``.
    """
    if bucket not in PERIOD_DAYS:
        raise ValueError(f"bucket {bucket!r} is not one of {', '.join(PERIOD_DAYS)}")
    days = PERIOD_DAYS[bucket]
    per = _catalogue_policies(catalogue)
    seg = features[SEGMENT].astype("str").reset_index(drop=True)
    joined = pd.DataFrame({SEGMENT: seg}).merge(per, on=SEGMENT, how="left", sort=False)
    out = pd.DataFrame({C.SKU_ID: features[C.SKU_ID].astype("str").to_numpy(), SEGMENT: seg})
    for name in _POLICY_FIELDS:
        out[name] = joined[name].to_numpy()
    out["known_segment"] = seg.isin(per[SEGMENT]).to_numpy()
    review_days = _number(out, C.REVIEW_PERIOD_DAYS)
    out[C.REVIEW_PERIOD] = review_days / days
    out[C.REVIEW_FREQUENCY] = _review_frequency(out[C.REVIEW].fillna(""), review_days)
    out[C.REVIEWS_PER_YEAR] = np.where(
        out[C.REVIEW].to_numpy() == "periodic",
        _DAYS_PER_YEAR / np.where(review_days > 0, review_days, np.nan),
        _DAYS_PER_YEAR,  # continuous review counted as a daily look
    )
    out[C.POLICY] = np.where(
        out[C.REVIEW].to_numpy() == "continuous",
        POLICY_KINDS[0],
        np.where(out[C.ORDER_RULE].to_numpy() == "lot_for_lot", POLICY_KINDS[1], POLICY_KINDS[2]),
    )
    out[C.PERIOD] = bucket
    out[C.PERIOD_DAYS] = days
    out[C.PERIODS_PER_YEAR] = periods_per_year(bucket)
    out[C.DEMAND_MEAN] = _number(features, "mean_qty")
    out[C.DEMAND_SD] = _number(features, "std_qty")
    out[C.LEAD_TIME_DAYS] = _number(features, "lead_time_mean_days")
    out[C.LEAD_TIME_SD_DAYS] = _number(features, "lead_time_sd_days")
    out[C.LEAD_TIME] = out[C.LEAD_TIME_DAYS] / days
    out[C.LEAD_TIME_SD] = out[C.LEAD_TIME_SD_DAYS] / days
    for name in ("adi", "cv2"):
        out[name] = _number(features, name)
    out[C.MOQ] = np.nan_to_num(_number(features, C.MOQ), nan=0.0)
    out[C.PACK_SIZE] = _number(features, C.PACK_SIZE)
    price = _number(features, C.UNIT_PRICE)
    cost = _number(features, C.UNIT_COST)
    margin = np.full(len(out), float(default_margin))
    if margin_by_category and C.CATEGORY in features.columns:
        by_cat = features[C.CATEGORY].map(dict(margin_by_category)).to_numpy(dtype=np.float64)
        margin = np.where(np.isnan(by_cat), margin, by_cat)
    has_cost = np.isfinite(cost) & (cost > 0)
    out[C.UNIT_PRICE] = price
    out[C.UNIT_VALUE] = np.where(has_cost, cost, price * (1.0 - margin))
    out[C.UNIT_VALUE_SOURCE] = np.where(
        has_cost,
        "unit_cost",
        np.where(np.isfinite(price), "unit_price less default margin", "missing"),
    )
    return out


def with_uniform_service_level(inputs: pd.DataFrame, level: float, kind: str) -> pd.DataFrame:
    """The same inputs with one service level of one type for every product, no cost switch."""
    return inputs.assign(
        **{
            C.TARGET_SERVICE_LEVEL: float(level),
            C.SERVICE_LEVEL_TYPE: kind,
            "cost_based_switch": False,
        }
    )


@dataclass(frozen=True)
class SegmentPolicies:
    """Valid policies (finite numbers only) and the flagged rows with their reasons."""

    policies: pd.DataFrame
    flagged: pd.DataFrame


def _add_reason(
    reasons: NDArray[np.object_], rows: NDArray[np.bool_] | NDArray[np.intp], text: object
) -> None:
    """Append `text` (one, or one per row) to the reason of `rows`, in place (our own array)."""
    current = reasons[rows]
    if current.size == 0:
        return
    texts = np.broadcast_to(np.asarray(text, dtype=object), current.shape)
    reasons[rows] = np.where(current == "", texts, current + "; " + texts)


def _named(reason: str) -> str:
    for name, source in _SOURCES.items():
        if reason.startswith(name + " ") or ("; " + name + " ") in reason:
            reason = reason.replace(name + " ", f"{name} (snapshot {source}) ", 1)
    return reason


def _input_reasons(inputs: pd.DataFrame, history_rows: NDArray[np.bool_]) -> NDArray[np.object_]:
    """One reason per row ("" = computable) for every input problem, all at once."""
    n = len(inputs)
    reasons = np.full(n, "", dtype=object)
    unknown = ~inputs["known_segment"].to_numpy(dtype=bool)
    if unknown.any():
        for name in pd.unique(inputs.loc[unknown, SEGMENT]):
            _add_reason(
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
        _add_reason(reasons, bad, np.array([_named(r) for r in distinct], dtype=object)[which])
    d = inputs[C.DEMAND_MEAN].to_numpy()
    selling = np.isfinite(d) & (d > 0)
    method = inputs[C.LTD_METHOD].to_numpy()
    compound = selling & (method == "poisson_gamma")
    if compound.any():
        intermittent = validate_policy_inputs(
            adi=inputs["adi"].to_numpy()[compound], cv2=inputs["cv2"].to_numpy()[compound]
        )
        wrong = intermittent != ""
        _add_reason(
            reasons,
            np.flatnonzero(compound)[wrong],
            "method poisson_gamma: " + intermittent[wrong].astype(object),
        )
    eoq = selling & (inputs[C.ORDER_RULE].to_numpy() == "eoq")
    value = inputs[C.UNIT_VALUE].to_numpy()
    _add_reason(
        reasons,
        eoq & ~(np.isfinite(value) & (value > 0)),
        "the eoq order rule needs a unit value: the product has no unit_cost and no unit_price; "
        "add them to the product master",
    )
    _add_reason(
        reasons,
        selling & (method == "bootstrap") & ~history_rows,
        "method bootstrap needs the product's demand history, and the demand table has none "
        "in the window",
    )
    return reasons


def bootstrap_lead_time_demand_samples(
    history: Array,
    lead_time: Array,
    lead_time_sd: Array,
    review_period: Array,
    n_samples: int = 1000,
    seed: int = 0,
) -> Array:
    """Samples (products x n_samples) of demand over a random lead time plus the review period.

    For each sample a lead time is drawn from a gamma with the product's mean and sd (fixed when
    the sd is 0); then ``floor(l + R)`` of the product's observed periods are drawn with
    replacement, plus the fraction ``(l + R) mod 1`` of one more (Willemain, Smart & Schwarz 2004,
    *Int. J. Forecasting* 20:375-387, without their Markov occurrence model and jitter; the same
    resampling as :func:`ml.policy.bootstrap_lead_time_demand`, which keeps the lead time fixed).
    ``history`` holds NaN for periods not observed (before launch). Seeded; chunked over products.
    """
    h = np.asarray(history, dtype=np.float64)
    n = h.shape[0]
    observed = ~np.isnan(h)
    counts = observed.sum(axis=1)
    order = np.argsort(~observed, axis=1, kind="stable")
    values = np.nan_to_num(np.take_along_axis(h, order, axis=1), nan=0.0)
    mean_l = np.broadcast_to(np.asarray(lead_time, dtype=np.float64), (n,))
    sd_l = np.broadcast_to(np.asarray(lead_time_sd, dtype=np.float64), (n,))
    review = np.broadcast_to(np.asarray(review_period, dtype=np.float64), (n,))
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        shape = np.where(sd_l > 0, (mean_l / sd_l) ** 2, np.inf)
        scale = np.where(sd_l > 0, sd_l**2 / mean_l, 0.0)
    out = np.empty((n, n_samples))
    # the longest horizon bounds the periods drawn per sample (gamma tail capped at mean + 8 sd)
    cap = mean_l + 8.0 * sd_l + review
    periods_max = int(np.ceil(cap.max(initial=0.0))) + 1
    step = max(1, _SAMPLE_CELLS_PER_CHUNK // (n_samples * periods_max))
    for start in range(0, n, step):
        rows = slice(start, min(start + step, n))
        c = values[rows].shape[0]
        random_lt = np.isfinite(shape[rows])
        lt = np.broadcast_to(mean_l[rows, None], (c, n_samples)).copy()
        if random_lt.any():
            lt[random_lt] = rng.gamma(
                shape[rows][random_lt, None],
                scale[rows][random_lt, None],
                size=(int(random_lt.sum()), n_samples),
            )
        horizon = np.minimum(lt + review[rows, None], cap[rows, None])
        whole = np.floor(horizon).astype(np.intp)
        fraction = horizon - whole
        width = int(whole.max(initial=0)) + 1
        picks = (rng.random((c, n_samples, width)) * counts[rows, None, None]).astype(np.intp)
        drawn = np.take_along_axis(values[rows, None, :], picks.reshape(c, 1, -1), axis=2)
        drawn = drawn.reshape(c, n_samples, width)
        j = np.arange(width)
        weight = np.where(
            j < whole[..., None], 1.0, np.where(j == whole[..., None], fraction[..., None], 0.0)
        )
        out[rows] = np.einsum("psj,psj->ps", drawn, weight)
    return out


def sample_fill_rate(samples: Array, reorder_point: Array, order_qty: Array) -> Array:
    """1 - E[(X - r)^+ - (X - r - Q)^+] / Q over each row's samples X (Axsäter 2015, ch. 5)."""
    r = np.asarray(reorder_point, dtype=np.float64)[:, None]
    q = np.asarray(order_qty, dtype=np.float64)[:, None]
    short = np.mean(np.maximum(samples - r, 0.0) - np.maximum(samples - r - q, 0.0), axis=1)
    return np.clip(1.0 - short / q[:, 0], 0.0, 1.0)


def sample_fill_rate_reorder_point(samples: Array, fill_rate: Array, order_qty: Array) -> Array:
    """The lowest r >= 0 whose sample fill rate reaches the target (bisection; it rises in r)."""
    low = np.zeros(samples.shape[0])
    high = np.maximum(samples.max(axis=1), 0.0)
    target = np.asarray(fill_rate, dtype=np.float64)
    met_at_zero = sample_fill_rate(samples, low, order_qty) >= target
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        reached = sample_fill_rate(samples, mid, order_qty) >= target
        high = np.where(reached, mid, high)
        low = np.where(reached, low, mid)
    return np.where(met_at_zero, 0.0, high)


def _sample_quantile(samples: Array, level: Array) -> Array:
    ordered = np.sort(samples, axis=1)
    at = np.ceil(level * samples.shape[1]).astype(np.intp) - 1
    return np.take_along_axis(ordered, np.clip(at, 0, samples.shape[1] - 1)[:, None], 1)[:, 0]


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
        service_type=inputs[C.SERVICE_LEVEL_TYPE].to_numpy()[rows].astype(str),
        order_qty=q,
        k_min=k_min,
        errors="flag",
    )
    bad = p.reason != ""
    _add_reason(reasons, rows[bad], p.reason[bad])
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


def _compound(out: _Outputs, rows, inputs, level, q) -> None:
    d = inputs[C.DEMAND_MEAN].to_numpy()[rows]
    cp = compound_poisson_parameters(
        d, inputs["adi"].to_numpy()[rows], inputs["cv2"].to_numpy()[rows]
    )
    lt = inputs[C.LEAD_TIME].to_numpy()[rows]
    review = inputs[C.REVIEW_PERIOD].to_numpy()[rows]
    args = (cp.demand_rate, cp.size_mean, cp.size_sd, lt, review)
    fill = inputs[C.SERVICE_LEVEL_TYPE].to_numpy()[rows] == "fill_rate"
    r = np.empty(rows.size)
    if (~fill).any():
        sub = [np.asarray(x)[~fill] for x in args]
        r[~fill] = intermittent_reorder_point(level[~fill], *sub, method="poisson_gamma")
    if fill.any():
        sub = [np.asarray(x)[fill] for x in args]
        r[fill] = intermittent_fill_rate_reorder_point(
            level[fill], q[fill], *sub, method="poisson_gamma"
        )
    r = np.maximum(r, 0.0)
    mean, var = lead_time_demand_moments(*args)
    sd = np.sqrt(var)
    rate = intermittent_fill_rate(r, q, *args, method="poisson_gamma")
    out.put(
        rows,
        **{
            C.REORDER_POINT: r,
            C.SAFETY_STOCK: r - mean,
            C.LEAD_TIME_DEMAND_MEAN: mean,
            C.LEAD_TIME_DEMAND_SD: sd,
            C.SAFETY_FACTOR: np.where(sd > 0, (r - mean) / np.where(sd > 0, sd, 1.0), 0.0),
            C.EXPECTED_FILL_RATE: rate,
        },
    )


def _bootstrap(out: _Outputs, rows, inputs, level, q, history, samples, seed) -> None:
    skus = inputs[C.SKU_ID].to_numpy()[rows]
    matrix = history.reindex(skus).to_numpy(dtype=np.float64)
    x = bootstrap_lead_time_demand_samples(
        matrix,
        inputs[C.LEAD_TIME].to_numpy()[rows],
        inputs[C.LEAD_TIME_SD].to_numpy()[rows],
        inputs[C.REVIEW_PERIOD].to_numpy()[rows],
        samples,
        seed,
    )
    fill = inputs[C.SERVICE_LEVEL_TYPE].to_numpy()[rows] == "fill_rate"
    r = np.empty(rows.size)
    if (~fill).any():
        r[~fill] = _sample_quantile(x[~fill], level[~fill])
    if fill.any():
        r[fill] = sample_fill_rate_reorder_point(x[fill], level[fill], q[fill])
    r = np.maximum(r, 0.0)
    mean, sd = x.mean(axis=1), x.std(axis=1)
    out.put(
        rows,
        **{
            C.REORDER_POINT: r,
            C.SAFETY_STOCK: r - mean,
            C.LEAD_TIME_DEMAND_MEAN: mean,
            C.LEAD_TIME_DEMAND_SD: sd,
            C.SAFETY_FACTOR: np.where(sd > 0, (r - mean) / np.where(sd > 0, sd, 1.0), 0.0),
            C.EXPECTED_FILL_RATE: sample_fill_rate(x, r, q),
        },
    )


def _order_quantities(inputs: pd.DataFrame, rows: NDArray[np.intp]) -> Array:
    d = inputs[C.DEMAND_MEAN].to_numpy()[rows]
    rule = inputs[C.ORDER_RULE].to_numpy()[rows].astype(str)
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


def _planned_levels(
    out: _Outputs, rows: NDArray[np.intp], inputs: pd.DataFrame, q: Array, holding_rate: float
) -> Array:
    """The service level each row plans with: the target, or the lower critical ratio."""
    target = inputs[C.TARGET_SERVICE_LEVEL].to_numpy(dtype=np.float64)[rows]
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
    reasons = _input_reasons(inputs, in_history)
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
        method = inputs[C.LTD_METHOD].to_numpy()[selling]
        for name in ("normal", "poisson_gamma", "bootstrap"):
            pick = method == name
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
    frame = inputs.copy()
    for name, values in out.columns.items():
        frame[name] = values
    frame[C.COST_BASED] = out.cost_based
    frame[C.NOTE] = pd.array(out.notes.astype(str), dtype="str")
    numbers = [C.SAFETY_STOCK, C.REORDER_POINT, C.ORDER_QTY, C.EXPECTED_FILL_RATE]
    finite = np.isfinite(frame[numbers].to_numpy(dtype=np.float64)).all(axis=1)
    _add_reason(
        reasons,
        (reasons == "") & ~finite,
        "the formulas gave no finite policy for these inputs; check the attributes",
    )
    good = reasons == ""
    flagged = inputs.loc[~good].copy()
    flagged[C.REASON] = pd.array(reasons[~good].astype(str), dtype="str")
    return SegmentPolicies(frame.loc[good].reset_index(drop=True), flagged.reset_index(drop=True))
