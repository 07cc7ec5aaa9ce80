"""What a bank does when something matches: record a label, enqueue a human review, call a signed
webhook, report a STIX sighting back to the exchange.

Records and reviews are written in one transaction first; network calls happen afterwards, outside any
transaction, and each call's outcome is stored as a delivery so a failure is visible, never silent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from shieldwall.exchange import outbound
from shieldwall.exchange.policy import Principal
from shieldwall.match.banks import BankError, bank_secret
from shieldwall.match.held import hold_floods
from shieldwall.match.matcher import MatchHit
from shieldwall.match.service import ItemResult
from shieldwall.match.tables import ActionDelivery, Bank, MatchRecord, ReviewItem
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow
from shieldwall.store.db import Database

SIGNATURE_HEADER = "X-Shieldwall-Signature"
WEBHOOK_TIMEOUT = 5.0


@dataclass
class ActionSummary:
    recorded: int = 0
    reviews: int = 0
    webhooks_ok: int = 0
    webhooks_failed: int = 0
    sightings_ok: int = 0
    sightings_failed: int = 0
    held: int = 0  # signals held for review by this batch (flood quarantine)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Header value 't=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">' (timestamp bound to stop replays)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance_seconds: int = 300) -> bool:
    """What a webhook receiver runs: constant-time check of the signature and of the timestamp's age."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    if abs(time.time() - int(parts["t"])) > tolerance_seconds:
        return False
    expected = sign(secret, body, int(parts["t"])).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts["v1"])


def sighting_of(hit: MatchHit, seen_at: datetime, note: str) -> dict[str, Any]:
    stamp = seen_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "sighting_of_ref": hit.source_id,
        "count": 1,
        "first_seen": stamp,
        "last_seen": stamp,
        "description": note,
        "object_marking_refs": [TLP(hit.tlp).marking_id],
    }


@dataclass
class _Call:
    match_id: int
    kind: str
    bank: Bank
    payload: dict[str, Any]


def may_act_for_bank(principal: Principal | None, bank: Bank) -> bool:
    """Webhooks and sightings speak for the bank's owner (its URL, its TAXII token): only the owner's own
    matches (or the console's) may trigger them, so one organisation's content never reaches another's."""
    return principal is None or (bank.org_id is not None and bank.org_id == principal.org_id)


def run_actions(
    database: Database,
    results: list[ItemResult],
    principal: Principal | None = None,
    *,
    secret_key: str,
    allow: outbound.Allowlist | None = None,
) -> ActionSummary:
    """Run the banks' actions on `results`, which must hold only hits `principal` may see.

    `principal` is who matched (None: the operator's console); records and review items belong to its
    organisation (from the console: to the bank's). `secret_key` (the installation secret) opens the banks'
    sealed webhook keys and TAXII tokens; `allow` is the operator's outbound allowlist (`webhook_allow`):
    webhooks and sightings to other servers reach only public addresses unless it names them."""
    allow = allow or outbound.Allowlist()
    if principal is not None and not principal.can_write:
        raise ValueError("running a bank's actions needs a writer of a member organisation")
    actor = principal.email if principal is not None else "cli"
    summary = ActionSummary()
    calls: list[_Call] = []
    matched: set[tuple[int, str, str, str, int, bool]] = set()
    now = utcnow()
    with database.session() as session:
        banks = {b.id: b for b in session.scalars(select(Bank))}
        for result in results:
            for hit in result.matches:
                bank = banks.get(hit.bank_id)
                if bank is None or not (bank.label or bank.review or bank.webhook_url or bank.report_sightings):
                    continue
                org_id = principal.org_id if principal is not None else bank.org_id
                record = MatchRecord(
                    bank_id=bank.id,
                    item=result.item,
                    item_type=result.kind if result.kind != "file" else hit.signal_type,
                    item_value=result.value,
                    signal_type=hit.signal_type,
                    signal_value=hit.signal_value,
                    source_id=hit.source_id,
                    tlp=hit.tlp,
                    on_hub=hit.on_hub,
                    distance=hit.distance,
                    label=bank.label,
                    matched_at=now,
                    matched_by=actor,
                    org_id=org_id,
                )
                session.add(record)
                session.flush()
                summary.recorded += 1
                matched.add((bank.id, hit.signal_type, hit.signal_value, hit.source_id, hit.tlp, hit.on_hub))
                if bank.review:
                    session.add(ReviewItem(match_id=record.id, org_id=org_id))
                    summary.reviews += 1
                if not may_act_for_bank(principal, bank):
                    continue
                if bank.webhook_url:
                    payload = {
                        "event": "match",
                        "match_id": record.id,
                        "matched_at": now.isoformat(),
                        "item": result.item,
                        "item_kind": result.kind,
                        "item_value": result.value,
                        "label": bank.label,
                        **hit.as_dict(),
                    }
                    calls.append(_Call(record.id, "webhook", bank, payload))
                if bank.report_sightings and hit.source_id.startswith("indicator--"):
                    note = f"Matched by bank {bank.name!r}: {hit.signal_type} {hit.how} (distance {hit.distance:g})"
                    calls.append(_Call(record.id, "sighting", bank, sighting_of(hit, now, note)))
        # Write the last review items before detaching: expunging drops pending (unflushed) rows.
        session.flush()
        summary.held = hold_floods(session, banks, matched, now)
        # Plain copies: the calls below run after this transaction ends.
        session.expunge_all()
    deliveries = [_deliver(call, summary, database, secret_key, allow) for call in calls]
    if deliveries:
        with database.session() as session:
            session.add_all(deliveries)
    return summary


