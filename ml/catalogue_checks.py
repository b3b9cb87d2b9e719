"""Exact validation of the segment catalogue: unknown keys, overlaps, gaps, dead segments.

An archetype is a conjunction of conditions, one per key: a rule-class key (abc, xyz, pattern,
risk) takes a class or a list of classes; an attribute key takes an interval
{gt|ge: lower, lt|le: upper}. An empty archetype matches every product (a catch-all). Each
segment has a priority: the matching segment with the lowest priority number wins.

Overlap and coverage are checked exactly by interval reasoning, not by sampling. Each key splits
its domain into finitely many pieces: a rule-class key into its labels; an attribute into the
open intervals between, and the points at, every bound any archetype puts on it, plus "missing"
(a missing value fails every interval). Every archetype is then a box of pieces. A recursive
split of the whole space finds, exactly, each region no segment matches (uncovered), each region
two segments of the same, winning priority both match (overlap), and each segment that never
wins. Label combinations rule_classes never produces are left out (RULE_IMPLICATIONS: abc `new`
implies xyz `new` and pattern `insufficient_history`). Otherwise the keys are treated as
independent, so the check can report an overlap that real data could not produce (say `abc: A`
with `revenue_cum_share: {gt: 0.95}`); make such archetypes exclusive on one key or give them
different priorities.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.config.catalogue import ArchetypeCondition, Catalogue, Segment
from ml.config.drivers import SegmentationConfig
from ml.segment_rules import RULE_CLASSES, RULE_IMPLICATIONS

__all__ = ["validate_catalogue"]


def _key_problems(segment: Segment, attribute_names: set[str]) -> list[str]:
    out = []
    for key, cond in segment.archetype.items():
        where = f"segment '{segment.name}': archetype key '{key}'"
        if key in RULE_CLASSES:
            allowed = RULE_CLASSES[key]
            if cond.is_range:
                out.append(
                    f"{where} is a rule class; give class name(s), e.g. {key}: {allowed[0]}, "
                    f"not an interval (allowed: {', '.join(allowed)})"
                )
                continue
            for c in cond.classes or ():
                if c not in allowed:
                    hint = difflib.get_close_matches(c, allowed, n=1)
                    out.append(
                        f"{where} has unknown class '{c}'"
                        + (f" (did you mean '{hint[0]}'?)" if hint else "")
                        + f"; allowed: {', '.join(allowed)}"
                    )
        elif key in attribute_names:
            if not cond.is_range:
                out.append(
                    f"{where} is a numeric attribute; give an interval such as {{ge: 0.5}} or "
                    f"{{gt: 1, le: 4}}, not class names"
                )
        else:
            hint = difflib.get_close_matches(key, [*RULE_CLASSES, *attribute_names], n=1)
            out.append(
                f"{where} is neither a rule class ({', '.join(RULE_CLASSES)}) nor a known "
                f"attribute (`strata features list` prints them)"
                + (f"; did you mean '{hint[0]}'?" if hint else "")
            )
    return out


def _driver_problems(drivers: SegmentationConfig, attribute_names: set[str]) -> list[str]:
    needed = {
        "drivers.xyz.attribute": drivers.xyz.attribute,
        "drivers.pattern.cv2_attribute": drivers.pattern.cv2_attribute,
    }
    return [
        f"{key} is '{name}', which is not a known attribute; choose one the feature snapshot has"
        for key, name in needed.items()
        if name not in attribute_names
    ]


@dataclass(frozen=True)
class _Dim:
    """One key of the attribute space, split into finitely many pieces."""

    key: str
    # rule-class key: one piece per label
    labels: tuple[str, ...] = ()
    # attribute key: pieces (-inf,c1) [c1] (c1,c2) ... [ck] (ck,inf) missing, numbered from 0
    cuts: tuple[float, ...] = ()

    @property
    def n(self) -> int:
        return len(self.labels) if self.labels else 2 * len(self.cuts) + 2

    def pieces(self, cond: ArchetypeCondition) -> frozenset[int]:
        """The pieces inside `cond`; a condition of the wrong form holds nowhere."""
        if self.labels:
            if cond.is_range:
                return frozenset()
            return frozenset(i for i, lab in enumerate(self.labels) if lab in (cond.classes or ()))
        if not cond.is_range:
            return frozenset()
        inside = set()
        c = self.cuts
        for i in range(self.n - 1):
            if i % 2:  # the point c[(i - 1) // 2]
                x = c[(i - 1) // 2]
                ok = cond.mask(pd.Series([x]))[0]
            else:  # the open interval between neighbouring cuts
                lo = c[i // 2 - 1] if i else -np.inf
                hi = c[i // 2] if i // 2 < len(c) else np.inf
                ok = _open_inside(lo, hi, cond)
            if ok:
                inside.add(i)
        return frozenset(inside)

    def text(self, pieces: frozenset[int]) -> str:
        """The pieces in words, e.g. `abc in {A, B}` or `x < 13 or x missing`."""
        if self.labels:
            names = [self.labels[i] for i in sorted(pieces)]
            return (
                f"{self.key} = {names[0]}"
                if len(names) == 1
                else f"{self.key} in {{{', '.join(names)}}}"
            )
        parts, run = [], []
        for i in [*sorted(pieces - {self.n - 1}), None]:
            if run and (i is None or i != run[-1] + 1):
                parts.append(self._interval_text(run[0], run[-1]))
                run = []
            if i is not None:
                run.append(i)
        if self.n - 1 in pieces:
            parts.append(f"{self.key} missing")
        return " or ".join(parts)

    def _interval_text(self, first: int, last: int) -> str:
        """Pieces first..last (contiguous, not "missing") as one interval in words."""
        c, key = self.cuts, self.key
        if first == last and first % 2:
            return f"{key} = {c[(first - 1) // 2]:g}"
        lower = (
            None
            if first == 0
            else (c[(first - 1) // 2], "<=")
            if first % 2
            else (c[first // 2 - 1], "<")
        )
        upper = (
            None
            if last == 2 * len(c)
            else (c[(last - 1) // 2], "<=")
            if last % 2
            else (c[last // 2], "<")
        )
        if lower and upper:
            return f"{lower[0]:g} {lower[1]} {key} {upper[1]} {upper[0]:g}"
        if lower:
            return f"{key} {'>=' if lower[1] == '<=' else '>'} {lower[0]:g}"
        if upper:
            return f"{key} {upper[1]} {upper[0]:g}"
        return f"{key} present"


def _open_inside(lo: float, hi: float, cond: ArchetypeCondition) -> bool:
    """Whether the open interval (lo, hi) lies inside the condition's interval."""
    lower = cond.gt if cond.gt is not None else cond.ge
    upper = cond.lt if cond.lt is not None else cond.le
    return (lower is None or lo >= lower) and (upper is None or hi <= upper)


