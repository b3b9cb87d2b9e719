"""Rule drivers: ABC, XYZ, demand pattern (SBC / Kostenko–Hyndman), supply risk, history check.

Every function is vectorised over a snapshot frame (one row per product, or product x location)
and returns a new Series or DataFrame aligned on the frame's index; none mutates its input.

Boundary convention, everywhere: a value exactly at a cut-off belongs to the lower, calmer class.
ADI = 1.32 is frequent, CV² = 0.49 is stable, cv = 0.5 is X, a risk score of 0.3 is low, and a
point exactly on the Kostenko–Hyndman line is on the Croston (smooth) side. This is the
convention of Kourentzes' reference implementation (R package tsintermittent, `idclass`:
`use.sba <- p > 1.32 | v > 0.49`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ml.columns import AS_OF, LOCATION_ID
from ml.config.drivers import (
    HistoryConfig,
    RiskWeights,
    SegmentationConfig,
)
from ml.errors import StrataError

__all__ = [
    "ABC",
    "AGE",
    "AGE_PERIODS",
    "ESTABLISHED",
    "INSUFFICIENT_HISTORY",
    "NEW",
    "PATTERN",
    "RISK",
    "RULE_CLASSES",
    "RULE_IMPLICATIONS",
    "SUPPLY_RISK_SCORE",
    "UNKNOWN",
    "XYZ",
    "abc_class",
    "age_class",
    "demand_pattern",
    "history_sufficient",
    "kostenko_hyndman_boundary",
    "risk_class",
    "rule_classes",
    "share_ranked_above",
    "supply_risk_components",
    "supply_risk_score",
    "xyz_class",
]

# rule-class columns (what an archetype can test besides attributes)
ABC = "abc"
XYZ = "xyz"
PATTERN = "pattern"
RISK = "risk"
AGE = "age"  # new | established | unknown, from age_periods and history.min_periods
SUPPLY_RISK_SCORE = "supply_risk_score"

# labels for products the rules cannot measure yet
NEW = "new"
INSUFFICIENT_HISTORY = "insufficient_history"
UNKNOWN = "unknown"
ESTABLISHED = "established"

RULE_CLASSES: dict[str, tuple[str, ...]] = {
    ABC: ("A", "B", "C", NEW),
    XYZ: ("X", "Y", "Z", NEW),
    PATTERN: ("smooth", "erratic", "intermittent", "lumpy", INSUFFICIENT_HISTORY),
    RISK: ("low", "medium", "high", UNKNOWN),
    AGE: (NEW, ESTABLISHED, UNKNOWN),
}

# Label combinations rule_classes guarantees: a product without enough history is `new` on every
# rule. The catalogue's coverage check leaves the impossible combinations out.
RULE_IMPLICATIONS: dict[tuple[str, str], dict[str, str]] = {
    (ABC, NEW): {XYZ: NEW, PATTERN: INSUFFICIENT_HISTORY},
}

# snapshot attributes the drivers read (names from docs/architecture.md)
REVENUE = "revenue"
MARGIN = "margin"
PERIODS_OBSERVED = "periods_observed"
AGE_PERIODS = "age_periods"
NONZERO_PERIODS = "nonzero_periods"
TOTAL_QTY = "total_qty"
ADI = "adi"
LEAD_TIME_CV = "lead_time_cv"
ON_TIME_RATE = "on_time_rate"
SUPPLIER_FILL_RATE = "supplier_fill_rate"
IMPORT_DEPENDENCY = "import_dependency"
N_SUPPLIERS = "n_suppliers"
SINGLE_SOURCE = "single_source"  # derived here from n_suppliers == 1

# Shares are compared with this slack so that float rounding of a running sum (0.7999999999
# for a true 0.8) never moves the product sitting exactly on a cut-off.
_SHARE_TOL = 1e-9


def _require(frame: pd.DataFrame, columns: Sequence[str], needed_for: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise StrataError(
            f"{needed_for} needs the attribute column(s) {', '.join(missing)}, which the frame "
            f"lacks (it has: {', '.join(map(str, frame.columns[:30]))}); build the feature "
            f"snapshot with these attributes or choose another driver in configs/segments.yaml"
        )


def _labels(index: pd.Index, values: np.ndarray, name: str) -> pd.Series:
    return pd.Series(values, index=index, name=name, dtype="str")


def share_ranked_above(values: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """Share of its group's total held by strictly larger values. 0 = the top seller.

    Negative and missing values count as 0. Tied values get the same share (the share of the
    values above the whole tie), so the result does not depend on row order. A group whose total
    is 0 gets 1.0 (nothing to rank).
    """
    v = values.astype("float64").fillna(0.0).clip(lower=0.0).to_numpy()
    g = np.zeros(len(v), dtype=np.int64) if groups is None else pd.factorize(groups)[0]
    tmp = pd.DataFrame({"g": g, "v": v})
    by_value = tmp.groupby(["g", "v"], sort=True)["v"].sum()
    at_or_above = by_value.iloc[::-1].groupby(level="g").cumsum()
    above = (at_or_above - by_value).rename("above")
    total = tmp.groupby("g")["v"].sum().rename("total")
    rows = tmp.join(above, on=["g", "v"]).join(total, on="g")
    share = (rows["above"] / rows["total"].where(rows["total"] > 0)).fillna(1.0)
    return pd.Series(share.to_numpy(), index=values.index, name="share_ranked_above")


def _abc_groups(frame: pd.DataFrame, config: SegmentationConfig) -> pd.Series | None:
    keys = [AS_OF] if AS_OF in frame.columns else []
    if config.grain == "product_location" and LOCATION_ID in frame.columns:
        keys.append(LOCATION_ID)
    if not keys:
        return None
    return frame.groupby(keys, dropna=False, sort=False).ngroup()


def abc_class(frame: pd.DataFrame, config: SegmentationConfig | None = None) -> pd.Series:
    """ABC class (A, B, C) by the configured basis: revenue, margin or supply risk.

    revenue / margin (Pareto): rank products by the basis value, largest first; a product is A
    while the products ranked above it hold less than the first cut-off of the total, B while
    they hold less than the second, C otherwise. So the product whose own value carries the
    running total exactly to (or past) 80% is still A, and the top product is always A.
    Shares are recomputed from `revenue` / `margin` over the rows passed in, per `as_of`, and per
    location at grain product_location. Negative margins count as 0 (always C).

    risk: A when the supply-risk score is above the second risk cut-off, B when above the first,
    C otherwise; an unknown score (no supply data at all) is planned as B.
    """
    config = config or SegmentationConfig()
    abc = config.abc
    if abc.basis == "risk":
        score = supply_risk_score(
            frame, config.risk.weights, lead_time_cv_cap=config.risk.lead_time_cv_cap
        )
        low, high = config.risk.score_cutoffs
        s = score.to_numpy()
        values = np.select([np.isnan(s), s > high, s > low], ["B", "A", "B"], "C")
        return _labels(frame.index, values, ABC)
    column = REVENUE if abc.basis == "revenue" else MARGIN
    _require(frame, [column], f"abc_class (basis {abc.basis})")
    above = share_ranked_above(frame[column], _abc_groups(frame, config)).to_numpy()
    a_cut, b_cut = abc.cum_share_cutoffs
    values = np.select([above < a_cut - _SHARE_TOL, above < b_cut - _SHARE_TOL], ["A", "B"], "C")
    return _labels(frame.index, values, ABC)


def xyz_class(cv: pd.Series, cutoffs: tuple[float, float] = (0.5, 1.0)) -> pd.Series:
    """XYZ class: X when cv <= first cut-off, Y when cv <= second, Z above; missing cv -> new."""
    c = cv.astype("float64").to_numpy()
    x_cut, y_cut = cutoffs
    values = np.select([np.isnan(c), c <= x_cut, c <= y_cut], [NEW, "X", "Y"], "Z")
    return _labels(cv.index, values, XYZ)


def kostenko_hyndman_boundary(
    adi: pd.Series | np.ndarray, alpha: float | None = None
) -> np.ndarray:
    """CV² on the Croston/SBA boundary at each ADI (Kostenko & Hyndman 2006, JORS 57:1256–1257).

    SBA beats Croston's method when CV² is above the boundary. alpha None gives the paper's
    recommended approximation CV² = 2 - 3/2·ADI (a line from (1, 1/2) to (4/3, 0)); a smoothing
    constant alpha gives the exact boundary
    CV² = (4p(2-p) - α(4-α) - p(p-1)(4-α)(2-α)) / (p(4-α)(2p-α)) with p = ADI, in the form
    implemented by tsintermittent::idclass (type "KH"). As α -> 0 it tends to 2/p - 3/2.
    """
    p = np.asarray(adi, dtype="float64")
    if alpha is None:
        return 2.0 - 1.5 * p
    a = float(alpha)
    numerator = 4 * p * (2 - p) - a * (4 - a) - p * (p - 1) * (4 - a) * (2 - a)
    return numerator / (p * (4 - a) * (2 * p - a))


def demand_pattern(
    adi: pd.Series,
    cv2: pd.Series,
    method: str = "sbc",
    *,
    adi_cutoff: float = 1.32,
    cv2_cutoff: float = 0.49,
    kh_alpha: float | None = None,
) -> pd.Series:
    """Demand pattern: smooth, erratic, intermittent, lumpy, or insufficient_history.

    sbc (Syntetos, Boylan & Croston 2005, JORS 56:495–503): frequent when ADI <= 1.32, stable
    when CV² <= 0.49; smooth = frequent and stable, erratic = frequent and variable,
    intermittent = infrequent and stable, lumpy = infrequent and variable.
    kostenko_hyndman: smooth (Croston's side) when CV² <= kostenko_hyndman_boundary(ADI); every
    other product is on the SBA side and is named by the same cut-offs: erratic when ADI <= 1.32,
    else lumpy when CV² > 0.49, else intermittent. Missing ADI or CV² -> insufficient_history.
    The result depends only on (adi, cv2) and the settings.
    """
    if method not in ("sbc", "kostenko_hyndman"):
        raise StrataError(
            f"demand pattern method {method!r} is unknown; use 'sbc' or 'kostenko_hyndman'"
        )
    p = adi.astype("float64").to_numpy()
    v = cv2.astype("float64").to_numpy()
    missing = np.isnan(p) | np.isnan(v)
    frequent = p <= adi_cutoff
    variable = v > cv2_cutoff
    if method == "sbc":
        smooth = frequent & ~variable
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            smooth = v <= kostenko_hyndman_boundary(p, kh_alpha)
    values = np.select(
        [missing, smooth, frequent, variable],
        [INSUFFICIENT_HISTORY, "smooth", "erratic", "lumpy"],
        "intermittent",
    )
    return _labels(adi.index, values, PATTERN)


def supply_risk_components(frame: pd.DataFrame, lead_time_cv_cap: float = 1.0) -> pd.DataFrame:
    """The five supply-risk components, each in [0, 1] with 1 = risky; missing stays missing.

    lead_time_cv: lead_time_cv / cap, capped at 1. on_time_rate: 1 - on_time_rate.
    supplier_fill_rate: 1 - supplier_fill_rate. import_dependency: as is (a share).
    single_source: 1 when n_suppliers == 1, 0 when more, missing when unknown or 0.
    """

    def col(name: str) -> pd.Series:
        if name in frame.columns:
            return frame[name].astype("float64")
        return pd.Series(np.nan, index=frame.index, dtype="float64")

    n_suppliers = col(N_SUPPLIERS)
    return pd.DataFrame(
        {
            LEAD_TIME_CV: (col(LEAD_TIME_CV) / lead_time_cv_cap).clip(0.0, 1.0),
            ON_TIME_RATE: 1.0 - col(ON_TIME_RATE).clip(0.0, 1.0),
            SUPPLIER_FILL_RATE: 1.0 - col(SUPPLIER_FILL_RATE).clip(0.0, 1.0),
            IMPORT_DEPENDENCY: col(IMPORT_DEPENDENCY).clip(0.0, 1.0),
            SINGLE_SOURCE: (n_suppliers == 1).astype("float64").where(n_suppliers >= 1),
        },
        index=frame.index,
    )


def supply_risk_score(
    frame: pd.DataFrame, weights: RiskWeights | None = None, *, lead_time_cv_cap: float = 1.0
) -> pd.Series:
    """Supply-risk score in [0, 1]: the weighted mean of the available risk components.

    A component that is missing for a product drops out of that product's mean (its weight is not
    counted), so a product with no supplier history is scored on what is known. No component at
    all -> missing score. The attribute columns with a positive weight must exist in the frame.
    """
    weights = weights or RiskWeights()
    w = pd.Series(weights.model_dump(), dtype="float64")
    needed = [N_SUPPLIERS if k == SINGLE_SOURCE else k for k, x in w.items() if x > 0]
    _require(frame, needed, "supply_risk_score")
    comps = supply_risk_components(frame, lead_time_cv_cap)[w.index]
    known = comps.notna().to_numpy()
    c = np.nan_to_num(comps.to_numpy())
    weight = known * w.to_numpy()
    denominator = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = (c * weight).sum(axis=1) / np.where(denominator > 0, denominator, np.nan)
    return pd.Series(score, index=frame.index, name=SUPPLY_RISK_SCORE)


def risk_class(score: pd.Series, cutoffs: tuple[float, float] = (0.3, 0.6)) -> pd.Series:
    """Supply-risk class: low when score <= first cut-off, medium when <= second, high above."""
    s = score.astype("float64").to_numpy()
    low, high = cutoffs
    values = np.select([np.isnan(s), s <= low, s <= high], [UNKNOWN, "low", "medium"], "high")
    return _labels(score.index, values, RISK)


def history_sufficient(frame: pd.DataFrame, history: HistoryConfig | None = None) -> pd.Series:
    """True when a product has enough observed periods and sold something; else rules say new."""
    history = history or HistoryConfig()
    _require(frame, [PERIODS_OBSERVED, TOTAL_QTY], "history_sufficient")
    periods = frame[PERIODS_OBSERVED].astype("float64")
    sold = frame[TOTAL_QTY].astype("float64")
    ok = (periods >= history.min_periods) & (sold > 0)
    return ok.rename("history_sufficient")


def rule_classes(frame: pd.DataFrame, config: SegmentationConfig | None = None) -> pd.DataFrame:
    """The rule labels per product: abc, xyz, pattern, risk, the supply-risk score and age.

    Products without enough history (history_sufficient False) get abc and xyz `new` and pattern
    `insufficient_history`; so does a pattern with fewer non-zero periods than
    pattern.min_nonzero_periods. ABC shares are still taken over all rows passed in.
    """
    config = config or SegmentationConfig()
    pc = config.pattern
    _require(frame, [ADI, pc.cv2_attribute, NONZERO_PERIODS, config.xyz.attribute], "rule_classes")
    enough = history_sufficient(frame, config.history).to_numpy()
    abc = abc_class(frame, config).where(enough, NEW)
    xyz = xyz_class(frame[config.xyz.attribute], config.xyz.cv_cutoffs).where(enough, NEW)
    pattern = demand_pattern(
        frame[ADI],
        frame[pc.cv2_attribute],
        pc.method,
        adi_cutoff=pc.adi_cutoff,
        cv2_cutoff=pc.cv2_cutoff,
        kh_alpha=pc.kh_alpha,
    )
    measured = (
        enough & (frame[NONZERO_PERIODS].astype("float64") >= pc.min_nonzero_periods).to_numpy()
    )
    pattern = pattern.where(measured, INSUFFICIENT_HISTORY)
    score = supply_risk_score(
        frame, config.risk.weights, lead_time_cv_cap=config.risk.lead_time_cv_cap
    )
    out = pd.DataFrame(
        {
            ABC: abc,
            XYZ: xyz,
            PATTERN: pattern,
            RISK: risk_class(score, config.risk.score_cutoffs),
            SUPPLY_RISK_SCORE: score,
        },
        index=frame.index,
    )
    if AGE_PERIODS in frame.columns:
        out[AGE] = age_class(frame[AGE_PERIODS], config.history)
    return out


def age_class(age_periods: pd.Series, history: HistoryConfig) -> pd.Series:
    """`new` below history.min_periods since the first sale, `established` from it, else unknown."""
    age = age_periods.astype("float64").to_numpy()
    values = np.select([np.isnan(age), age < history.min_periods], [UNKNOWN, NEW], ESTABLISHED)
    return _labels(age_periods.index, values, AGE)
