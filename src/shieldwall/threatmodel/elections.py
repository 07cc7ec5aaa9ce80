"""Elections: the calendar, and each election's STIX face (`x-shieldwall-election`) that campaigns target.

An election is public fact, so its STIX object is published at TLP:CLEAR in the hub-wide collection;
campaigns point at it with `relationship` objects of type `targets` (campaign -> x-shieldwall-election).

An election belongs to the organisation that created it: only that organisation's writers change it, and
they publish its STIX object's versions (the exchange lets only an id's first publisher add versions). Its
trust group is the working group's label and the default audience a member of that group may pick for new
AMBER material; it never decides who reads anything already shared.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shieldwall.exchange import directory, objects
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import Organisation, TrustGroup
from shieldwall.stix.tlp import TLP
from shieldwall.threatmodel.disarm import ensure_tactics
from shieldwall.threatmodel.tables import ELECTION_LEVELS, ELECTION_STATUSES, Election

ELECTION_TYPE = "x-shieldwall-election"
ELECTION_NAMESPACE = uuid.UUID("0c7f3c5e-9a1b-4f7e-8c33-7d3f0b0f2a11")

# ISO 3166-1 alpha-2 names for the countries the calendar shows most; any valid alpha-2 code is accepted.
COUNTRY_NAMES = {
    "US": "United States",
    "BR": "Brazil",
    "MX": "Mexico",
    "DE": "Germany",
    "FR": "France",
    "GB": "United Kingdom",
    "IN": "India",
    "CA": "Canada",
    "AU": "Australia",
    "IT": "Italy",
    "ES": "Spain",
    "PL": "Poland",
    "NL": "Netherlands",
    "BE": "Belgium",
    "AT": "Austria",
    "CH": "Switzerland",
    "FI": "Finland",
    "SE": "Sweden",
    "JP": "Japan",
    "KR": "South Korea",
    "ZA": "South Africa",
    "NG": "Nigeria",
    "AR": "Argentina",
    "CO": "Colombia",
    "CL": "Chile",
    "PH": "Philippines",
    "ID": "Indonesia",
    "TW": "Taiwan",
    "UA": "Ukraine",
    "MD": "Moldova",
    "RO": "Romania",
    "HU": "Hungary",
    "CZ": "Czechia",
    "PT": "Portugal",
    "IE": "Ireland",
    "DK": "Denmark",
    "NO": "Norway",
    "EU": "European Union",
}


# Ids are 32-bit integers on every database: a larger number names nothing (and must not reach the driver).
MAX_ID = 2**31 - 1


class ElectionError(ValueError):
    """Bad election input; the message names the field."""


class UnknownReference(ElectionError):
    """A field names something that does not exist or that the caller may not name (answered 422)."""


@dataclass(frozen=True)
class ElectionInput:
    country: str
    level: str
    name: str
    election_date: date
    trust_group_id: int | None = None
    status: str = "scheduled"
    description: str = ""
    slug: str | None = None


def country_name(code: str) -> str:
    return COUNTRY_NAMES.get(code, code)


def _check(session: Session, data: ElectionInput) -> None:
    if not re.fullmatch(r"[A-Z]{2}", data.country):
        raise ElectionError(f"country {data.country!r} is not an ISO 3166-1 alpha-2 code (e.g. US, BR, DE)")
    if data.level not in ELECTION_LEVELS:
        raise ElectionError(f"level {data.level!r} is not one of {', '.join(ELECTION_LEVELS)}")
    if data.status not in ELECTION_STATUSES:
        raise ElectionError(f"status {data.status!r} is not one of {', '.join(ELECTION_STATUSES)}")
    if not data.name.strip():
        raise ElectionError("name is empty")
    if len(data.name.strip()) > 200:
        raise ElectionError("name is longer than 200 characters")
    for field_name, value in (("name", data.name), ("description", data.description)):
        if "\x00" in value:  # PostgreSQL cannot store NUL characters
            raise ElectionError(f"{field_name}: contains a NUL character")
    if data.trust_group_id is not None and (
        not 1 <= data.trust_group_id <= MAX_ID or session.get(TrustGroup, data.trust_group_id) is None
    ):
        raise UnknownReference(f"trust_group_id {data.trust_group_id}: no such trust group")


def _check_group_member(principal: Principal | None, group_id: int | None) -> None:
    """A member names only a trust group its organisation belongs to (the same answer whether the group
    exists or not, so the directory does not leak)."""
    if principal is None or group_id is None or group_id in principal.trust_group_ids:
        return
    raise UnknownReference(f"trust_group_id {group_id}: no trust group that your organisation belongs to")


def may_change(principal: Principal, election: Election) -> bool:
    """Only the owner organisation's writers change an election."""
    return principal.can_write and election.org_id is not None and election.org_id == principal.org_id


def hub_org_id(session: Session) -> int | None:
    return session.scalar(select(func.min(Organisation.id)).where(Organisation.kind == "hub"))


