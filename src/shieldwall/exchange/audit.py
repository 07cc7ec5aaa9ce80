"""The audit log: every write, and every read of AMBER or RED material. Who, when, what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import AuditEntry
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow


def record(
    session: Session,
    principal: Principal,
    action: str,
    *,
    target: str = "",
    tlp: int | None = None,
    detail: dict[str, Any] | None = None,
    sealed: bool = False,
) -> None:
    """Append one entry. A sealed entry (an anonymous source) is shown to the hub operator only."""
    session.execute(
        insert(AuditEntry).values(
            at=utcnow(),
            member_id=principal.member_id,
            org_id=principal.org_id,
            action=action,
            target=target[:200],
            tlp=int(tlp) if tlp is not None else None,
            sealed=sealed,
            detail=detail or {},
        )
    )


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    """One entry as the API and `shieldwall exchange audit --json` show it (TLP by label)."""
    return {
        "at": entry.at,
        "member_id": entry.member_id,
        "org_id": entry.org_id,
        "action": entry.action,
        "target": entry.target,
        "tlp": None if entry.tlp is None else TLP(entry.tlp).label,
        "sealed": entry.sealed,
        "detail": entry.detail,
    }
