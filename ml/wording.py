"""Plain-language reasons: a product's top SHAP contributions worded from the attribute registry.

A reason reads like "Sells in about 1 of every 4 weeks (average number of weeks between sales
4.2 weeks; high: sells rarely) — the strongest reason for Intermittent slow movers". The
attribute's meaning, unit and what a high value means come from `ml.attributes` (one
declaration); whether the product's value counts as high or low is judged against the typical
(median) value of the products the model was trained on. Pure functions, no I/O.

The rules live once, in `reason_texts`, which words whole arrays of reasons: rows are grouped by
feature (sorted once), each feature's fixed wording is built once, and the per-row parts (the
numbers, high or low, the role) are written with numpy over arrays. Numbers are written exactly as
Python's format specs would (`_fixed`), with a per-value fallback to `format` only near a rounding
tie. `reason_text` and `format_value` are the same rules on one value.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Wording",
    "format_value",
    "format_values",
    "reason_text",
    "reason_texts",
    "segment_title",
    "wording_table",
]

# descriptors are text columns, not registry attributes; they can still be a reason
_DESCRIPTOR_LABELS = {
    "family": "Product family",
    "category": "Category",
    "supplier_id": "Supplier",
    "region": "Region",
    "business_unit": "Business unit",
}

# a reason's role towards its segment: by the sign of its SHAP value, rank 1 the strongest
_STRONGEST = "the strongest reason for "
_POINTS = "points to "
_AGAINST = "speaks against "
_NEUTRAL = "neutral for "
# attributes with a more natural opening (see _leads)
_LEAD_FEATURES = ("adi", "staleness_periods", "age_periods")

_DIGITS = np.array([str(i) for i in range(1000)], dtype=object)
_PADDED3 = np.array([f"{i:03d}" for i in range(1000)], dtype=object)
_PADDED2 = np.array([f"{i:02d}" for i in range(100)], dtype=object)
# scaled values below this are written from their float64 integer part (exact, with margin)
_EXACT_BELOW = 1e13


@dataclass(frozen=True)
class Wording:
    """What a reason needs from one attribute's registry entry (plain data, travels in a model)."""

    name: str
    unit: str
    meaning: str
    high: str


def wording_table(attributes: Iterable[Any]) -> dict[str, dict[str, str]]:
    """name -> {name, unit, meaning, high} from registry entries (any object with those fields)."""
    return {
        a.name: asdict(Wording(a.name, str(a.unit), str(a.meaning), str(a.high)))
        for a in attributes
    }