def _deliver(
    call: _Call, summary: ActionSummary, database: Database, secret_key: str, allow: outbound.Allowlist
) -> ActionDelivery:
    if call.kind == "webhook":
        delivery = _post_webhook(call, secret_key, allow)
        summary.webhooks_ok += delivery.ok
        summary.webhooks_failed += not delivery.ok
    else:
        delivery = _report_sighting(call, database, secret_key, allow)
        summary.sightings_ok += delivery.ok
        summary.sightings_failed += not delivery.ok
    if delivery.error:
        summary.errors.append(f"{call.kind} for match {call.match_id}: {delivery.error}")
    return delivery


def _post_webhook(call: _Call, secret_key: str, allow: outbound.Allowlist) -> ActionDelivery:
    body = json.dumps(call.payload, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "shieldwall-match"}
    # ok is set here: column defaults only apply on insert, and the summary counts before that.
    delivery = ActionDelivery(match_id=call.match_id, kind="webhook", target=call.bank.webhook_url, ok=False, detail={})
    try:
        secret = bank_secret(call.bank, "webhook_secret", secret_key)
    except BankError as error:  # never send unsigned when a key is configured but cannot be opened
        delivery.error = str(error)
        return delivery
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    # Checked on every call (public addresses only unless allowlisted; no redirects); fixed-word outcomes.
    outcome = outbound.post(call.bank.webhook_url, body, headers, allow, timeout=WEBHOOK_TIMEOUT)
    delivery.status_code = outcome.status
    delivery.ok = outcome.ok
    delivery.error = outcome.error
    return delivery


def _report_sighting(call: _Call, database: Database, secret_key: str, allow: outbound.Allowlist) -> ActionDelivery:
    """Into this hub's collection in process as the bank's owner; to another server through outbound."""
    from shieldwall.match.taxii import TaxiiError, open_source

    target = f"{call.bank.taxii_api_root or 'this hub'} {call.bank.taxii_collection}"
    delivery = ActionDelivery(
        match_id=call.match_id, kind="sighting", target=target, ok=False, detail={"sighting_id": call.payload["id"]}
    )
    try:
        source = open_source(database, call.bank, secret_key, allow=allow)
        try:
            source.add_objects([call.payload])
        finally:
            source.close()
        delivery.ok = True
        delivery.status_code = 202
    except (TaxiiError, BankError) as error:
        delivery.error = str(error)
    return delivery
