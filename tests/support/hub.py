"""A small hub for tests: organisations on each side of every sharing rule, with tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shieldwall.exchange import directory
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from shieldwall.store.migrate import upgrade


@dataclass
class Hub:
    tokens: dict[str, str] = field(default_factory=dict)  # who -> API token
    member_ids: dict[str, int] = field(default_factory=dict)
    org_ids: dict[str, int] = field(default_factory=dict)
    group_id: int = 0
    collection_id: str = ""  # hub-wide collection
    group_collection_id: str = ""  # owned by the trust group
    passwords: dict[str, str] = field(default_factory=dict)


PEOPLE = {
    # who: (organisation slug, role)
    "chirp": ("chirp", "analyst"),  # platform, in the trust group
    "chirp_reader": ("chirp", "reader"),
    "chirp_colleague": ("chirp", "analyst"),
    "agency": ("agency", "analyst"),  # government, in the trust group
    "agency_admin": ("agency", "admin"),
    "lab": ("lab", "analyst"),  # research, member, not in the group
    "guest": ("newsroom", "analyst"),  # guest organisation: CLEAR only
    "operator": ("hub", "admin"),
}


def seed_hub(database: Database) -> Hub:
    hub = Hub()
    with database.session() as session:
        hub_org = directory.ensure_hub(session, "Test hub")
        orgs = {
            "hub": hub_org,
            "chirp": directory.create_org(session, "Chirp", "platform", "US"),
            "agency": directory.create_org(session, "Election Security Agency", "government", "US", slug="agency"),
            "lab": directory.create_org(session, "Disinfo Lab", "research", "DE", slug="lab"),
            "newsroom": directory.create_org(session, "Newsroom", "civil_society", "FR", is_member=False),
        }
        hub.org_ids = {slug: org.id for slug, org in orgs.items()}
        group = directory.create_trust_group(
            session, "US 2026 working group", "", [orgs["chirp"].id, orgs["agency"].id], slug="us-2026"
        )
        hub.group_id = group.id
        hub.collection_id = directory.collection_by_alias(session, directory.DEFAULT_COLLECTION_ALIAS).id
        hub.group_collection_id = directory.create_collection(
            session, "us-2026", "US 2026", "", TLP.AMBER, trust_group_id=group.id
        ).id
        for who, (org_slug, role) in PEOPLE.items():
            password = f"pw-{who}-{uuid.uuid4().hex[:6]}"
            member = directory.create_member(
                session,
                orgs[org_slug],
                f"{who}@example.org",
                who,
                role,
                password=password,
                is_operator=who == "operator",
            )
            token, _ = directory.create_token(session, member, "tests")
            hub.tokens[who] = token
            hub.member_ids[who] = member.id
            hub.passwords[who] = password
    return hub


def indicator(value: str, tlp: TLP | None = None, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-10-01T10:00:00.000Z",
        "modified": "2026-10-01T10:00:00.000Z",
        "name": f"Known disinformation URL {value}",
        "pattern": f"[url:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": "2026-10-01T10:00:00Z",
        **extra,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [tlp.marking_id]
    return obj


def seeded_sqlite(folder: Path) -> tuple[str, Hub]:
    """(URL, hub) of a new, migrated SQLite database in folder with the test hub in it, for a server in
    another process or one started by the test itself."""
    url = f"sqlite:///{folder / 'hub.db'}"
    upgrade(url)
    database = Database(url)
    try:
        return url, seed_hub(database)
    finally:
        database.dispose()