def _dims(segments: Sequence[Segment]) -> list[_Dim]:
    keys = list(dict.fromkeys(k for s in segments for k in s.archetype))
    dims = []
    for key in keys:
        if key in RULE_CLASSES:
            dims.append(_Dim(key, labels=RULE_CLASSES[key]))
            continue
        bounds = {
            b
            for s in segments
            for k, c in s.archetype.items()
            if k == key
            for b in (c.gt, c.ge, c.lt, c.le)
            if b is not None
        }
        dims.append(_Dim(key, cuts=tuple(sorted(bounds))))
    return dims


Box = tuple[frozenset[int], ...]


@dataclass
class _Analysis:
    uncovered: list[Box]
    overlaps: dict[tuple[int, int], Box]
    winners: set[int]
    empty: list[list[str]]  # per segment, the keys whose condition holds for no value


_Implication = tuple[int, int, list[tuple[int, int]]]  # (dim, label piece, [(dim, piece)])


def _implications(dims: list[_Dim]) -> list[_Implication]:
    """RULE_IMPLICATIONS as (dim, piece) pairs over the keys the catalogue uses."""
    position = {dim.key: d for d, dim in enumerate(dims)}
    return [
        (
            position[key],
            dims[position[key]].labels.index(label),
            [
                (position[k2], dims[position[k2]].labels.index(l2))
                for k2, l2 in implied.items()
                if k2 in position
            ],
        )
        for (key, label), implied in RULE_IMPLICATIONS.items()
        if key in position
    ]


def _feasible(box: Box, implications: list[_Implication]) -> Box | None:
    """The box without label combinations rule_classes never produces; None when empty."""
    cells = list(box)
    for d, piece, implied in implications:
        if cells[d] == {piece}:
            for d2, p2 in implied:
                cells[d2] = cells[d2] & {p2}
        if any(p2 not in cells[d2] for d2, p2 in implied):
            cells[d] = cells[d] - {piece}
    return tuple(cells) if all(cells) else None


