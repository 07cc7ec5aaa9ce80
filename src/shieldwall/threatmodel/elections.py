"""Elections: the calendar, and each election's STIX face (`x-shieldwall-election`) that campaigns target.

An election is public fact, so its STIX object is published at TLP:CLEAR in the hub-wide collection;
campaigns point at it with `relationship` objects of type `targets` (campaign -> x-shieldwall-election).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange import directory, objects
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import TrustGroup
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


class ElectionError(ValueError):
    """Bad election input; the message names the field."""


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
    if data.trust_group_id is not None and session.get(TrustGroup, data.trust_group_id) is None:
        raise ElectionError(f"trust_group_id {data.trust_group_id}: no such trust group")


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


def create_election(session: Session, data: ElectionInput, publisher: Principal | None = None) -> Election:
    """Store an election; when a member publishes it, its STIX object goes to the hub-wide collection (CLEAR)."""
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
    """Change what changes over a campaign season; the STIX object gets a new version."""
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
    return session.get(Election, election_id)


def trust_group_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(TrustGroup.id, TrustGroup.name)).tuples().all())


def election_json(election: Election, group_name: str | None = None) -> dict[str, Any]:
    return {
        "id": election.id,
        "slug": election.slug,
        "country": election.country,
        "country_name": country_name(election.country),
        "level": election.level,
        "name": election.name,
        "date": election.election_date.isoformat(),
        "trust_group_id": election.trust_group_id,
        "trust_group": group_name,
        "status": election.status,
        "description": election.description,
        "stix_id": election.stix_id,
    }