def segment_title(name: str) -> str:
    """A segment name as planners read it: `intermittent_slow_movers` -> `Intermittent slow movers`."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _where(condition: np.ndarray, yes: str, no: str) -> np.ndarray:
    """`yes` where `condition`, else `no`, as an object array of text."""
    out = np.full(len(condition), no, dtype=object)
    out[condition] = yes
    return out


def _integer_text(n: np.ndarray, commas: np.ndarray) -> np.ndarray:
    """Non-negative int64 values as text; thousands separated by "," where `commas`."""
    sep = _where(commas, ",", "")
    head = n.copy()
    grouped = np.flatnonzero(head >= 1000)
    tail = np.full(len(grouped), "", dtype=object)
    big = np.arange(len(grouped))
    while big.size:
        rows = grouped[big]
        tail[big] = sep[rows] + _PADDED3[head[rows] % 1000] + tail[big]
        head[rows] //= 1000
        big = big[head[rows] >= 1000]
    out = _DIGITS[head]
    out[grouped] = out[grouped] + tail
    return out


@functools.cache
def _decimal_table(decimals: int, strip: bool) -> np.ndarray:
    """The text of q / 10**decimals for every q below 1000 * 10**decimals (built once)."""
    q = np.arange(1000 * 10**decimals)
    whole, part = np.divmod(q, 10**decimals)
    digits = _DIGITS[part] if decimals == 1 else _PADDED2[part]
    out = _DIGITS[whole] + "." + digits
    if strip and decimals == 1:
        out[part == 0] = _DIGITS[whole[part == 0]]
    return out


def _fixed(
    v: np.ndarray, decimals: np.ndarray, commas: np.ndarray, strip: np.ndarray
) -> np.ndarray:
    """`v` as f"{v:.{d}f}" writes it (d <= 2; ",.0f" where `commas`), ".0" dropped where `strip`.

    Rounding is on the exact binary value, ties to even, as Python's: rint of v * 10**d is that
    unless v * 10**d sits within float error of a half, and those few values (and non-finite or
    huge ones) are written by `format` itself.
    """
    a = np.abs(v)
    scale = np.power(10.0, decimals)
    with np.errstate(invalid="ignore", over="ignore"):
        x = a * scale
        fast = (x < _EXACT_BELOW) & (np.abs(x - np.floor(x) - 0.5) > x * 2.0**-50)
    out = np.empty(len(v), dtype=object)
    rows = np.flatnonzero(fast)
    q = np.rint(x[rows]).astype(np.int64)
    d = decimals[rows]
    # decimals below 1,000 from a table; whole numbers (and larger ones) built from digits
    for places in (1, 2):
        for stripped in (False, True):
            pick = (d == places) & (q < 1000 * 10**places) & (strip[rows] == stripped)
            out[rows[pick]] = _decimal_table(places, stripped)[q[pick]]
            d = np.where(pick, -1, d)
    rest = d >= 0
    r, qr, dr = rows[rest], q[rest], d[rest]
    whole, part = np.divmod(qr, np.power(10, dr).astype(np.int64))
    text = _integer_text(whole, commas[r])
    for places, digits in ((1, _DIGITS), (2, _PADDED2)):
        pick = dr == places
        keep = pick & ~((places == 1) & (part == 0) & strip[r])
        text[keep] = text[keep] + "." + digits[part[keep]]
    out[r] = text
    negative = rows[np.signbit(v[rows])]
    out[negative] = "-" + out[negative]
    for i in np.flatnonzero(~fast):
        text = format(float(v[i]), ",.0f" if commas[i] else f".{decimals[i]}f")
        out[i] = text.removesuffix(".0") if strip[i] else text
    return out


def _numbers(v: np.ndarray) -> np.ndarray:
    """Numbers for a sentence: whole from 100 (separated from 1,000), else 1 or 2 decimals."""
    a = np.abs(v)
    with np.errstate(invalid="ignore"):
        hundreds = a >= 100
        whole = np.isfinite(a) & (a == np.floor(a))
        # from 10, zero and whole numbers: one decimal, and none when it is 0
        tens = ~hundreds & ((a >= 10) | (a == 0) | whole)
        small = ~hundreds & ~tens & (a < 1)
    decimals = np.where(hundreds, 0, np.where(small, 2, 1))
    return _fixed(v, decimals, a >= 1000, tens)


def _shown_parts(v: np.ndarray, unit: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Known (non-NaN) numbers with their unit, as (numbers, suffixes, which suffix per row).

    Shares read as percentages, money with the currency, "1 week" in the singular.
    """
    u = unit.strip()
    first = np.zeros(len(v), dtype=np.int64)
    if u.startswith("share"):
        no = np.zeros(len(v), dtype=bool)
        with np.errstate(over="ignore"):
            pct = _fixed(v * 100, first, no, no)
        return pct, [f"% {u.removeprefix('share ')}" if u.startswith("share of ") else "%"], first
    number = _numbers(v)
    if not u or u in ("ratio", "rank") or u.startswith("correlation"):
        return number, [""], first
    head, _, rest = u.partition(" ")
    single = f"{head.removesuffix('s')} {rest}".strip()
    return number, [f" {u}", f" {single}" if single else ""], (number == "1").astype(np.int64)


def _shown(v: np.ndarray, unit: str) -> np.ndarray:
    """Known (non-NaN) numbers with their unit (see _shown_parts), as text."""
    number, suffixes, which = _shown_parts(v, unit)
    return number + np.array(suffixes, dtype=object)[which]


