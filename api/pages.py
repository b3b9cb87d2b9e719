"""The planner pages: sign-in, search, product, override request, approvals, segments, models.

Server-rendered with Jinja2 from the same views the JSON API returns; forms carry the session's
CSRF token, and every action is checked against the role matrix like the API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.auth import check_csrf, csrf_token, sign_in
from api.routes_mlops import PromoteRequest, models_for, promote_as
from api.routes_planning import OverrideRequest, decide, overrides_for, request_for
from api.views import FLAGS, product_view, search_products, segments_view
from api.waterfall import waterfall_svg
from ml.errors import StrataError
from store.users import User

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
_POLICY_FIELDS = [
    ("service_level", "service level planned"),
    ("review_frequency", "review"),
    ("safety_stock", "safety stock (units)"),
    ("reorder_point", "reorder point (units)"),
    ("order_qty", "order quantity (units)"),
    ("expected_fill_rate", "expected fill rate"),
    ("calibrated_fill_rate", "fill rate calibrated on the last backtest"),
    ("demand_mean", "mean demand per period"),
    ("lead_time_days", "lead time (days)"),
]
Csrf = Annotated[str, Form(max_length=200)]


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.0%}"


def _num(v: Any) -> str:
    if v is None or isinstance(v, str):
        return "" if v is None else v
    if isinstance(v, bool):
        return "yes" if v else "no"
    v = float(v)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


templates.env.globals.update(pct=_pct, num=_num)


def _user(request: Request) -> User | None:
    session = request.scope.get("session") or {}
    found = session.get("user")
    return User(str(found[0]), str(found[1])) if found else None


def _may(request: Request, user: User, action: str) -> bool:
    return request.app.state.service.roles.allows(user.role, action)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", _user(request))
    context.setdefault("notice", request.query_params.get("notice"))
    return templates.TemplateResponse(
        request, name, {"csrf": csrf_token(request), **context}, status_code=status
    )


def _signed_in(request: Request, action: str = "read") -> User:
    user = _user(request)
    if user is None:
        target = quote(str(request.url.path))
        raise HTTPException(303, "sign in", headers={"Location": f"/login?next={target}"})
    if not _may(request, user, action):
        raise HTTPException(403, f"{user.name} has role {user.role}, which may not {action}")
    return user


def _back(path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?notice={quote(notice)}", status_code=303)


@router.get("/", response_model=None)
def home(request: Request) -> Response:
    return RedirectResponse("/search" if _user(request) else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/search") -> HTMLResponse:
    return _render(request, "login.html", title="Sign in", next=next, user=None)


@router.post("/login", response_model=None)
def login(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    token: Annotated[str, Form(max_length=200)],
    csrf: Csrf,
    next: Annotated[str, Form(max_length=500)] = "/search",
) -> Response:
    check_csrf(request, csrf)
    found = request.app.state.tokens.user(request.app.state.service.ws, token)
    if found is None or found.name != name:
        return _render(
            request, "login.html", 401, title="Sign in", next=next, user=None,
            error="That user name and token do not match; ask an admin for a token.",
        )  # fmt: skip
    sign_in(request, found)
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/search"
    return RedirectResponse(safe_next, status_code=303)


@router.post("/logout", response_model=None)
def logout(request: Request, csrf: Csrf) -> Response:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request, q: str | None = None, segment: str | None = None, flag: str | None = None
) -> HTMLResponse:
    _signed_in(request)
    service = request.app.state.service
    q, segment, flag = (q or "")[:200], segment or None, flag if flag in FLAGS else None
    result = search_products(service, q, segment, flag) if (q or segment or flag) else None
    names = [s.name for s in service.catalogue.segments]
    return _render(
        request, "search.html", title="Search", q=q, segment=segment, flag=flag,
        flags=FLAGS, segments=names, result=result,
    )  # fmt: skip


@router.get("/products/{sku_id}", response_class=HTMLResponse)
def product_page(request: Request, sku_id: str) -> HTMLResponse:
    user = _signed_in(request)
    service = request.app.state.service
    try:
        product = product_view(service, sku_id)
    except StrataError as exc:
        return _render(request, "search.html", 404, title="Not found", error=str(exc),
                       flags=FLAGS, segments=[s.name for s in service.catalogue.segments])  # fmt: skip
    return _render(
        request, "product.html", title=sku_id, p=product, svg=waterfall_svg(product),
        policy_fields=_POLICY_FIELDS, can_request=_may(request, user, "override_request"),
        segments=[s.name for s in service.catalogue.segments],
        default_until=(datetime.now(UTC).date() + timedelta(days=90)).isoformat(),
    )  # fmt: skip


@router.post("/products/{sku_id}/override", response_model=None)
def override_form(
    request: Request,
    sku_id: str,
    segment: Annotated[str, Form(max_length=100)],
    reason: Annotated[str, Form(max_length=2000)],
    until: Annotated[str, Form(max_length=10)],
    csrf: Csrf,
) -> Response:
    user = _signed_in(request, "override_request")
    check_csrf(request, csrf)
    path = f"/products/{quote(sku_id)}"
    try:
        body = OverrideRequest(sku_id=sku_id, segment=segment, reason=reason, until=until)
        done = request_for(request.app.state.service, body, user)
    except (StrataError, ValueError) as exc:
        return _back(path, f"Override not requested: {exc}")
    return _back(path, f"Override {done['override_id']} requested; an approver decides.")


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request) -> HTMLResponse:
    user = _signed_in(request)
    pending = overrides_for(request.app.state.service, "requested")
    return _render(
        request, "queue.html", title="Approvals", pending=pending,
        can_approve=_may(request, user, "override_approve"),
    )  # fmt: skip


@router.post("/overrides/{override_id}/{verdict}", response_model=None)
def decide_form(
    request: Request,
    override_id: int,
    verdict: str,
    csrf: Csrf,
    reason: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    user = _signed_in(request, "override_approve")
    check_csrf(request, csrf)
    if verdict not in ("approve", "reject"):
        raise HTTPException(404, f"no such action {verdict!r}; approve or reject")
    try:
        row = decide(
            request.app.state.service, override_id, user, reason if verdict == "reject" else None
        )
    except (StrataError, HTTPException) as exc:
        return _back("/queue", f"Not done: {getattr(exc, 'detail', exc)}")
    return _back("/queue", f"Override {override_id} {row['status']} by {user.name}.")


@router.get("/segments", response_class=HTMLResponse)
def segments_page(request: Request) -> HTMLResponse:
    _signed_in(request)
    view = segments_view(request.app.state.service)
    return _render(request, "segments.html", title="Segments", view=view)


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request) -> HTMLResponse:
    user = _signed_in(request)
    view = models_for(request.app.state.service)
    return _render(
        request, "models.html", title="Models", view=view,
        can_promote=_may(request, user, "promote"),
    )  # fmt: skip


@router.post("/models/promote", response_model=None)
def promote_form(
    request: Request, version: Annotated[str, Form(max_length=20)], csrf: Csrf
) -> Response:
    user = _signed_in(request, "promote")
    check_csrf(request, csrf)
    try:
        move = promote_as(request.app.state.service, PromoteRequest(version=version), user)
    except (StrataError, ValueError) as exc:
        return _back("/models", f"Not promoted: {exc}")
    return _back("/models", f"v{move['to_version']} is {move['alias']} ({move['why']}).")
