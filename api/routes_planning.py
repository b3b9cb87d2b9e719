"""JSON endpoints for planners and approvers: products, segments, overrides, the export feed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import require
from api.export import export_feed
from api.views import FLAGS, jsonable, product_view, records, search_products, segments_view
from store.users import User

__all__ = ["OverrideRequest", "RejectRequest", "overrides_for", "router"]

router = APIRouter(prefix="/api", tags=["planning"])
Reader = Annotated[User, Depends(require("read"))]


class OverrideRequest(BaseModel):
    """Pin a product to a segment until a date, for a reason (in force once approved)."""

    model_config = ConfigDict(extra="forbid")
    sku_id: str = Field(min_length=1, max_length=200)
    segment: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)
    until: date | None = Field(None, description="last day in force (default: in 90 days)")


class RejectRequest(BaseModel):
    """Why an override request is turned down."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


def _service(request: Request) -> Any:
    return request.app.state.service


@router.get("/products")
def products(
    request: Request,
    _user: Reader,
    q: Annotated[
        str | None, Query(max_length=200, description="text in the id or description")
    ] = None,
    segment: Annotated[str | None, Query(max_length=100)] = None,
    flag: Annotated[Literal[FLAGS] | None, Query()] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Search products by id or description (plain text), segment and flag."""
    return search_products(_service(request), q, segment, flag, limit, offset)


@router.get("/products/{sku_id}", response_class=JSONResponse)
async def product(request: Request, sku_id: str, _user: Reader) -> JSONResponse:
    """One product: segment, probability, reasons, SHAP, attributes, policy, overrides, audit."""
    # a few dictionary hits and no I/O once the outputs are in memory: on the event loop, no
    # thread hop; the first call (or one after a new run) reads them in a worker thread
    service = _service(request)
    if not service.fresh():
        await run_in_threadpool(service.outputs)
        await run_in_threadpool(service.records)
    return JSONResponse(product_view(service, sku_id))  # already JSON-ready


@router.get("/segments")
def segments(request: Request, _user: Reader) -> dict[str, Any]:
    """The catalogue, the newest mix, KPI alerts per segment."""
    return segments_view(_service(request))


@router.get("/segments/{name}/products")
def segment_products(
    request: Request,
    name: str,
    _user: Reader,
    flag: Annotated[Literal[FLAGS] | None, Query()] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Drill down: the products of one segment (behind its KPIs and alerts)."""
    service = _service(request)
    known = [s.name for s in service.catalogue.segments]
    if name not in known:
        raise HTTPException(
            404, f"segment {name!r} is not in the catalogue; segments: {', '.join(known)}"
        )
    return search_products(service, None, name, flag, limit, offset)


def overrides_for(service: Any, status: str | None) -> list[dict[str, Any]]:
    """Overrides (of a status) as JSON rows."""
    from serving.overrides import list_overrides

    return records(list_overrides(service.ws, status))


@router.get("/overrides")
def overrides(
    request: Request,
    _user: Reader,
    status: Annotated[
        Literal["requested", "approved", "rejected", "expired", "superseded"] | None, Query()
    ] = None,
) -> dict[str, Any]:
    """Overrides; `status=requested` is the approver's queue."""
    return {"overrides": overrides_for(_service(request), status)}


def request_for(service: Any, body: OverrideRequest, user: User) -> dict[str, Any]:
    """Validate and record an override request by `user` (the CLI's two functions)."""
    from serving.overrides import request_override, validate_override_target

    outputs = service.outputs()
    known = outputs.ids("features") or outputs.ids("assignments")
    # a known id needs no list of all ids; an unknown one gets close matches from them all
    known = [body.sku_id] if body.sku_id in known else list(known)
    segments = [s.name for s in service.catalogue.segments]
    validate_override_target(body.sku_id, body.segment, known, segments)
    until = body.until or (datetime.now(UTC).date() + timedelta(days=90))
    oid = request_override(service.ws, body.sku_id, body.segment, body.reason, until, user.name)
    return {"override_id": oid, "status": "requested", "requested_by": user.name}


@router.post("/overrides", status_code=201)
def create_override(
    request: Request,
    body: OverrideRequest,
    user: Annotated[User, Depends(require("override_request"))],
) -> dict[str, Any]:
    """Ask to pin a product to a segment; another person approves it."""
    return request_for(_service(request), body, user)


def _own_or_missing(service: Any, override_id: int, user: User, verb: str) -> None:
    """404 for an unknown override; 403 when `user` requested it (four eyes, even for admin)."""
    from serving.overrides import list_overrides

    found = list_overrides(service.ws)
    row = found[found["override_id"] == override_id] if len(found) else found
    if row.empty:
        raise HTTPException(
            404, f"there is no override {override_id}; GET /api/overrides lists them"
        )
    if str(row.iloc[0]["requested_by"]).casefold() == user.name.casefold():
        raise HTTPException(
            403,
            f"four-eyes rule: override {override_id} was requested by {user.name}, who cannot "
            f"{verb} it (whatever the role); ask another approver",
        )


def decide(service: Any, override_id: int, user: User, reject: str | None = None) -> dict[str, Any]:
    """Approve (or reject with a reason) an override as `user`, four eyes enforced."""
    from serving.overrides import approve_override, reject_override

    _own_or_missing(service, override_id, user, "reject" if reject is not None else "approve")
    if reject is not None:
        row = reject_override(service.ws, override_id, reject, user.name)
    else:
        row = approve_override(service.ws, override_id, user.name)
    return jsonable(row)


@router.post("/overrides/{override_id}/approve")
def approve(
    request: Request,
    override_id: int,
    user: Annotated[User, Depends(require("override_approve"))],
) -> dict[str, Any]:
    """Approve a requested override (not your own)."""
    return decide(_service(request), override_id, user)


@router.post("/overrides/{override_id}/reject")
def reject(
    request: Request,
    override_id: int,
    body: RejectRequest,
    user: Annotated[User, Depends(require("override_approve"))],
) -> dict[str, Any]:
    """Reject a requested override with a reason (not your own)."""
    return decide(_service(request), override_id, user, body.reason)


@router.get("/export", response_model=None)
def export(
    request: Request,
    _user: Annotated[User, Depends(require("export"))],
    table: Annotated[Literal["assignments", "policies"], Query()] = "assignments",
    since: Annotated[str | None, Query(max_length=200, description="a scoring run id")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """Assignments or policies changed since a scoring run, paged, as JSON or CSV."""
    return export_feed(_service(request), table, since, page, page_size, format)
