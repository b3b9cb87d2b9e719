"""What the API and the pages show, as plain dicts, built from the stages' own public functions."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from ml import columns as C
from ml.columns import SKU_ID
from ml.errors import StrataError

__all__ = [
    "FLAGS",
    "NotFoundError",
    "jsonable",
    "product_view",
    "records",
    "search_products",
    "segments_view",
]

FLAGS = ("provisional", "review", "changed", "override")
_SEARCH_COLUMNS = [SKU_ID, "description", C.SEGMENT, C.PROBABILITY, "provisional", "review"]
_SEARCH_COLUMNS += [C.CHANGED, C.METHOD]


class NotFoundError(StrataError):
    """The product (or another thing asked for) does not exist: HTTP 404."""


def jsonable(value: Any) -> Any:
    """A value JSON can carry: NaN/NaT -> None, dates -> ISO text, numpy -> Python."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as JSON-ready dicts."""
    if frame is None or frame.empty:
        return []
    return json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))


def _attributes(row: dict[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(descriptors, attributes with value, unit, meaning, high, imputed) of one product row."""
    from ml.attributes import ATTRIBUTES

    if row is None:
        return {}, []
    descriptors = {
        k: jsonable(row.get(k))
        for k in ("description", "family", "category", "region", "business_unit", "supplier_id")
        if k in row
    }
    shown = [
        {
            "name": a.name,
            "value": jsonable(row[a.name]),
            "unit": a.unit,
            "meaning": a.meaning,
            "high_means": a.high,
            "imputed": bool(row.get(f"{a.name}_imputed", False) is True),
        }
        for a in ATTRIBUTES
        if a.name in row
    ]
    return descriptors, shown


def _reasons(reasons: pd.DataFrame) -> list[dict[str, Any]]:
    from ml.attributes import ATTRIBUTES

    meaning = {a.name: a.meaning for a in ATTRIBUTES}
    columns = [reasons[c].tolist() for c in ("rank", C.FEATURE, "value", C.SHAP, "reason")]
    return [
        {
            "rank": int(rank),
            "feature": str(feature),
            "meaning": meaning.get(str(feature), str(feature).replace("_", " ")),
            "value": jsonable(value),
            "shap": jsonable(shap),
            "reason": str(reason),
        }
        for rank, feature, value, shap, reason in zip(*columns, strict=True)
    ]


def _policy(outputs: Any, sku: str) -> dict[str, Any] | None:
    """The newest policy row of `sku` (or its flag saying why it has none), as policy_of gives."""
    from planning.policy_job import SEGMENT_REASONS

    row, status = outputs.row("policies", sku), "ok"
    if row is None:
        row, status = outputs.row("policy_flags", sku), "flagged"
    if row is None:
        return None
    row = jsonable(row)
    return {"status": status, "row": row, "reasons": str(row.get(SEGMENT_REASONS) or "")}


def product_view(service: Any, sku: str) -> dict[str, Any]:
    """Everything about one product: assignment, reasons, attributes, policy, overrides, audit."""
    from serving.explain import ProductExplanation

    out = service.outputs()
    found = out.row("assignments", sku)
    if found is None:
        raise NotFoundError(
            f"product {sku!r} is not in the newest scored assignments ({len(out.assignments):,} "
            f"products); check the id with GET /api/products?q=..."
        )
    # the explanation `strata explain` prints, from this product's rows of the same tables
    reasons = out.rows("explanations", sku)
    explanation = ProductExplanation(sku, pd.Timestamp(found[C.AS_OF]).date(), found, reasons)
    descriptors, attributes = _attributes(out.row("features", sku))
    a = jsonable(found)
    db = service.records()
    return {
        "sku_id": sku,
        **descriptors,
        "segment": a[C.SEGMENT],
        "segment_title": _title(a[C.SEGMENT]),
        "probability": a.get(C.PROBABILITY),
        "provisional": bool(a.get("provisional")),
        "review": bool(a.get("review")),
        "method": a.get(C.METHOD),
        "as_of": a.get(C.AS_OF),
        "model_version": a.get(C.MODEL_VERSION),
        "run_id": a.get(C.RUN_ID),
        "assignment": a,
        "explained_segment": explanation.explained_segment,
        "explanation": explanation.to_text(),
        "reasons": _reasons(reasons),
        "attributes": attributes,
        "policy": _policy(out, sku),
        "segment_alerts": records(_alerts_of(db.alerts, str(a[C.SEGMENT]))),
        "overrides": records(db.overrides_of(sku)),
        "audit": records(db.audit_of(sku)),
    }


def _alerts_of(alerts: pd.DataFrame, segment: str) -> pd.DataFrame:
    if alerts.empty:
        return alerts
    return alerts[alerts[C.SEGMENT].astype("str") == segment]


def _title(segment: str) -> str:
    from ml.wording import segment_title

    return segment_title(segment)


def search_products(
    service: Any,
    q: str | None = None,
    segment: str | None = None,
    flag: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Products whose id or description contains `q` (as plain text), in `segment`, with `flag`."""
    if flag is not None and flag not in FLAGS:
        raise StrataError(f"flag {flag!r} is not one of {', '.join(FLAGS)}")
    out = service.outputs()
    frame = out.assignments
    keep = pd.Series(True, index=frame.index)
    if segment:
        keep &= frame[C.SEGMENT].astype("str") == segment
    if flag == "override":
        keep &= frame[C.METHOD].astype("str") == "override"
    elif flag is not None:
        keep &= frame[flag].astype(bool)
    descriptions = out.descriptions
    if q:
        text = str(q).casefold()
        ids = frame[SKU_ID].astype("str").str.casefold().str.contains(text, regex=False)
        desc = descriptions.str.casefold().str.contains(text, regex=False).fillna(False)
        keep &= ids | desc.astype(bool)
    hits = frame[keep.to_numpy()]
    page = hits.iloc[offset : offset + limit].assign(description=descriptions[hits.index])
    cols = [c for c in _SEARCH_COLUMNS if c in page.columns]
    return {"total": len(hits), "offset": offset, "limit": limit, "products": records(page[cols])}


def segments_view(service: Any) -> dict[str, Any]:
    """The catalogue with each segment's policy, the mix of the newest run, KPIs and alerts."""
    out = service.outputs()
    mix = out.assignments[C.SEGMENT].astype("str").value_counts() if len(out.assignments) else {}
    total = int(sum(mix.values)) if len(mix) else 0
    alerts = service.records().alerts
    planned = {}
    if len(out.policy_segments):
        planned = {str(r[C.SEGMENT]): r for r in records(out.policy_segments)}
    segments = []
    for s in service.catalogue.segments:
        n = int(mix.get(s.name, 0)) if len(mix) else 0
        plan = planned.get(s.name, {})
        segments.append(
            {
                "name": s.name,
                "title": _title(s.name),
                "description": s.description,
                "policy": jsonable(s.policy.model_dump(mode="json")),
                "products": n,
                "share": (n / total) if total else None,
                "planned_fill_rate": plan.get("expected_fill_rate"),
                "target_service_level": plan.get("target_service_level"),
                "products_with_policy": plan.get("products"),
                "alerts": records(_alerts_of(alerts, s.name)),
            }
        )
    return {"products": total, "segments": segments, "alerts": records(alerts)}
