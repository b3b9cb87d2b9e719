"""Reclassification with hysteresis: a product leaves its segment only for a clear, lasting reason.

Planners lose trust in a segmentation whose products flip back and forth between runs, and every
flip changes an inventory policy. Under ``mode: hysteresis`` a product keeps its current segment
unless the model's new segment beats the current one's probability by ``margin`` or the same new
segment was proposed ``k_consecutive`` runs in a row — and never before it has held the current
segment ``min_tenure_runs`` runs (and ``min_tenure_days`` days). ``mode: static`` takes the
model's segment every run. The returned frame is also next run's `previous` (the state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import SKU_ID
from ml.config.scoring import HysteresisConfig, ScoringConfig
from ml.errors import StrataError

__all__ = ["RECLASSIFY_COLUMNS", "reclassify"]

RECLASSIFY_COLUMNS = [
    SKU_ID,
    C.SEGMENT,
    C.PROBABILITY,
    C.PREVIOUS_SEGMENT,
    C.CHANGED,
    C.CHANGE_REASON,
    C.TENURE,
    C.STREAK_SEGMENT,
    C.STREAK_COUNT,
    C.SINCE,
]
_EPS = 1e-12  # a margin met to float noise counts as met


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise StrataError(
            f"reclassify: the {name} frame lacks column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, frame.columns))}"
        )
    dupes = frame[SKU_ID][frame[SKU_ID].duplicated()]
    if len(dupes):
        shown = ", ".join(map(str, dupes.unique()[:5]))
        raise StrataError(
            f"reclassify: the {name} frame has {dupes.nunique()} sku_id(s) more than once "
            f"(e.g. {shown}); give one row per product"
        )


def _previous_state(previous: pd.DataFrame, min_tenure_runs: int) -> pd.DataFrame:
    """The previous run's state, with defaults for state columns an older table lacks."""
    state = pd.DataFrame({SKU_ID: previous[SKU_ID], C.PREVIOUS_SEGMENT: previous[C.SEGMENT]})
    # Without a recorded tenure the product counts as settled: tenure cannot block it.
    state["_tenure"] = previous[C.TENURE].astype(float) if C.TENURE in previous else np.nan
    state["_tenure"] = state["_tenure"].fillna(float(min_tenure_runs))
    state["_streak_segment"] = (
        previous[C.STREAK_SEGMENT].astype("str")
        if C.STREAK_SEGMENT in previous
        else pd.Series(pd.NA, index=previous.index, dtype="str")
    )
    state["_streak_count"] = (
        previous[C.STREAK_COUNT].astype(float).fillna(0.0) if C.STREAK_COUNT in previous else 0.0
    )
    state["_since"] = (
        pd.to_datetime(previous[C.SINCE]).astype("datetime64[us]")
        if C.SINCE in previous
        else pd.Series(pd.NaT, index=previous.index, dtype="datetime64[us]")
    )
    return state


