"""API tokens and web sessions.

Tokens are 32 random bytes shown once; only their SHA-256 is stored (they carry enough entropy that a
slow hash adds nothing). Passwords use scrypt. A web session is a random id in the cookie and a row
(`WebSession`, keyed by the id's SHA-256) on the server, so signing out, a password change or
deactivation ends it for good; anything else in the cookie means "signed out".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import ApiToken, Member, Organisation, TrustGroupMember, WebSession
from shieldwall.store.base import utcnow

TOKEN_PREFIX = "swt_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def check_password(password: str, stored: str | None) -> bool:
    """Whether password matches stored. Costs one scrypt whatever stored is (None, malformed, another
    scheme): an unknown or password-less account answers as slowly as a known one."""
    parts = (stored or "").split("$")
    known = len(parts) == 3 and parts[0] == "scrypt"
    try:
        salt, expected = (base64.b64decode(parts[1]), base64.b64decode(parts[2])) if known else (b"", b"")
    except (ValueError, binascii.Error):
        known = False
    if not known:
        _, salt_b64, _ = _dummy_hash().split("$")
        salt, expected = base64.b64decode(salt_b64), b""
    digest = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=2**14, r=8, p=1)
    return known and hmac.compare_digest(digest, expected)


class AuthError(Exception):
    """Authentication failed; the message is safe to show (it never says which part was wrong)."""


def principal_for_member(session: Session, member: Member) -> Principal:
    org = session.get(Organisation, member.org_id)
    assert org is not None
    groups = session.scalars(select(TrustGroupMember.group_id).where(TrustGroupMember.org_id == org.id)).all()
    return Principal(
        member_id=member.id,
        org_id=org.id,
        org_is_member=org.is_member,
        trust_group_ids=frozenset(groups),
        role=member.role,
        is_operator=member.is_operator,
        is_ad_editor=member.is_ad_editor,
        email=member.email,
        org_name=org.name,
        org_slug=org.slug,
    )


def grant_for_token(
    session: Session, token: str, now: datetime | None = None
) -> tuple[Principal, int, datetime | None]:
    """The principal a bearer token speaks for, the token's id (for rate limits) and its expiry."""
    now = now or utcnow()
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        raise AuthError("invalid or revoked token")
    if row.expires_at is not None and row.expires_at <= now:
        raise AuthError("token expired")
    member = session.get(Member, row.member_id)
    if member is None or not member.is_active:
        raise AuthError("invalid or revoked token")
    # Touch last_used at most once a minute so reads do not turn into writes.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    return principal_for_member(session, member), row.id, row.expires_at


def principal_for_token(session: Session, token: str, now: datetime | None = None) -> tuple[Principal, int]:
    principal, token_id, _ = grant_for_token(session, token, now)
    return principal, token_id


class TokenCache:
    """Who a token speaks for, remembered for a few seconds so a request does not cost four queries.

    An entry never outlives the token's expiry; revoking a token or changing trust groups through this
    process clears the cache at once (another worker process notices within `ttl` seconds)."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[Principal, int, float]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[Principal, int] | None:
        key = hash_token(token)
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[2] <= time.time():
            return None
        return entry[0], entry[1]

    def put(self, token: str, principal: Principal, token_id: int, expires_at: datetime | None) -> None:
        until = time.time() + self.ttl
        if expires_at is not None:
            until = min(until, expires_at.timestamp())
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[hash_token(token)] = (principal, token_id, until)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def issue_token(
    session: Session, member: Member, name: str, expires_at: datetime | None = None
) -> tuple[str, ApiToken]:
    token = new_token()
    row = ApiToken(
        member_id=member.id, name=name, prefix=token[:12], token_hash=hash_token(token), expires_at=expires_at
    )
    session.add(row)
    session.flush()
    return token, row


SESSION_TTL = timedelta(hours=12)
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")


def start_session(session: Session, member_id: int, ttl: timedelta = SESSION_TTL) -> str:
    """A new web session for member; returns the cookie value (shown to the browser only)."""
    now = utcnow()
    # The member's expired sessions are of no use to anyone: drop them while we are here.
    session.execute(delete(WebSession).where(WebSession.member_id == member_id, WebSession.expires_at <= now))
    cookie = secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=hash_token(cookie), member_id=member_id, created_at=now, expires_at=now + ttl))
    session.flush()
    return cookie


def _live_session(session: Session, cookie: str | None, now: datetime) -> WebSession | None:
    # Only the shape we issue is looked up: garbage, old signed cookies and non-ASCII text are "signed out".
    if not cookie or not _SESSION_ID.fullmatch(cookie):
        return None
    row = session.get(WebSession, hash_token(cookie))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row


def member_for_session(session: Session, cookie: str | None, now: datetime | None = None) -> Member | None:
    """The active member a session cookie speaks for, or None (signed out)."""
    row = _live_session(session, cookie, now or utcnow())
    if row is None:
        return None
    member = session.get(Member, row.member_id)
    return member if member is not None and member.is_active else None


def end_session(session: Session, cookie: str | None) -> None:
    row = _live_session(session, cookie, utcnow())
    if row is not None:
        row.revoked_at = utcnow()


def end_member_sessions(session: Session, member_id: int) -> int:
    """Revoke every live session of member (password change, deactivation); returns how many."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.member_id == member_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def csrf_token(secret: str, cookie: str) -> str:
    return hmac.new(secret.encode(), ("csrf:" + cookie).encode(), hashlib.sha256).hexdigest()[:32]