def _analyse(segments: Sequence[Segment], dims: list[_Dim]) -> _Analysis:
    regions = [
        {
            d: dim.pieces(s.archetype[dim.key])
            for d, dim in enumerate(dims)
            if dim.key in s.archetype
        }
        for s in segments
    ]
    empty = [[dims[d].key for d, p in r.items() if not p] for r in regions]
    result = _Analysis([], {}, set(), empty)
    implications = _implications(dims)

    def feasible(box: Box) -> Box | None:
        return _feasible(box, implications)

    def meet(i: int, box: Box) -> Box | None:
        return feasible(tuple(p & regions[i].get(d, p) for d, p in enumerate(box)))

    def holds(i: int, box: Box) -> bool:
        return all(box[d] <= p for d, p in regions[i].items())

    def split(whole_box: Box, candidates: list[int]) -> None:
        box = feasible(whole_box)
        if box is None:
            return
        live = [i for i in candidates if meet(i, box) is not None]
        if not live:
            result.uncovered.append(box)
            return
        best = min(segments[i].priority for i in live)
        top = [i for i in live if segments[i].priority == best]
        whole = [i for i in top if holds(i, box)]
        if whole:
            winner = whole[0]
            result.winners.add(winner)
            for other in top:
                if other != winner:
                    pair = (min(winner, other), max(winner, other))
                    result.overlaps.setdefault(pair, meet(other, box))
            return
        first = top[0]
        d = next(d for d, p in regions[first].items() if not box[d] <= p)
        inside, outside = box[d] & regions[first][d], box[d] - regions[first][d]
        split((*box[:d], inside, *box[d + 1 :]), live)
        split((*box[:d], outside, *box[d + 1 :]), live)

    split(tuple(frozenset(range(dim.n)) for dim in dims), list(range(len(segments))))
    return result


def _box_text(box: Box, dims: list[_Dim]) -> str:
    parts = [dim.text(p) for dim, p in zip(dims, box, strict=True) if len(p) < dim.n]
    joined = " and ".join(f"({t})" if " or " in t else t for t in parts)
    return f"products with {joined}" if joined else "every product"


def validate_catalogue(catalogue: Catalogue, attribute_names: Iterable[str]) -> list[str]:
    """Every problem of the catalogue, one sentence each naming the segment(s) and key(s).

    Unknown keys (neither a rule class nor an attribute in `attribute_names`), unknown class
    names, conditions of the wrong form, driver attributes that do not exist, overlaps (two
    segments of the same priority both match some product that no lower-numbered segment takes),
    uncovered products, and segments that can never win. Empty list = the catalogue is sound.
    """
    names = set(attribute_names)
    segments = catalogue.segments
    problems = [p for s in segments for p in _key_problems(s, names)]
    problems += _driver_problems(catalogue.drivers, names)
    dims = _dims(segments)
    found = _analyse(segments, dims)
    for (i, j), box in sorted(found.overlaps.items()):
        a, b = segments[i], segments[j]
        shared = [k for k in a.archetype if k in b.archetype]
        problems.append(
            f"segments '{a.name}' and '{b.name}' (both priority {a.priority}) overlap: both match "
            f"{_box_text(box, dims)}"
            + (f" (keys they share: {', '.join(shared)})" if shared else "")
            + "; make the archetypes exclusive on one key or give them different priorities "
            "(the lower number wins)"
        )
    shown = found.uncovered[:5]
    for box in shown:
        problems.append(
            f"no segment matches {_box_text(box, dims)}; add a catch-all segment "
            f"(archetype: {{}}) with the largest priority number, or widen an archetype"
        )
    if len(found.uncovered) > len(shown):
        problems.append(f"... and {len(found.uncovered) - len(shown)} more uncovered region(s)")
    for i, s in enumerate(segments):
        if i in found.winners:
            continue
        if found.empty[i]:
            problems.append(
                f"segment '{s.name}' can match no product: its condition on "
                f"{', '.join(found.empty[i])} holds for no value; fix the key(s) named above"
            )
            continue
        problems.append(
            f"segment '{s.name}' (priority {s.priority}) never applies: every product it "
            f"matches is taken by a segment with a lower priority number or tied with one; "
            f"give it a lower number or narrow the segments above it"
        )
    return problems
