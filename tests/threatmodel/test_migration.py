"""The owner and audience backfill (migration d103899af6fb) on both databases: rows stored before it keep
exactly today's readers, and every election gets its owner."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import command

from shieldwall.store.migrate import alembic_config, upgrade

BEFORE = "a26dd154a216"


def test_backfill_owners_and_countermeasure_audiences(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), BEFORE)
    engine = sa.create_engine(database_url)
    meta = sa.MetaData()
    tables = ["ex_organisations", "ex_collections", "ex_objects", "tm_elections", "tm_techniques", "tm_countermeasures"]
    meta.reflect(engine, only=tables)
    t = meta.tables
    now = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as db:
        db.execute(
            t["ex_organisations"].insert(),
            [
                {
                    "id": 1,
                    "slug": "hub",
                    "name": "Hub",
                    "kind": "hub",
                    "is_member": True,
                    "identity_id": "identity--h",
                    "created_at": now,
                },
                {
                    "id": 2,
                    "slug": "a",
                    "name": "A",
                    "kind": "platform",
                    "is_member": True,
                    "identity_id": "identity--a",
                    "created_at": now,
                },
                {
                    "id": 3,
                    "slug": "b",
                    "name": "B",
                    "kind": "platform",
                    "is_member": True,
                    "identity_id": "identity--b",
                    "created_at": now,
                },
            ],
        )
        db.execute(
            t["ex_collections"].insert(), {"id": "c1", "alias": "x", "title": "x", "description": "", "default_tlp": 1}
        )
        version = {
            "collection_id": "c1",
            "stix_type": "x-shieldwall-election",
            "spec_version": "2.1",
            "tlp": 0,
            "is_latest": True,
            "is_first": True,
            "is_deleted": False,
            "name": "",
            "search_text": "",
            "body": "{}",
        }
        db.execute(
            t["ex_objects"].insert(),
            [  # election 1 was first published by A; a later version (B's, before ownership was enforced) is not it
                {
                    **version,
                    "pk": 1,
                    "stix_id": "x-shieldwall-election--1",
                    "modified": "1",
                    "date_added": 1,
                    "publisher_org_id": 2,
                },
                {
                    **version,
                    "pk": 2,
                    "stix_id": "x-shieldwall-election--1",
                    "modified": "2",
                    "date_added": 2,
                    "publisher_org_id": 3,
                },
            ],
        )
        election = {
            "country": "US",
            "level": "national",
            "election_date": date(2030, 1, 1),
            "status": "scheduled",
            "description": "",
            "created_at": now,
        }
        db.execute(
            t["tm_elections"].insert(),
            [
                {
                    **election,
                    "id": 1,
                    "slug": "e1",
                    "name": "E1",
                    "trust_group_id": 7,
                    "stix_id": "x-shieldwall-election--1",
                },
                {
                    **election,
                    "id": 2,
                    "slug": "e2",
                    "name": "E2",
                    "trust_group_id": None,
                    "stix_id": "x-shieldwall-election--2",
                },  # never published: the hub's
            ],
        )
        db.execute(
            t["tm_techniques"].insert(),
            {
                "id": 1,
                "external_id": "T1",
                "stix_id": "attack-pattern--1",
                "name": "t",
                "description": "",
                "url": "",
                "is_subtechnique": False,
                "is_placeholder": False,
                "stix_json": "",
            },
        )
        measure = {
            "technique_external_id": "T1",
            "description": "",
            "status": "in place",
            "org_id": 2,
            "org_name": "A",
            "member_id": None,
            "created_at": now,
        }
        db.execute(
            t["tm_countermeasures"].insert(),
            [{**measure, "id": 1, "election_id": 1, "name": "a"}, {**measure, "id": 2, "election_id": 2, "name": "b"}],
        )
    upgrade(database_url)
    with engine.begin() as db:
        owners = db.execute(sa.text("SELECT id, org_id FROM tm_elections ORDER BY id")).all()
        audiences = db.execute(sa.text("SELECT id, audience, trust_group_id FROM tm_countermeasures ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in owners] == [(1, 2), (2, 1)]
    assert [tuple(r) for r in audiences] == [(1, "trust-group", 7), (2, "members", None)]
