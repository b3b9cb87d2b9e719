"""Planted demand for the synthetic company: segment specs and a seeded weekly demand matrix.

Demand classes follow Syntetos, Boylan & Croston (2005), "On the categorization of demand
patterns", J. Oper. Res. Soc. 56(5): ADI cut-off 1.32 and CV² (of the non-zero demand sizes)
cut-off 0.49. Each planted product is redrawn until its realised ADI and CV² sit well away from
both cut-offs, so the planted class is unambiguous on the generated data itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ADI_CUTOFF",
    "CV2_CUTOFF",
    "PATTERNS",
    "SEGMENTS",
    "VALUE_SHARES",
    "PlantedDemand",
    "SegmentSpec",
    "demand_pattern",
    "planted_choice",
    "planted_segment_index",
    "realised_adi_cv2",
    "weekly_demand",
]

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
PATTERNS = ("smooth", "erratic", "intermittent", "lumpy")

# Margins of safety around the cut-offs that every planted product must clear on its own data,
# over its whole active history and over the trailing 52 weeks (the default derivation window).
_ADI_LOW_MAX = 1.15  # smooth / erratic: at most this ADI
_ADI_HIGH_MIN = 1.7  # intermittent / lumpy: at least this ADI
_CV2_LOW_MAX = 0.30  # smooth / intermittent
_CV2_HIGH_MIN = 0.75  # erratic / lumpy, raw
_CV2_HIGH_MIN_CLEANSED = 0.60  # erratic / lumpy, sizes capped at median + 5·MAD
_K_MAD = 5.0
_TRAILING_WEEKS = 52
_MAX_REDRAWS = 60

# Per planted pattern: probability that a week has demand, and CV² of the non-zero sizes.
_OCCURRENCE = {
    "smooth": (0.97, 1.0),
    "erratic": (0.95, 1.0),
    "intermittent": (0.2, 0.4),
    "lumpy": (0.2, 0.4),
}
_SIZE_CV2 = {
    "smooth": (0.03, 0.15),
    "erratic": (1.2, 2.4),
    "intermittent": (0.03, 0.15),
    "lumpy": (1.2, 2.4),
}

# Share of established-product revenue each planted value class holds (Pareto 80/15/5).
VALUE_SHARES = {"A": 0.80, "B": 0.15, "C": 0.05}


@dataclass(frozen=True)
class SegmentSpec:
    """One planted business segment: its share of products, patterns, value classes, volumes."""

    name: str
    share: float
    patterns: dict[str, float]
    value_classes: dict[str, float]
    size_mean: tuple[float, float]  # mean units per non-zero week (log-uniform range)
    new: bool = False


SEGMENTS: tuple[SegmentSpec, ...] = (
    SegmentSpec("core_fast_movers", 0.12, {"smooth": 1.0}, {"A": 1.0}, (150, 1500)),
    SegmentSpec("erratic_high_value", 0.10, {"erratic": 1.0}, {"A": 0.4, "B": 0.6}, (40, 400)),
    SegmentSpec(
        "intermittent_slow_movers", 0.18, {"intermittent": 1.0}, {"B": 0.25, "C": 0.75}, (8, 40)
    ),
    SegmentSpec("lumpy", 0.12, {"lumpy": 1.0}, {"B": 0.35, "C": 0.65}, (20, 200)),
    SegmentSpec("long_tail", 0.38, {"smooth": 0.5, "erratic": 0.5}, {"C": 1.0}, (4, 20)),
    SegmentSpec("new_products", 0.10, {"smooth": 1.0}, {"C": 1.0}, (5, 40), new=True),
)


def _exact_counts(n: int, shares: list[float]) -> np.ndarray:
    """Counts summing to n, proportional to shares (largest remainders get the leftovers)."""
    raw = np.asarray(shares, dtype=float) / sum(shares) * n
    counts = np.floor(raw).astype(np.int64)
    leftover = n - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:leftover]] += 1
    return counts


def planted_segment_index(n_skus: int, rng: np.random.Generator) -> np.ndarray:
    """Index into SEGMENTS per product: exact proportions, shuffled."""
    counts = _exact_counts(n_skus, [s.share for s in SEGMENTS])
    return rng.permutation(np.repeat(np.arange(len(SEGMENTS)), counts))


def planted_choice(
    group: np.ndarray, options: list[dict[str, float]], rng: np.random.Generator
) -> np.ndarray:
    """Per product, one key of options[group]: exact proportions within each group, shuffled."""
    out = np.empty(group.size, dtype=object)
    for g, weights in enumerate(options):  # loop over a handful of segments, not products
        members = np.flatnonzero(group == g)
        counts = _exact_counts(members.size, list(weights.values()))
        labels = np.repeat(np.array(list(weights), dtype=object), counts)
        out[members] = labels[rng.permutation(members.size)]
    return out


def demand_pattern(adi: np.ndarray, cv2: np.ndarray) -> np.ndarray:
    """Syntetos–Boylan class per product from ADI and CV² (of non-zero sizes)."""
    frequent = adi < ADI_CUTOFF
    steady = cv2 < CV2_CUTOFF
    return np.where(
        frequent,
        np.where(steady, "smooth", "erratic"),
        np.where(steady, "intermittent", "lumpy"),
    )


def _capped_sizes(x: np.ndarray, nonzero: np.ndarray, k_mad: float) -> np.ndarray:
    """Weeks x products sizes with each product's sizes capped at median + k_mad·MAD of its
    non-zero sizes (zeros stay zero)."""
    rows = np.arange(x.shape[1])
    lo, hi = np.maximum(nonzero - 1, 0) // 2, nonzero // 2

    def median_of_nonzero(values: np.ndarray) -> np.ndarray:
        ordered = np.sort(values, axis=1)  # products x weeks, zeros pushed to the end as inf
        return (ordered[rows, lo] + ordered[rows, hi]) / 2

    xt = np.ascontiguousarray(x.T, dtype=float)
    missing = xt == 0
    med = median_of_nonzero(np.where(missing, np.inf, xt))
    mad = median_of_nonzero(np.where(missing, np.inf, np.abs(xt - med[:, None])))
    return np.minimum(x, med + k_mad * mad)


def realised_adi_cv2(
    qty: np.ndarray, first_week: np.ndarray, k_mad: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """ADI and CV² (population, of non-zero sizes) per column of a weeks x products matrix.

    Weeks before first_week (a product's launch, or the window start) are not counted. With
    k_mad, sizes above median + k_mad·MAD of the product's non-zero sizes are capped there first.
    """
    n_weeks = qty.shape[0]
    start = np.clip(first_week, 0, n_weeks)
    x = np.where(np.arange(n_weeks)[:, None] >= start[None, :], qty, 0)
    nonzero = np.count_nonzero(x, axis=0)
    if k_mad is not None:
        x = _capped_sizes(x, nonzero, k_mad)
    s1 = x.sum(axis=0, dtype=float)
    s2 = np.square(x, dtype=float).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        adi = (n_weeks - start) / nonzero
        mean = s1 / nonzero
        cv2 = np.maximum(s2 / nonzero - mean * mean, 0.0) / (mean * mean)
    return adi, cv2


def _clears_margins(pattern: np.ndarray, qty: np.ndarray, first_week: np.ndarray) -> np.ndarray:
    """True per product whose realised ADI / CV² sit on the planted side, with margin.

    A product without demand has an undefined CV² (NaN), which fails every test.
    """
    frequent = np.isin(pattern, ("smooth", "erratic"))
    variable = np.isin(pattern, ("erratic", "lumpy"))
    cols = np.flatnonzero(variable)
    ok = np.ones(pattern.size, dtype=bool)
    windows = [first_week]
    if qty.shape[0] > _TRAILING_WEEKS:
        windows.append(np.maximum(first_week, qty.shape[0] - _TRAILING_WEEKS))
    for start in windows:
        adi, cv2 = realised_adi_cv2(qty, start)
        ok &= np.where(frequent, adi <= _ADI_LOW_MAX, adi >= _ADI_HIGH_MIN)
        ok &= np.where(variable, cv2 >= _CV2_HIGH_MIN, cv2 <= _CV2_LOW_MAX)
        if cols.size:
            _, cv2_clean = realised_adi_cv2(qty[:, cols], start[cols], k_mad=_K_MAD)
            ok[cols] &= cv2_clean >= _CV2_HIGH_MIN_CLEANSED
    return ok


def _draw(
    occurrence: np.ndarray,
    size_mean: np.ndarray,
    size_cv2: np.ndarray,
    variable: np.ndarray,
    first_week: np.ndarray,
    n_weeks: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Weeks x products: Bernoulli occurrence times sizes, rounded to whole units (at least 1).

    Variable (erratic, lumpy) sizes are gamma; steady sizes (CV² <= 0.15) are normal, which is
    much cheaper to draw and at that CV² practically never below zero.
    """
    sizes = np.empty((n_weeks, occurrence.size), dtype=np.float32)
    cols = np.flatnonzero(variable)
    shape = 1.0 / size_cv2[cols]
    sizes[:, cols] = rng.gamma(shape, size_mean[cols] / shape, size=(n_weeks, cols.size))
    cols = np.flatnonzero(~variable)
    noise = rng.standard_normal((n_weeks, cols.size), dtype=np.float32)
    sizes[:, cols] = size_mean[cols] * (1 + np.sqrt(size_cv2[cols]) * noise)
    occurs = rng.random((n_weeks, occurrence.size), dtype=np.float32) < occurrence
    occurs &= np.arange(n_weeks)[:, None] >= first_week[None, :]
    np.rint(sizes, out=sizes)
    np.maximum(sizes, 1, out=sizes)
    sizes[~occurs] = 0
    return sizes.astype(np.int32)


@dataclass(frozen=True)
class PlantedDemand:
    """Weekly demand (weeks x products, whole sell units) and the parameters it was drawn with."""

    qty: np.ndarray
    occurrence: np.ndarray  # probability that a week has demand (1 / planted ADI)
    size_mean: np.ndarray  # mean sell units per non-zero week
    size_cv2: np.ndarray  # planted CV² of the non-zero sizes


def weekly_demand(
    pattern: np.ndarray,
    size_mean: np.ndarray,
    first_week: np.ndarray,
    n_weeks: int,
    rng: np.random.Generator,
) -> PlantedDemand:
    """Planted weekly demand per product, every product's realised class its planted class.

    Products whose draw lands near a Syntetos–Boylan cut-off are redrawn, all of them at once,
    for a few rounds. Low-volume variable products lose variability to rounding, so each round a
    still-failing erratic or lumpy product's size mean grows by a fifth.
    """
    n = pattern.size
    occurrence = np.empty(n)
    size_cv2 = np.empty(n)
    size_mean = np.array(size_mean, dtype=float)
    for name in PATTERNS:  # four patterns, not products
        rows = pattern == name
        occurrence[rows] = rng.uniform(*_OCCURRENCE[name], size=rows.sum())
        size_cv2[rows] = rng.uniform(*_SIZE_CV2[name], size=rows.sum())
    variable = np.isin(pattern, ("erratic", "lumpy"))
    qty = _draw(occurrence, size_mean, size_cv2, variable, first_week, n_weeks, rng)
    todo = np.flatnonzero(~_clears_margins(pattern, qty, first_week))
    for _ in range(_MAX_REDRAWS):
        if todo.size == 0:
            break
        size_mean[todo] *= np.where(variable[todo], 1.2, 1.0)
        redraw = _draw(
            occurrence[todo],
            size_mean[todo],
            size_cv2[todo],
            variable[todo],
            first_week[todo],
            n_weeks,
            rng,
        )
        qty[:, todo] = redraw
        todo = todo[~_clears_margins(pattern[todo], redraw, first_week[todo])]
    if todo.size:
        raise RuntimeError(
            f"{todo.size} planted products could not be drawn clear of the Syntetos–Boylan "
            f"cut-offs in {_MAX_REDRAWS} rounds (n_weeks={n_weeks})"
        )
    return PlantedDemand(qty, occurrence, size_mean, size_cv2)
