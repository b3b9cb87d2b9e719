"""A product's top reasons as a waterfall in planner terms: the chance of the segment, not log-odds.

The model's stored SHAP values are contributions to the segment's raw score (log-odds). Read
one segment against the rest, the raw score L maps to a probability sigmoid(L); the end bar is
the model's probability of the explained segment, and walking back through the top reasons
shows how each moved the chance (the rest of the attributes and the base rate form the start).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

__all__ = ["waterfall_steps", "waterfall_svg"]

_ROW, _LABEL, _BAR, _PAD = 30, 330, 300, 10


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


def waterfall_steps(probability: float | None, shaps: list[float]) -> list[tuple[float, float]]:
    """(chance before, chance after) per reason, strongest first, ending at `probability`."""
    p = 0.5 if probability is None or math.isnan(probability) else probability
    p = min(max(p, 1e-6), 1 - 1e-6)
    level = math.log(p / (1 - p)) - sum(shaps)
    steps = []
    for s in shaps:
        steps.append((_sigmoid(level), _sigmoid(level + s)))
        level += s
    return steps


def _short(text: str, n: int = 48) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def waterfall_svg(product: dict[str, Any]) -> str:
    """An accessible inline SVG of the product's top reasons (empty when it has none)."""
    reasons = product.get("reasons") or []
    if not reasons:
        return ""
    a = product.get("assignment") or {}
    explained = product.get("explained_segment") or product.get("segment")
    prob = a.get("proposed_probability") if explained == a.get("proposed_segment") else None
    prob = prob if prob is not None else product.get("probability")
    steps = waterfall_steps(prob, [float(r["shap"] or 0.0) for r in reasons])
    title = f"How the top reasons move the chance that {product['sku_id']} is {explained}"
    rows = len(steps) + 2
    height = rows * _ROW + 50
    width = _LABEL + _BAR + 90
    x = lambda v: _LABEL + v * _BAR  # noqa: E731
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="wf-t wf-d" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" class="waterfall">',
        f'<title id="wf-t">{escape(title)}</title>',
        f'<desc id="wf-d">Starting chance {steps[0][0]:.0%}; '
        + "; ".join(
            f"{escape(r['meaning'])}: {b:.0%} to {e:.0%}"
            for r, (b, e) in zip(reasons, steps, strict=True)
        )
        + "</desc>",
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{x(tick)}" y1="10" x2="{x(tick)}" y2="{height - 30}" stroke="#ddd"/>'
            f'<text x="{x(tick)}" y="{height - 12}" font-size="11" text-anchor="middle">'
            f"{tick:.0%}</text>"
        )

    def bar(i: int, label: str, lo: float, hi: float, colour: str, text: str) -> None:
        y = 14 + i * _ROW
        left, right = sorted((lo, hi))
        parts.append(
            f'<text x="{_LABEL - 8}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(_short(label))}</text>"
            f'<rect x="{x(left):.1f}" y="{y}" width="{max((right - left) * _BAR, 1.5):.1f}" '
            f'height="{_ROW - 10}" fill="{colour}"/>'
            f'<text x="{x(right) + 4:.1f}" y="{y + 15}" font-size="11">{escape(text)}</text>'
        )

    bar(
        0, "the other attributes and the base rate", 0, steps[0][0], "#9e9e9e", f"{steps[0][0]:.0%}"
    )
    for i, (r, (b, e)) in enumerate(zip(reasons, steps, strict=True), start=1):
        colour = "#1b7837" if e >= b else "#b2182b"
        bar(i, str(r["meaning"]), b, e, colour, f"{(e - b) * 100:+.1f} points")
    bar(rows - 1, f"chance of {explained}", 0, steps[-1][1], "#2166ac", f"{steps[-1][1]:.1%}")
    parts.append("</svg>")
    return "".join(parts)