def _fmt(values: pd.Series | np.ndarray, spec: str = "%.2f") -> np.ndarray:
    return np.strings.mod(spec, np.asarray(values, dtype=float))


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def reclassify(
    previous: pd.DataFrame,
    proposed: pd.DataFrame,
    config: ScoringConfig | HysteresisConfig,
    as_of: date,
    mode: str | None = None,
) -> pd.DataFrame:
    """The segment each proposed product gets this run, the previous one, and why.

    `previous`: last run's output (``sku_id, segment`` and the state columns ``tenure,
    streak_segment, streak_count, since``; missing state columns mean a settled product with no
    streak). `proposed`: this run's model output, one row per product: ``sku_id, segment,
    probability`` and, for hysteresis, ``prob_of_previous_segment`` (the new model's probability
    of the product's current segment; missing = 0, e.g. a segment the model no longer knows).

    Returns one row per proposed product with RECLASSIFY_COLUMNS. A product absent from
    `previous` gets its proposed segment ("first assignment", changed False); a product absent
    from `proposed` is not returned. ``probability`` is the model's probability of the segment
    actually assigned. `mode` overrides ``config.mode`` (a bare HysteresisConfig means hysteresis).
    """
    params = config.hysteresis if isinstance(config, ScoringConfig) else config
    mode = mode or (config.mode if isinstance(config, ScoringConfig) else "hysteresis")
    if mode not in ("static", "hysteresis"):
        raise StrataError(f"reclassify: mode must be static or hysteresis, got {mode!r}")
    needed = [SKU_ID, C.SEGMENT, C.PROBABILITY]
    if mode == "hysteresis":
        needed.append(C.PROB_OF_PREVIOUS_SEGMENT)
    _require(proposed, needed, "proposed")
    _require(previous, [SKU_ID, C.SEGMENT], "previous")

    cols = [c for c in (*needed, C.PROB_OF_PREVIOUS_SEGMENT) if c in proposed]
    m = proposed[list(dict.fromkeys(cols))].merge(
        _previous_state(previous, params.min_tenure_runs), on=SKU_ID, how="left"
    )
    as_of_ts = pd.Timestamp(as_of)
    proposed_seg = m[C.SEGMENT].astype("str")
    current = m[C.PREVIOUS_SEGMENT].astype("str")
    d = _decide(m, proposed_seg, current, params, mode, as_of_ts)
    kept, change, is_new = d.kept, d.change, d.is_new
    takes_proposal = is_new | d.same | change
    reason = _reasons(d, params, mode)

    out = pd.DataFrame(
        {
            SKU_ID: m[SKU_ID],
            C.SEGMENT: proposed_seg.where(takes_proposal, current),
            C.PROBABILITY: np.where(takes_proposal, d.p_new, d.p_cur),
            C.PREVIOUS_SEGMENT: current,
            C.CHANGED: change,
            C.CHANGE_REASON: pd.Series(reason, index=m.index, dtype="str"),
            C.TENURE: np.where(is_new | change, 1, d.tenure + 1).astype(int),
            C.STREAK_SEGMENT: proposed_seg.where(kept, pd.NA),
            C.STREAK_COUNT: np.where(kept, d.streak, 0).astype(int),
            C.SINCE: m["_since"].where(~(is_new | change), as_of_ts).astype("datetime64[us]"),
        }
    )
    if C.PROB_OF_PREVIOUS_SEGMENT in m:
        # a kept product whose current segment the model no longer scores has no probability
        missing_cur = m[C.PROB_OF_PREVIOUS_SEGMENT].isna().to_numpy() & kept
        out.loc[missing_cur, C.PROBABILITY] = np.nan
    return out[RECLASSIFY_COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class _Decision:
    """Per product: what the rules saw and decided (arrays aligned on the merged frame)."""

    p_new: np.ndarray  # the model's probability of its proposal
    p_cur: np.ndarray  # its probability of the current segment (0 when unknown)
    tenure: np.ndarray
    streak: np.ndarray  # runs in a row the proposal differs the same way, this one included
    is_new: np.ndarray  # no previous segment: a first assignment
    same: np.ndarray  # the model proposes the current segment
    locked_runs: np.ndarray
    locked_days: np.ndarray
    by_margin: np.ndarray
    by_streak: np.ndarray
    change: np.ndarray
    kept: np.ndarray  # proposes another segment, not followed (yet)

    @property
    def gap(self) -> np.ndarray:
        return self.p_new - self.p_cur


def _decide(
    m: pd.DataFrame,
    proposed_seg: pd.Series,
    current: pd.Series,
    params: HysteresisConfig,
    mode: str,
    as_of: pd.Timestamp,
) -> _Decision:
    """The hysteresis rules, vectorised: tenure lock, probability margin, k runs in a row."""
    p_new = m[C.PROBABILITY].astype(float).to_numpy()
    p_cur = (
        m[C.PROB_OF_PREVIOUS_SEGMENT].astype(float).fillna(0.0).to_numpy()
        if C.PROB_OF_PREVIOUS_SEGMENT in m
        else np.zeros(len(m))
    )
    is_new = current.isna().to_numpy()
    differs = ~is_new & (proposed_seg != current).to_numpy()
    tenure = m["_tenure"].fillna(0.0).to_numpy()
    prior_count = m["_streak_count"].fillna(0.0).to_numpy()
    continues = (m["_streak_segment"] == proposed_seg).fillna(False).to_numpy(dtype=bool)
    streak = np.where(differs, np.where(continues, prior_count + 1, 1), 0).astype(int)
    days_held = (as_of - m["_since"]).dt.days.to_numpy(dtype=float, na_value=np.nan)
    locked_runs = differs & (tenure < params.min_tenure_runs)
    locked_days = differs & ~locked_runs & (days_held < params.min_tenure_days)  # NaN -> False
    locked = locked_runs | locked_days
    none = np.zeros(len(m), dtype=bool)
    if mode == "static":
        by_margin, by_streak, change = none, none, differs
    else:
        by_margin = differs & ~locked & (p_new - p_cur >= params.margin - _EPS)
        by_streak = differs & ~locked & ~by_margin & (streak >= params.k_consecutive)
        change = by_margin | by_streak
    return _Decision(
        p_new,
        p_cur,
        tenure,
        streak,
        is_new,
        ~is_new & ~differs,
        locked_runs,
        locked_days,
        by_margin,
        by_streak,
        change,
        differs & ~change,
    )


def _reasons(d: _Decision, params: HysteresisConfig, mode: str) -> np.ndarray:
    """Why each product got its segment, in words (vectorised string building)."""
    add = np.strings.add
    reason = np.full(len(d.p_new), "", dtype=object)
    reason[d.is_new] = "first assignment"
    reason[d.same] = "unchanged: the model proposes the current segment"
    if mode == "static":
        reason[d.change] = add(
            "static mode: the model proposes a new segment at ", _fmt(d.p_new[d.change])
        )
    m = d.by_margin
    reason[m] = add(
        add(add("new segment ", _fmt(d.p_new[m])), add(" beats current ", _fmt(d.p_cur[m]))),
        f" by ≥ {params.margin:g}",
    )
    reason[d.by_streak] = add(
        add("predicted ", d.streak[d.by_streak].astype(str)), " runs in a row"
    )
    reason[d.locked_runs & ~d.change] = (
        f"kept: within minimum tenure of {_runs(params.min_tenure_runs)}"
    )
    reason[d.locked_days & ~d.change] = (
        f"kept: within minimum tenure of {params.min_tenure_days} days"
    )
    u = d.kept & ~(d.locked_runs | d.locked_days)
    reason[u] = add(
        add(add("kept: new segment ", _fmt(d.p_new[u])), add(" vs current ", _fmt(d.p_cur[u]))),
        add(
            add(" (gap ", _fmt(d.gap[u], "%+.2f")),
            add(
                add(f" < {params.margin:g}); predicted ", d.streak[u].astype(str)),
                f" of {params.k_consecutive} runs in a row",
            ),
        ),
    )
    return reason
