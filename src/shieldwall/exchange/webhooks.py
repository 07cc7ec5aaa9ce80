"""Webhooks: an organisation registers a URL and receives HMAC-signed notices of new objects it may see.

A notice names the objects (id, type, TLP, version) and where to fetch them over TAXII; it carries no
content, so a leaked webhook endpoint leaks no intelligence. Delivery runs on a background thread with
retries, and every attempt is recorded.

Targets go through `outbound`: checked at registration and again at every delivery (public addresses
only unless the operator allowlists them, no redirects), and results are reported in fixed words.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shieldwall.exchange import access, outbound
from shieldwall.exchange.audit import record
from shieldwall.exchange.deps import db_session, settings
from shieldwall.exchange.policy import Principal, visible_to
from shieldwall.exchange.rest_directory import RowId
from shieldwall.exchange.tables import Organisation, StixObject, TrustGroupMember, Webhook, WebhookDelivery
from shieldwall.stix import timestamps
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow
from shieldwall.store.db import Database

SIGNATURE_HEADER = "X-Shieldwall-Signature"
MAX_HOOKS_PER_ORG = 20
router = APIRouter(prefix="/api/v1", tags=["webhooks"])


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature)


def org_principal(session: Session, org: Organisation) -> Principal:
    """The organisation as a reader: what any of its members could see, except RED (named people only)."""
    groups = session.scalars(select(TrustGroupMember.group_id).where(TrustGroupMember.org_id == org.id)).all()
    return Principal(member_id=-1, org_id=org.id, org_is_member=org.is_member, trust_group_ids=frozenset(groups))


class Notifier:
    def __init__(
        self,
        database: Database,
        taxii_base: str = "",
        attempts: int = 3,
        backoff: float = 0.5,
        allow: outbound.Allowlist | None = None,
    ) -> None:
        self.database = database
        self.taxii_base = taxii_base
        self.allow = allow or outbound.Allowlist()
        self.attempts = attempts
        self.backoff = backoff
        self.threads: list[threading.Thread] = []

    def __call__(self, pks: Sequence[int]) -> None:
        thread = threading.Thread(target=self.deliver, args=(list(pks),), daemon=True)
        thread.start()
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]

    def wait(self, timeout: float = 10.0) -> None:
        for thread in list(self.threads):
            thread.join(timeout)

    def deliver(self, pks: list[int]) -> None:
        with self.database.session() as session:
            hooks = session.scalars(select(Webhook).where(Webhook.is_active.is_(True))).all()
            plans: list[tuple[int, str, str, bytes, list[str]]] = []
            for hook in hooks:
                org = session.get(Organisation, hook.org_id)
                if org is None:
                    continue
                rows = session.scalars(
                    select(StixObject).where(StixObject.pk.in_(pks), visible_to(org_principal(session, org)))
                ).all()
                if not rows:
                    continue
                body = orjson.dumps(
                    {
                        "event": "objects.added",
                        "sent_at": timestamps.format_time(utcnow()),
                        "objects": [
                            {
                                "id": r.stix_id,
                                "type": r.stix_type,
                                "version": timestamps.display(r.modified),
                                "tlp": TLP(r.tlp).label,
                                "collection": r.collection_id,
                                "url": f"{self.taxii_base}/taxii2/hub/collections/"
                                f"{r.collection_id}/objects/{r.stix_id}/",
                            }
                            for r in rows
                        ],
                    }
                )
                plans.append((hook.id, hook.url, hook.secret, body, [r.stix_id for r in rows]))
        for hook_id, url, secret, body, ids in plans:
            self._post(hook_id, url, secret, body, ids)

    def _post(self, hook_id: int, url: str, secret: str, body: bytes, ids: list[str]) -> None:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
        result, attempts = outbound.Outcome(None, outbound.FAILED), 0
        for attempt in range(1, self.attempts + 1):
            attempts = attempt
            # The target is checked again on every attempt: its DNS answer may have changed since registration.
            result = outbound.post(url, body, headers, self.allow)
            if result.ok or not _worth_retrying(result):
                break
            time.sleep(self.backoff * attempt)
        with self.database.session() as session:
            session.add(
                WebhookDelivery(
                    webhook_id=hook_id,
                    object_ids=ids,
                    status_code=result.status,
                    attempts=attempts,
                    error=result.error,
                    delivered_at=utcnow() if result.ok else None,
                )
            )


def _worth_retrying(result: outbound.Outcome) -> bool:
    """Refusals and redirects will not change by themselves; timeouts and server errors may."""
    if result.status is not None:
        return result.status >= 500
    return result.error != outbound.REFUSED


class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=2000, description="http:// or https:// URL at a public address")


def webhook_json(hook: Webhook) -> dict[str, Any]:
    return {"id": hook.id, "url": hook.url, "active": hook.is_active, "created_at": hook.created_at}


def allowlist(request: Request) -> outbound.Allowlist:
    allow = getattr(request.app.state, "webhook_allow", None)
    if allow is None:
        allow = request.app.state.webhook_allow = outbound.Allowlist.parse(settings(request).webhook_allow)
    return allow


def _own_hook(session: Session, principal: Principal, hook_id: int) -> Webhook:
    hook = session.get(Webhook, hook_id)
    if hook is None or hook.org_id != principal.org_id:
        raise HTTPException(404, f"no webhook {hook_id} of your organisation")
    return hook


@router.get("/webhooks")
def list_webhooks(
    principal: Principal = Depends(access.admin("own")), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    return [webhook_json(h) for h in session.scalars(select(Webhook).where(Webhook.org_id == principal.org_id))]


@router.post("/webhooks", status_code=201)
def create_webhook(
    body: WebhookIn,
    request: Request,
    principal: Principal = Depends(access.admin("own")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    """Register a URL. The signing secret is in this response only: verify `X-Shieldwall-Signature` with it.

    The URL must be http(s) and resolve to public addresses only (unless the hub operator allowlists it);
    it is checked again at every delivery, and redirects are not followed."""
    try:
        target = outbound.check_url(body.url, allowlist(request))
    except outbound.OutboundRefused as refused:
        raise HTTPException(422, f"url: {refused}") from None
    active = select(func.count()).where(Webhook.org_id == principal.org_id, Webhook.is_active.is_(True))
    if (session.scalar(active) or 0) >= MAX_HOOKS_PER_ORG:
        raise HTTPException(422, f"your organisation has {MAX_HOOKS_PER_ORG} webhooks already; delete one first")
    hook = Webhook(org_id=principal.org_id, url=target.url, secret=secrets.token_urlsafe(32))
    session.add(hook)
    session.flush()
    record(session, principal, "create-webhook", target=target.url[:200])
    return {**webhook_json(hook), "secret": hook.secret}


@router.get("/webhooks/{hook_id}/deliveries")
def deliveries(
    hook_id: RowId,
    principal: Principal = Depends(access.admin("owner")),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    _own_hook(session, principal, hook_id)
    rows = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(100)
    )
    return [
        {
            "objects": d.object_ids,
            "status_code": d.status_code,
            "attempts": d.attempts,
            "error": outbound.safe_message(d.error),
        }
        for d in rows
    ]


@router.delete("/webhooks/{hook_id}")
def delete_webhook(
    hook_id: RowId,
    principal: Principal = Depends(access.admin("owner")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    hook = _own_hook(session, principal, hook_id)
    hook.is_active = False
    record(session, principal, "delete-webhook", target=hook.url[:200])
    return webhook_json(hook)
