"""The FastAPI application of `strata serve`: JSON API, planner pages, errors in plain words."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware.sessions import SessionMiddleware

from api.auth import TokenCache
from api.service import Service, load_service
from api.views import NotFoundError
from ml.errors import StrataError

__all__ = ["MAX_BODY_BYTES", "create_app", "session_secret"]

MAX_BODY_BYTES = 64 * 1024
_SECRET_FILE = ".session_secret"


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413, by header or while streaming."""

    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, send: Any) -> None:
        body = f'{{"detail": "request body over {self.max_bytes} bytes refused"}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        # no length given (chunked): read the body here, bounded, and hand it on in one piece
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(send)
                return
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def session_secret(ws: Any) -> str:
    """STRATA_SESSION_SECRET, else a random secret kept in the warehouse (mode 0600)."""
    given = os.environ.get("STRATA_SESSION_SECRET", "").strip()
    if given:
        return given
    path = Path(ws.warehouse) / _SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or str(loc[0] if loc else "body")


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for e in exc.errors():
        if e.get("type") == "json_invalid":
            problems.append(f"body: not valid JSON ({e.get('msg', '')})")
        else:
            problems.append(f"{_field(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}")
    detail = "invalid request: " + "; ".join(problems)
    fields = [_field(tuple(e.get("loc", ()))) for e in exc.errors()]
    return JSONResponse({"detail": detail, "fields": fields}, status_code=422)


async def _strata_error(request: Request, exc: StrataError) -> JSONResponse:
    status = 404 if isinstance(exc, NotFoundError) else 409
    return JSONResponse({"detail": str(exc)}, status_code=status)


def create_app(ws: Any, service: Service | None = None, pages: bool = True) -> FastAPI:
    """The service for workspace `ws` (configs read once, outputs cached)."""
    from api.routes_mlops import router as mlops
    from api.routes_planning import router as planning

    app = FastAPI(
        title="Strata",
        description="Product segments, their reasons and policies; overrides; model promotion.",
        version="1",
    )
    app.state.service = service or load_service(ws)
    app.state.tokens = TokenCache()
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StrataError, _strata_error)
    app.include_router(planning)
    app.include_router(mlops)
    if pages:
        from api.pages import router as page_router

        app.include_router(page_router)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(ws),
        session_cookie="strata_session",
        max_age=8 * 3600,
        same_site="strict",
        https_only=False,
    )
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
