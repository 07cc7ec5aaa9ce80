"""Flood quarantine: a signal that matches more distinct items within an hour than its bank's `flood_limit`
is held for review. While held it matches nothing (service.load_matcher leaves it out); the matches it made
are kept (mat_matches). The bank's organisation's analysts and admins release it.

Only recorded matches of the bank's own organisation count (those that ran the bank's actions: its writers'),
so neither a visitor nor another organisation can silence a bank's signal by submitting items that match it.
For the hub's own banks every organisation's recorded matches count.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shieldwall.exchange import access
from shieldwall.exchange.deps import ApiError
from shieldwall.exchange.policy import Principal
from shieldwall.match.banks import value_hash
from shieldwall.match.tables import Bank, HeldSignal, MatchRecord
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow

WINDOW = timedelta(hours=1)
router = APIRouter(tags=["match"])


def hold_floods(
    session: Session, banks: dict[int, Bank], matched: set[tuple[int, str, str, str, int, bool]], now: datetime
) -> int:
    """Hold every signal just matched whose distinct items in the last hour (since its last release, if
    later) exceed its bank's flood limit. Returns how many were held now."""
    held = 0
    seen: set[tuple[int, str, str]] = set()
    for bank_id, kind, value, source_id, tlp, on_hub in sorted(matched):
        bank = banks[bank_id]
        if not bank.flood_limit or (bank_id, kind, value) in seen:
            continue
        seen.add((bank_id, kind, value))
        digest = value_hash(value)
        identity = (HeldSignal.bank_id == bank_id, HeldSignal.signal_type == kind, HeldSignal.value_hash == digest)
        if session.scalar(select(HeldSignal.id).where(*identity, HeldSignal.status == "held")) is not None:
            continue
        released = session.scalar(select(func.max(HeldSignal.decided_at)).where(*identity))
        since = max(now - WINDOW, released) if released is not None else now - WINDOW
        own = [] if bank.org_id is None else [MatchRecord.org_id == bank.org_id]
        items = session.scalar(
            select(func.count(func.distinct(MatchRecord.item_value))).where(
                MatchRecord.bank_id == bank_id,
                MatchRecord.signal_type == kind,
                MatchRecord.signal_value == value,
                MatchRecord.matched_at >= since,
                *own,
            )
        )
        if (items or 0) > bank.flood_limit:
            session.add(
                HeldSignal(
                    bank_id=bank_id,
                    signal_type=kind,
                    value_hash=digest,
                    value=value,
                    source_id=source_id,
                    tlp=tlp,
                    on_hub=on_hub,
                    items=int(items or 0),
                    held_at=now,
                    status="held",
                )
            )
            # The matcher snapshot is rebuilt on a revision change: the held signal stops matching now.
            session.execute(update(Bank).where(Bank.id == bank_id).values(revision=Bank.revision + 1))
            held += 1
    return held


def _scope(principal: Principal) -> list[Any]:
    """Held signals of the principal's organisation's banks whose signal it may still read."""
    from shieldwall.match.visibility import signal_visible

    if not principal.is_authenticated or principal.org_id is None:
        return [Bank.id.is_(None)]
    return [
        Bank.org_id == principal.org_id,
        signal_visible(
            principal,
            source_id=HeldSignal.source_id,
            tlp=HeldSignal.tlp,
            on_hub=HeldSignal.on_hub,
            bank_org=Bank.org_id,
            bank_creator=Bank.created_by,
        ),
    ]


def held_view(row: HeldSignal, bank: Bank) -> dict[str, Any]:
    return {
        "id": row.id,
        "bank": bank.name,
        "signal": {"type": row.signal_type, "value": row.value},
        "provenance": {"source_id": row.source_id, "tlp": TLP(row.tlp).label},
        "items_in_an_hour": row.items,
        "limit": bank.flood_limit,
        "held_at": row.held_at.isoformat(),
        "status": row.status,
        "decided_by": row.decided_by or None,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
    }


@router.get("/api/match/held")
def api_held(
    request: Request, status: str = "held", principal: Principal = Depends(access.member("visible"))
) -> JSONResponse:
    """Signals of the caller's organisation's banks held after a flood (status=held, released or all)."""
    if status not in ("held", "released", "all"):
        raise ApiError(422, "status must be held, released or all")
    with request.app.state.database.session() as session:
        query = select(HeldSignal, Bank).join(Bank, Bank.id == HeldSignal.bank_id).where(*_scope(principal))
        if status != "all":
            query = query.where(HeldSignal.status == status)
        rows = session.execute(query.order_by(HeldSignal.id.desc()).limit(1000)).all()
        return JSONResponse({"held": [held_view(row, bank) for row, bank in rows]})


@router.post("/api/match/held/{held_id}/release")
def api_release(request: Request, held_id: int, principal: Principal = Depends(access.writer("owner"))) -> JSONResponse:
    """Let a held signal match again (its flood count starts over from now)."""
    if not 0 < held_id < 2**31:
        raise ApiError(404, f"no held signal {held_id}")
    with request.app.state.database.session() as session:
        found = session.execute(
            select(HeldSignal, Bank)
            .join(Bank, Bank.id == HeldSignal.bank_id)
            .where(HeldSignal.id == held_id, *_scope(principal))
        ).first()
        if found is None:  # another organisation's, or one the caller may no longer read: as if absent
            raise ApiError(404, f"no held signal {held_id}")
        row, bank = found
        if row.status == "held":
            release(session, row, principal.email)
        return JSONResponse(held_view(row, bank))


def release(session: Session, row: HeldSignal, who: str) -> None:
    row.status, row.decided_by, row.decided_at = "released", who, utcnow()
    session.execute(update(Bank).where(Bank.id == row.bank_id).values(revision=Bank.revision + 1))