def election_stix(election: Election, modified: datetime | None = None) -> dict[str, Any]:
    created = election.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "type": ELECTION_TYPE,
        "spec_version": "2.1",
        "id": election.stix_id,
        "created": created,
        "modified": (modified or election.created_at).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "name": election.name,
        "description": election.description,
        "x_country": election.country,
        "x_level": election.level,
        "x_election_date": election.election_date.isoformat(),
        "x_status": election.status,
    }


def create_election(
    session: Session, data: ElectionInput, publisher: Principal | None = None, *, by_member: bool = False
) -> Election:
    """Store an election owned by the publisher's organisation (the hub's when nobody publishes it); when a
    member publishes it, its STIX object goes to the hub-wide collection (CLEAR).

    by_member: a member's request (API, form), which may only name its own organisation's trust groups; the
    operator's CLI may name any."""
    if by_member:
        if publisher is None or not publisher.can_write:
            raise PermissionError("your role may not write; ask an admin of your organisation for the analyst role")
        _check_group_member(publisher, data.trust_group_id)
    _check(session, data)
    slug = data.slug or directory.slugify(f"{data.country} {data.name} {data.election_date.year}")
    if session.scalar(select(Election.id).where(Election.slug == slug)) is not None:
        raise ElectionError(f"an election with slug {slug!r} exists already")
    election = Election(
        slug=slug,
        country=data.country,
        level=data.level,
        name=data.name.strip(),
        election_date=data.election_date,
        trust_group_id=data.trust_group_id,
        status=data.status,
        description=data.description,
        stix_id=f"{ELECTION_TYPE}--{uuid.uuid5(ELECTION_NAMESPACE, slug)}",
        org_id=publisher.org_id if publisher is not None and publisher.org_id is not None else hub_org_id(session),
    )
    session.add(election)
    session.flush()
    ensure_tactics(session)  # the heat map has its 16 columns even before DISARM is imported
    if publisher is not None and publisher.is_authenticated:
        publish_election(session, publisher, election)
    return election


def publish_election(
    session: Session, publisher: Principal, election: Election, modified: datetime | None = None
) -> None:
    collection = directory.collection_by_alias(session, directory.DEFAULT_COLLECTION_ALIAS)
    result = objects.ingest(
        session, publisher, collection, [election_stix(election, modified)], objects.Sharing(tlp=TLP.CLEAR)
    )
    if result.failures:
        raise ElectionError(f"the election's STIX object was refused: {result.failures[0]['message']}")


def update_election(
    session: Session,
    election: Election,
    publisher: Principal,
    *,
    status: str | None = None,
    election_date: date | None = None,
    trust_group_id: int | None = None,
    description: str | None = None,
) -> Election:
    """Change what changes over a campaign season; the STIX object gets a new version.

    Only the owner organisation's writers may (PermissionError otherwise), and a new trust group must be one
    of the publisher's organisation's."""
    if not may_change(publisher, election):
        raise PermissionError("only the organisation that created this election may change it")
    if trust_group_id is not None and trust_group_id != election.trust_group_id:
        _check_group_member(publisher, trust_group_id)
    data = ElectionInput(
        election.country,
        election.level,
        election.name,
        election_date or election.election_date,
        trust_group_id if trust_group_id is not None else election.trust_group_id,
        status or election.status,
        election.description if description is None else description,
    )
    _check(session, data)
    election.status, election.election_date = data.status, data.election_date
    election.trust_group_id, election.description = data.trust_group_id, data.description
    session.flush()
    publish_election(session, publisher, election, modified=datetime.now(UTC))
    return election


def list_elections(
    session: Session, *, upcoming_from: date | None = None, country: str | None = None
) -> list[Election]:
    statement = select(Election).order_by(Election.election_date, Election.country, Election.name)
    if upcoming_from is not None:
        statement = statement.where(Election.election_date >= upcoming_from)
    if country:
        statement = statement.where(Election.country == country.upper())
    return list(session.scalars(statement))


def get_election(session: Session, election_id: int) -> Election | None:
    """None for ids no row can have (too large for the database's integers included)."""
    if not 1 <= election_id <= MAX_ID:
        return None
    return session.get(Election, election_id)


def trust_group_names(session: Session, reader: Principal) -> dict[int, str]:
    """The trust groups reader may know of: its organisation's (every group for the hub operator)."""
    statement = select(TrustGroup.id, TrustGroup.name).order_by(TrustGroup.name)
    if not reader.is_operator:
        statement = statement.where(TrustGroup.id.in_(sorted(reader.trust_group_ids)))
    return dict(session.execute(statement).tuples().all())


def election_json(election: Election, groups: dict[int, str], reader: Principal | None = None) -> dict[str, Any]:
    """groups: trust_group_names for the reader; a group the reader may not know of is not named (nor its id)."""
    group_name = groups.get(election.trust_group_id) if election.trust_group_id is not None else None
    return {
        "id": election.id,
        "slug": election.slug,
        "country": election.country,
        "country_name": country_name(election.country),
        "level": election.level,
        "name": election.name,
        "date": election.election_date.isoformat(),
        "trust_group_id": election.trust_group_id if group_name is not None else None,
        "trust_group": group_name,
        "status": election.status,
        "description": election.description,
        "stix_id": election.stix_id,
        "may_change": reader is not None and may_change(reader, election),
    }
