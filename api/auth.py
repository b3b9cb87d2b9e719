"""Who is calling: a Bearer API token or the signed session cookie, and whether their role may act.

Verifying a token costs one scrypt (tens of ms), so a verified token is remembered for a while
under an HMAC of it with a key that lives only in this process: the plain token is never kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from store.users import User, authenticate

__all__ = ["TokenCache", "check_csrf", "csrf_token", "current_user", "require", "sign_in"]

_SESSION_USER = "user"
_SESSION_CSRF = "csrf"


class TokenCache:
    """Verified tokens (as HMACs) -> user, for `ttl` seconds."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._key = secrets.token_bytes(32)
        self._seen: dict[bytes, tuple[float, User]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> tuple[bytes, User | None]:
        """(the token's HMAC, its user when verified within `ttl` seconds)."""
        mac = hmac.new(self._key, token.encode(), hashlib.sha256).digest()
        hit = self._seen.get(mac)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return mac, hit[1]
        return mac, None

    def user(self, ws: Any, token: str) -> User | None:
        """The token's user (None when the token is unknown or wrong)."""
        mac, hit = self.cached(token)
        if hit is not None:
            return hit
        now = time.monotonic()
        found = authenticate(ws, token)
        if found is not None:
            with self._lock:
                self._seen[mac] = (now, found)
        return found


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def current_user(request: Request) -> User:
    """The caller: the Bearer token's user, else the session's; 401 when neither is valid."""
    service, tokens = request.app.state.service, request.app.state.tokens
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorised("the Authorization header must be 'Bearer <API token>'")
        _mac, user = tokens.cached(token.strip())
        if user is None:  # one scrypt and a database read: off the event loop
            user = await run_in_threadpool(tokens.user, service.ws, token.strip())
        if user is None:
            raise _unauthorised(
                "the API token is not valid; ask an admin for one (`strata users add NAME --role ROLE`)"
            )
        return user
    session = request.scope.get("session") or {}
    if session.get(_SESSION_USER):
        if request.method not in ("GET", "HEAD"):  # forms carry CSRF tokens; the API does not
            raise _unauthorised("API writes need 'Authorization: Bearer <API token>'")
        name, role = session[_SESSION_USER]
        return User(str(name), str(role))
    raise _unauthorised(
        "not signed in: send 'Authorization: Bearer <API token>' (from `strata users add`)"
    )


def require(action: str) -> Callable[..., User]:
    """A dependency: the caller, when their role may do `action` (configs/roles.yaml); else 403."""

    async def check(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
        roles = request.app.state.service.roles
        if not roles.allows(user.role, action):
            raise HTTPException(
                403,
                f"{user.name} has role {user.role}, which may not {action.replace('_', ' ')}; "
                f"roles allowed: {', '.join(roles.allowed_roles(action))} (configs/roles.yaml)",
            )
        return user

    return check


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use) for the forms of a page."""
    session = request.scope.get("session")
    if session is None:
        return ""
    if not session.get(_SESSION_CSRF):
        session[_SESSION_CSRF] = secrets.token_urlsafe(24)
    return str(session[_SESSION_CSRF])


def check_csrf(request: Request, given: str) -> None:
    """403 unless `given` is the session's CSRF token."""
    expected = (request.scope.get("session") or {}).get(_SESSION_CSRF, "")
    if not expected or not hmac.compare_digest(str(given or ""), str(expected)):
        raise HTTPException(403, "the form's CSRF token is missing or stale; reload the page")


def sign_in(request: Request, user: User) -> None:
    """Put `user` in a fresh session (new CSRF token)."""
    request.session.clear()
    request.session[_SESSION_USER] = [user.name, user.role]
    request.session[_SESSION_CSRF] = secrets.token_urlsafe(24)
