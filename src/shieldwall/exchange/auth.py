"""API tokens and web sessions.

Tokens are 32 random bytes shown once; only their SHA-256 is stored (they carry enough entropy that a
slow hash adds nothing). Passwords use scrypt. Sessions are HMAC-signed cookies naming the member.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import ApiToken, Member, Organisation, TrustGroupMember
from shieldwall.store.base import utcnow

TOKEN_PREFIX = "swt_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt_b64, digest_b64 = stored.split("$")
    digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), n=2**14, r=8, p=1)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


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


def sign_session(secret: str, member_id: int, ttl_seconds: int = 12 * 3600) -> str:
    payload = f"{member_id}.{int(time.time()) + ttl_seconds}"
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def read_session(secret: str, cookie: str | None) -> int | None:
    if not cookie or cookie.count(".") != 2:
        return None
    member_id, expires, mac = cookie.split(".")
    expected = hmac.new(secret.encode(), f"{member_id}.{expires}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected) or not expires.isdigit() or int(expires) < time.time():
        return None
    return int(member_id) if member_id.isdigit() else None


def csrf_token(secret: str, cookie: str) -> str:
    return hmac.new(secret.encode(), ("csrf:" + cookie).encode(), hashlib.sha256).hexdigest()[:32]
