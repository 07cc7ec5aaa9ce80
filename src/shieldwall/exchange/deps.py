"""FastAPI dependencies shared by every capability's routes: the database session and who is asking.

A request authenticates with `Authorization: Bearer <token>`, with HTTP Basic whose password is a token
(what TAXII clients such as taxii2-client send), or with the web session cookie.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from shieldwall.config import Settings
from shieldwall.exchange.auth import AuthError, TokenCache, grant_for_token, member_for_session, principal_for_member
from shieldwall.exchange.policy import ANONYMOUS, Principal
from shieldwall.exchange.ratelimit import RateLimiter
from shieldwall.store.db import Database

SESSION_COOKIE = "shieldwall_session"


class ApiError(HTTPException):
    """An error with a clear message; TAXII routes render it as a TAXII error object."""


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def db_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on any error.

    Use it as `Depends(db_session, scope="function")` so the commit happens before the response is sent:
    a client must never be told "stored" for a write whose commit then fails."""
    with database(request).session() as session:
        yield session


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip()).decode()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(401, "malformed Basic authorization header") from None
        return decoded.partition(":")[2] or None
    return None


def _limiter(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        limiter = request.app.state.rate_limiter = RateLimiter(settings(request).rate_limit_per_minute)
    return limiter


def token_cache(request: Request) -> TokenCache:
    cache = getattr(request.app.state, "token_cache", None)
    if cache is None:
        cache = request.app.state.token_cache = TokenCache()
    return cache


def _token_principal(request: Request, token: str) -> tuple[Principal, int]:
    cached = token_cache(request).get(token)
    if cached is not None:
        return cached
    with database(request).session() as session:
        try:
            principal, token_id, expires_at = grant_for_token(session, token)
        except AuthError as error:
            raise ApiError(401, str(error), headers={"WWW-Authenticate": "Bearer"}) from None
    token_cache(request).put(token, principal, token_id, expires_at)
    return principal, token_id


def current_principal(request: Request) -> Principal:
    """Who is asking; ANONYMOUS when no credentials came. Wrong or expired credentials are a 401."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = ANONYMOUS
    token = _bearer(request)
    if token is not None:
        principal, token_id = _token_principal(request, token)
        allowed, retry_after = _limiter(request).allow(("token", token_id))
        if not allowed:
            raise ApiError(
                429, "rate limit exceeded for this token", headers={"Retry-After": str(int(retry_after) + 1)}
            )
        request.state.principal = principal
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        # A server-side session: signed out, revoked, expired or garbage cookies all browse as a visitor.
        with database(request).session() as session:
            member = member_for_session(session, cookie)
            if member is not None:
                principal = principal_for_member(session, member)
    request.state.principal = principal
    return principal


def require_member(request: Request) -> Principal:
    principal = current_principal(request)
    if not principal.is_authenticated:
        raise ApiError(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
    return principal


def require_writer(request: Request) -> Principal:
    principal = require_member(request)
    if not principal.can_write:
        raise ApiError(403, "your role may not write; ask an admin of your organisation for the analyst role")
    return principal


def require_admin(request: Request) -> Principal:
    principal = require_member(request)
    if not principal.is_admin:
        raise ApiError(403, "this needs the admin role in your organisation")
    return principal
