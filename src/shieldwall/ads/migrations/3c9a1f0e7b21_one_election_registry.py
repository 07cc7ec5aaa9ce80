"""one election registry: the ad library's elections move into the threat model's (tm_elections)

Revision ID: 3c9a1f0e7b21
Revises: 11e5d7771733
Create Date: 2026-11-30 00:30:00

An election is one thing: ads link to the threat model's elections by slug (an ad's election_key), so
every row of ads_elections becomes a tm_elections row with its key as slug (unless that slug exists
already), owned by the hub as the operator's command line made it, and ads_elections goes.
"""

import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

import shieldwall.store.base

revision = "3c9a1f0e7b21"
down_revision = "11e5d7771733"
branch_labels = None
depends_on = "d103899af6fb"  # tm_elections with its owner column

ELECTION_NAMESPACE = uuid.UUID("0c7f3c5e-9a1b-4f7e-8c33-7d3f0b0f2a11")  # as shieldwall.threatmodel.elections
LEVELS = ("national", "presidential", "legislative", "state", "regional", "municipal", "referendum", "primary", "european")
KIND_TO_LEVEL = {"general": "national", "local": "municipal"}

tm_elections = sa.table(
    "tm_elections",
    sa.column("slug", sa.String),
    sa.column("country", sa.String),
    sa.column("level", sa.String),
    sa.column("name", sa.String),
    sa.column("election_date", sa.Date),
    sa.column("status", sa.String),
    sa.column("description", sa.Text),
    sa.column("stix_id", sa.String),
    sa.column("org_id", sa.Integer),
    sa.column("created_at", shieldwall.store.base.UTCDateTime),
)


def _day(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])  # SQLite keeps datetimes as text


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT key, name, country, kind, election_date FROM ads_elections")).all()
    if rows:
        existing = {slug for (slug,) in conn.execute(sa.text("SELECT slug FROM tm_elections"))}
        hub = conn.execute(sa.text("SELECT min(id) FROM ex_organisations WHERE kind = 'hub'")).scalar()
        now = datetime.now(UTC)
        moved = [
            {
                "slug": key,
                "country": (country or "").upper()[:2],
                "level": level if (level := KIND_TO_LEVEL.get(kind, kind)) in LEVELS else "national",
                "name": name[:200],
                "election_date": _day(when),
                "status": "scheduled",
                "description": "",
                "stix_id": f"x-shieldwall-election--{uuid.uuid5(ELECTION_NAMESPACE, key)}",
                "org_id": hub,
                "created_at": now,
            }
            for key, name, country, kind, when in rows
            if key not in existing
        ]
        if moved:
            op.bulk_insert(tm_elections, moved)
    op.drop_table("ads_elections")


def downgrade() -> None:
    op.create_table(
        "ads_elections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("election_date", shieldwall.store.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ads_elections")),
        sa.UniqueConstraint("key", name=op.f("uq_ads_elections_key")),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT slug, name, country, level, election_date FROM tm_elections")).all()
    ads_elections = sa.table(
        "ads_elections",
        sa.column("key", sa.String),
        sa.column("name", sa.String),
        sa.column("country", sa.String),
        sa.column("kind", sa.String),
        sa.column("election_date", shieldwall.store.base.UTCDateTime),
    )
    back = {v: k for k, v in KIND_TO_LEVEL.items()}
    if rows:
        op.bulk_insert(
            ads_elections,
            [
                {
                    "key": slug,
                    "name": name,
                    "country": country,
                    "kind": back.get(level, level),
                    "election_date": datetime.combine(_day(day), datetime.min.time(), tzinfo=UTC),
                }
                for slug, name, country, level, day in rows
            ],
        )