def _split(values: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(numbers with NaN for text and None, the values as objects, which values are text)."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.dtype.kind in "fiub":
        number = arr.astype(np.float64)
        return number, number.astype(object), np.zeros(len(number), dtype=bool)
    obj = arr.astype(object)
    is_text = np.frompyfunc(isinstance, 2, 1)(obj, str).astype(bool)
    number = np.where(is_text, np.nan, obj).astype(np.float64)
    return number, obj, is_text


def _formatted(number: np.ndarray, obj: np.ndarray, is_text: np.ndarray, unit: str) -> np.ndarray:
    """Values for a sentence: 'text' quoted, None and NaN "unknown", numbers with their unit."""
    out = np.full(len(number), "unknown", dtype=object)
    out[is_text] = "'" + obj[is_text] + "'"
    known = ~is_text & ~np.isnan(number)
    out[known] = _shown(number[known], unit)
    return out


def format_values(values: Sequence[Any], unit: str = "") -> np.ndarray:
    """format_value for many values with one unit, as an object array of text."""
    return _formatted(*_split(values), unit)


def format_value(value: Any, unit: str = "") -> str:
    """A value with its unit for a sentence: shares as percentages, money with the currency."""
    return str(format_values([value], unit)[0])


def _period(unit: str) -> str:
    """The calendar bucket a unit counts in, singular: "weeks" -> "week"."""
    return unit.split()[0].removesuffix("s") if unit else "period"


def _leads(name: str, v: np.ndarray, unit: str) -> np.ndarray:
    """The natural opening for the attributes planners ask about most (_LEAD_FEATURES)."""
    period = _period(unit)
    out = np.empty(len(v), dtype=object)
    if name == "adi":
        every = v <= 1.05
        # "1 of every 1 weeks" (ADI 1.05-1.5) would read as every week: say how many in ten
        most = ~every & (v < 1.5)
        rest = ~every & ~most
        out[every] = f"Sells almost every {period}"
        tenths = np.minimum(np.rint(10.0 / v[most]), 9.0)
        out[most] = "Sells in about " + _rounded(tenths) + f" of every 10 {period}s"
        out[rest] = "Sells in about 1 of every " + _rounded(v[rest]) + f" {period}s"
    elif name == "staleness_periods":
        latest = v < 1
        out[latest] = f"Sold in the latest {period}"
        out[~latest] = "Last sold " + _numbers(v[~latest]) + f" {period}s ago"
    else:
        out[:] = "First sold " + _numbers(v) + f" {period}s ago"
    return out


def _rounded(v: np.ndarray) -> np.ndarray:
    """str(round(v)) for each value: the nearest whole number, ties to even."""
    r = np.rint(v)
    out = np.empty(len(v), dtype=object)
    fast = np.abs(r) < _EXACT_BELOW
    q = r[fast].astype(np.int64)
    out[fast] = _where(q < 0, "-", "") + _integer_text(np.abs(q), np.zeros(len(q), dtype=bool))
    for i in np.flatnonzero(~fast):
        out[i] = str(round(float(v[i])))
    return out


def _roles(
    shaps: np.ndarray, ranks: np.ndarray, segments: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """How each reason bears on its segment ("the strongest reason for X", "speaks against X"),
    as (the distinct roles, which role per row)."""
    codes, names = pd.factorize(segments, use_na_sentinel=False)
    titles = [segment_title(s) for s in names]
    kind = np.full(len(shaps), 3, dtype=np.int64)
    positive = shaps > 0
    kind[positive] = 1
    kind[positive & (ranks == 1)] = 0
    kind[shaps < 0] = 2
    roles = [f"{p}{t}" for p in (_STRONGEST, _POINTS, _AGAINST, _NEUTRAL) for t in titles]
    return roles, kind * len(titles) + codes


def _judged(
    v: np.ndarray, typical: float | None, unit: str, high: str
) -> tuple[list[str], np.ndarray]:
    """Whether each value is high or low against the typical (training median) value, as
    (the three judgements, which one per row)."""
    level = np.zeros(len(v), dtype=np.int64)
    said = [f"high means {high}"]
    if typical is None or math.isnan(typical):
        return said, level
    level[v > typical] = 1
    level[v < typical] = 2
    low = f"low, typical {format_value(typical, unit)}; high would mean {high}"
    return [*said, f"high: {high}", low], level


def _attribute_texts(
    name: str,
    v: np.ndarray,
    roles: tuple[list[str], np.ndarray],
    wording: Mapping[str, str],
    typical: float | None,
) -> np.ndarray:
    """Reasons of one registry attribute with known values `v`."""
    unit, meaning, high = wording["unit"], wording["meaning"], wording["high"]
    number, suffixes, which = _shown_parts(v, unit)
    judged, level = _judged(v, typical, unit, high)
    texts, role = roles
    lead = name in _LEAD_FEATURES
    # everything after the number is one of a few texts: pick it rather than join it per row
    ends = np.array(
        [
            f"{s}; {j}) — {r}" if lead else f"{s} ({j}) — {r}"
            for s in suffixes
            for j in judged
            for r in texts
        ],
        dtype=object,
    )
    end = ends[(which * len(judged) + level) * len(texts) + role]
    if lead:
        return _leads(name, v, unit) + f" ({meaning[:1].lower() + meaning[1:]} " + number + end
    return f"{meaning}: " + number + end


def reason_texts(
    features: Sequence[str],
    values: Sequence[Any],
    shaps: Sequence[float],
    segments: Sequence[str],
    ranks: Sequence[int],
    wordings: Mapping[str, Mapping[str, str]],
    typical: Mapping[str, float],
) -> np.ndarray:
    """Many reasons at once, in order: reason_text of each (feature, value, shap, segment, rank).

    `wordings` holds the registry entry of each attribute (a feature without one is a descriptor
    such as family) and `typical` its training median. Returns an object array of text.
    """
    feats = np.asarray(features, dtype=object)
    number, obj, is_text = _split(values)
    shap = np.asarray(shaps, dtype=np.float64)
    rank = np.asarray(ranks)
    segs = np.asarray(segments, dtype=object)
    lengths = {len(feats), len(number), len(shap), len(rank), len(segs)}
    if len(lengths) > 1:
        raise ValueError(
            f"features, values, shaps, segments and ranks have lengths {len(feats)}, "
            f"{len(number)}, {len(shap)}, {len(segs)}, {len(rank)}; give one entry per reason"
        )
    role_texts, role = _roles(shap, rank, segs)
    out = np.empty(len(feats), dtype=object)
    codes, names = pd.factorize(feats, use_na_sentinel=False)
    order = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=len(names)))
    for c, name in enumerate(names):
        rows = order[ends[c - 1] if c else 0 : ends[c]]
        wording = wordings.get(name)
        if wording is None:
            label = _DESCRIPTOR_LABELS.get(name, segment_title(name))
            shown = _formatted(number[rows], obj[rows], is_text[rows], "")
            tails = np.array([f" — {r}" for r in role_texts], dtype=object)
            out[rows] = f"{label} is " + shown + tails[role[rows]]
            continue
        known = ~is_text[rows] & ~np.isnan(number[rows])
        unknown, rows = rows[~known], rows[known]
        unknowns = np.array([f"{wording['meaning']} is unknown — {r}" for r in role_texts])
        out[unknown] = unknowns.astype(object)[role[unknown]]
        out[rows] = _attribute_texts(
            name, number[rows], (role_texts, role[rows]), wording, typical.get(name)
        )
    return out


def reason_text(
    feature: str,
    value: Any,
    shap: float,
    segment: str,
    *,
    rank: int = 1,
    wording: Mapping[str, str] | None = None,
    typical: float | None = None,
) -> str:
    """One reason: what the attribute says about the product and how it bears on `segment`.

    `wording` is the registry entry (name, unit, meaning, high); None for a descriptor such as
    family. `typical` is the training median, to say whether the value is high or low. `rank`
    1 with a positive `shap` is "the strongest reason for"; a negative `shap` "speaks against".
    """
    wordings = {} if wording is None else {feature: wording}
    typicals = {} if typical is None else {feature: typical}
    return str(reason_texts([feature], [value], [shap], [segment], [rank], wordings, typicals)[0])
