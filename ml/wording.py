"""Plain-language reasons: a product's top SHAP contributions worded from the attribute registry.

A reason reads like "Sells in about 1 of every 4 weeks (average number of weeks between sales
4.2 weeks; high: sells rarely) — the strongest reason for Intermittent slow movers". The
attribute's meaning, unit and what a high value means come from `ml.attributes` (one
declaration); whether the product's value counts as high or low is judged against the typical
(median) value of the products the model was trained on. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "Wording",
    "format_value",
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


def _number(v: float) -> str:
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10 or a == 0 or float(v).is_integer():
        return f"{v:.1f}".removesuffix(".0")
    return f"{v:.2f}" if a < 1 else f"{v:.1f}"


def format_value(value: Any, unit: str = "") -> str:
    """A value with its unit for a sentence: shares as percentages, money with the currency."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if isinstance(value, str):
        return f"'{value}'"
    v = float(value)
    u = unit.strip()
    if u.startswith("share of "):
        return f"{v * 100:.0f}% {u.removeprefix('share ')}"
    if u.startswith("share"):
        return f"{v * 100:.0f}%"
    if u in ("ratio", "rank") or u.startswith("correlation"):
        return _number(v)
    number = _number(v)
    if number == "1" and u:
        first, _, rest = u.partition(" ")
        u = f"{first.removesuffix('s')} {rest}".strip()
    return f"{number} {u}".strip()


def _lead(name: str, value: float, unit: str) -> str | None:
    """A more natural opening for the attributes planners ask about most; None = generic."""
    period = unit.split()[0].removesuffix("s") if unit else "period"
    if name == "adi":
        if value <= 1.05:
            return f"Sells almost every {period}"
        return f"Sells in about 1 of every {round(value)} {period}s"
    if name == "staleness_periods":
        if value < 1:
            return f"Sold in the latest {period}"
        return f"Last sold {_number(value)} {period}s ago"
    if name == "age_periods":
        return f"First sold {_number(value)} {period}s ago"
    return None


def _level(value: float, typical: float | None) -> str:
    if typical is None or math.isnan(typical) or value == typical:
        return ""
    return "high" if value > typical else "low"


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
    title = segment_title(segment)
    if shap > 0:
        role = f"the strongest reason for {title}" if rank == 1 else f"points to {title}"
    elif shap < 0:
        role = f"speaks against {title}"
    else:
        role = f"neutral for {title}"
    if wording is None:
        label = _DESCRIPTOR_LABELS.get(feature, segment_title(feature))
        return f"{label} is {format_value(value)} — {role}"
    unit, meaning, high = wording["unit"], wording["meaning"], wording["high"]
    shown = format_value(value, unit)
    if isinstance(value, str) or value is None or math.isnan(float(value)):
        return f"{meaning} is unknown — {role}"
    v = float(value)
    level = _level(v, typical)
    if level == "high":
        judged = f"high: {high}"
    elif level == "low":
        judged = f"low, typical {format_value(typical, unit)}; high would mean {high}"
    else:
        judged = f"high means {high}"
    lead = _lead(feature, v, unit)
    if lead is not None:
        return f"{lead} ({meaning[:1].lower() + meaning[1:]} {shown}; {judged}) — {role}"
    return f"{meaning}: {shown} ({judged}) — {role}"


def reason_texts(
    features: Sequence[str],
    values: Sequence[Any],
    shaps: Sequence[float],
    segments: Sequence[str],
    ranks: Sequence[int],
    wordings: Mapping[str, Mapping[str, str]],
    typical: Mapping[str, float],
) -> list[str]:
    """reason_text for many (feature, value, shap, segment, rank) at once, in order."""
    return [
        reason_text(
            f, v, float(s), seg, rank=int(r), wording=wordings.get(f), typical=typical.get(f)
        )
        for f, v, s, seg, r in zip(features, values, shaps, segments, ranks, strict=True)
    ]
