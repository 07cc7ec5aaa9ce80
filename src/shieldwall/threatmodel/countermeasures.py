"""Countermeasures: an organisation's notes on what it does (or plans) against one technique for one election.

A countermeasure belongs to the organisation that recorded it: only that organisation's writers change or
remove it. Who else reads it is fixed when it is recorded, from what the recorder may share at that moment:
- the election's trust group, when the recorder's organisation is in it ("trust-group");
- every member organisation, when the election has no trust group ("members");
- nobody else, when the election's group is one the recorder is not in ("organisation").
A later change of the election's trust group changes nobody's audience. Guest organisations read none.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange.policy import Principal
from shieldwall.threatmodel.elections import MAX_ID
from shieldwall.threatmodel.tables import COUNTERMEASURE_STATUSES, Countermeasure, Election, Technique


class CountermeasureError(ValueError):
    """Bad input; the message names the field."""


class Hidden(LookupError):
    """No countermeasure the caller may read (the same answer whether it exists or not)."""


def audience_for(principal: Principal, election: Election) -> tuple[str, int | None]:
    group = election.trust_group_id
    if group is None:
        return "members", None
    if group in principal.trust_group_ids:
        return "trust-group", group
    return "organisation", None


def may_see(principal: Principal, measure: Countermeasure) -> bool:
    if not principal.is_authenticated or principal.org_id is None:
        return False
    if measure.org_id is not None and measure.org_id == principal.org_id:
        return True
    if not principal.org_is_member:
        return False  # guests read TLP:CLEAR only, and countermeasures are never public
    if measure.audience == "members":
        return True
    return measure.audience == "trust-group" and measure.trust_group_id in principal.trust_group_ids


def may_change(principal: Principal, measure: Countermeasure) -> bool:
    return principal.can_write and measure.org_id is not None and measure.org_id == principal.org_id


def visible_for(session: Session, principal: Principal, election_id: int) -> list[Countermeasure]:
    rows = session.scalars(
        select(Countermeasure)
        .where(Countermeasure.election_id == election_id)
        .order_by(Countermeasure.technique_external_id, Countermeasure.name)
    )
    return [m for m in rows if may_see(principal, m)]


def _require_writer(principal: Principal) -> None:
    if not principal.can_write:
        raise PermissionError("your role may not write; ask an admin of your organisation for the analyst role")


def _checked(name: str, status: str, description: str = "") -> str:
    for field_name, value in (("name", name), ("description", description)):
        if "\x00" in value:  # PostgreSQL cannot store NUL characters
            raise CountermeasureError(f"{field_name}: contains a NUL character")
    name = name.strip()
    if not name:
        raise CountermeasureError("name: the countermeasure's name is empty")
    if len(name) > 300:
        raise CountermeasureError("name: longer than 300 characters")
    if status not in COUNTERMEASURE_STATUSES:
        raise CountermeasureError(f"status {status!r} is not one of {', '.join(COUNTERMEASURE_STATUSES)}")
    return name


def record(
    session: Session,
    principal: Principal,
    election: Election,
    external_id: str,
    name: str,
    description: str = "",
    status: str = "in place",
) -> Countermeasure:
    """Record (or, for the same organisation, technique and name, update) a countermeasure."""
    _require_writer(principal)
    wanted = external_id.strip().upper()
    valid = len(wanted) <= 16 and "\x00" not in wanted
    technique = session.scalar(select(Technique).where(Technique.external_id == wanted)) if valid else None
    if technique is None:
        raise CountermeasureError(f"technique {external_id!r} is not in the DISARM framework here")
    name = _checked(name, status, description)
    mine = session.scalar(
        select(Countermeasure).where(
            Countermeasure.election_id == election.id,
            Countermeasure.technique_external_id == technique.external_id,
            Countermeasure.org_id == principal.org_id,
            Countermeasure.name == name,
        )
    )
    if mine is not None:
        mine.description, mine.status = description.strip(), status
        session.flush()
        return mine
    audience, group = audience_for(principal, election)
    measure = Countermeasure(
        election_id=election.id,
        technique_external_id=technique.external_id,
        name=name,
        description=description.strip(),
        status=status,
        org_id=principal.org_id,
        org_name=principal.org_name,
        member_id=principal.member_id,
        audience=audience,
        trust_group_id=group,
    )
    session.add(measure)
    session.flush()
    return measure


def to_change(session: Session, principal: Principal, measure_id: int) -> Countermeasure:
    """The countermeasure, if principal may change it: Hidden when it may not read it, PermissionError when it
    may read but not change it."""
    measure = session.get(Countermeasure, measure_id) if 1 <= measure_id <= MAX_ID else None
    if measure is None or not may_see(principal, measure):
        raise Hidden(f"no countermeasure {measure_id}")
    if not may_change(principal, measure):
        raise PermissionError("only the organisation that recorded this countermeasure may change it")
    return measure


def update(
    session: Session, measure: Countermeasure, *, status: str | None = None, description: str | None = None
) -> Countermeasure:
    _checked(measure.name, status or measure.status, description or "")
    if status is not None:
        measure.status = status
    if description is not None:
        measure.description = description.strip()
    session.flush()
    return measure


def as_json(measure: Countermeasure) -> dict[str, Any]:
    return {
        "id": measure.id,
        "election_id": measure.election_id,
        "technique": measure.technique_external_id,
        "name": measure.name,
        "description": measure.description,
        "status": measure.status,
        "organisation": measure.org_name,
        "audience": measure.audience,
    }
