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
    tail = np.full(len(n), "", dtype=object)
    big = np.flatnonzero(head >= 1000)
    while big.size:
        tail[big] = sep[big] + _PADDED3[head[big] % 1000] + tail[big]
        head[big] //= 1000
        big = big[head[big] >= 1000]
    return _DIGITS[head] + tail


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
    q = np.rint(x[fast]).astype(np.int64)
    d = decimals[fast]
    whole, part = np.divmod(q, np.power(10, d).astype(np.int64))
    dec = np.full(len(q), "", dtype=object)
    one, two = d == 1, d == 2
    dec[one] = "." + _DIGITS[part[one]]
    dec[two] = "." + _PADDED2[part[two]]
    dec[one & (part == 0) & strip[fast]] = ""
    out[fast] = _where(np.signbit(v[fast]), "-", "") + _integer_text(whole, commas[fast]) + dec
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


def _shown(v: np.ndarray, unit: str) -> np.ndarray:
    """Known (non-NaN) numbers with their unit: shares as percentages, "1 week" singular."""
    u = unit.strip()
    if u.startswith("share"):
        zero = np.zeros(len(v), dtype=np.int64)
        no = np.zeros(len(v), dtype=bool)
        with np.errstate(over="ignore"):
            pct = _fixed(v * 100, zero, no, no) + "%"
        return pct + f" {u.removeprefix('share ')}" if u.startswith("share of ") else pct
    number = _numbers(v)
    if not u or u in ("ratio", "rank") or u.startswith("correlation"):
        return number
    first, _, rest = u.partition(" ")
    single = f"{first.removesuffix('s')} {rest}".strip()
    return number + _where(number == "1", f" {single}" if single else "", f" {u}")


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
        out[every] = f"Sells almost every {period}"
        out[~every] = "Sells in about 1 of every " + _rounded(v[~every]) + f" {period}s"
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


def _roles(shaps: np.ndarray, ranks: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """How each reason bears on its segment: "the strongest reason for X", "speaks against X"."""
    codes, names = pd.factorize(segments, use_na_sentinel=False)
    titles = np.array([segment_title(s) for s in names], dtype=object)[codes]
    role = np.full(len(shaps), _NEUTRAL, dtype=object)
    positive = shaps > 0
    role[positive] = _POINTS
    role[positive & (ranks == 1)] = _STRONGEST
    role[shaps < 0] = _AGAINST
    return role + titles


def _judged(v: np.ndarray, typical: float | None, unit: str, high: str) -> np.ndarray:
    """Whether each value is high or low against the typical (training median) value."""
    judged = np.full(len(v), f"high means {high}", dtype=object)
    if typical is None or math.isnan(typical):
        return judged
    judged[v > typical] = f"high: {high}"
    judged[v < typical] = f"low, typical {format_value(typical, unit)}; high would mean {high}"
    return judged


def _attribute_texts(
    name: str, v: np.ndarray, roles: np.ndarray, wording: Mapping[str, str], typical: float | None
) -> np.ndarray:
    """Reasons of one registry attribute with known values `v`."""
    unit, meaning, high = wording["unit"], wording["meaning"], wording["high"]
    shown, judged = _shown(v, unit), _judged(v, typical, unit, high)
    if name in _LEAD_FEATURES:
        start = _leads(name, v, unit) + f" ({meaning[:1].lower() + meaning[1:]} "
        return start + shown + "; " + judged + ") — " + roles
    return f"{meaning}: " + shown + " (" + judged + ") — " + roles


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
    roles = _roles(shap, rank, segs)
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
            out[rows] = f"{label} is " + shown + " — " + roles[rows]
            continue
        known = ~is_text[rows] & ~np.isnan(number[rows])
        unknown, rows = rows[~known], rows[known]
        out[unknown] = f"{wording['meaning']} is unknown — " + roles[unknown]
        out[rows] = _attribute_texts(name, number[rows], roles[rows], wording, typical.get(name))
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
