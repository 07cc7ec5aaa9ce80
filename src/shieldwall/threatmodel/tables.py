"""The threat model's own tables: elections, the DISARM framework (tactics, techniques) and countermeasures.

Campaigns, actors, narratives and technique mappings are STIX objects in the exchange, read through its
sharing rule; these tables only hold what is not intelligence (the calendar and the reference framework)
or what is kept per election by its working group (countermeasures).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, synonym

from shieldwall.store.base import Base, UTCDateTime, utcnow

ELECTION_LEVELS = (
    "national",
    "presidential",
    "legislative",
    "state",
    "regional",
    "municipal",
    "referendum",
    "primary",
    "european",
)
ELECTION_STATUSES = ("scheduled", "campaigning", "voting", "counting", "certified", "postponed", "cancelled")
COUNTERMEASURE_STATUSES = ("planned", "in place", "retired")
# Who reads a countermeasure besides its organisation, fixed when it is recorded (a later change of the
# election's trust group moves nobody's notes): the trust group then, every member organisation, or nobody.
COUNTERMEASURE_AUDIENCES = ("trust-group", "members", "organisation")


class Election(Base):
    __tablename__ = "tm_elections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    country: Mapped[str] = mapped_column(String(2), index=True)  # ISO 3166-1 alpha-2
    level: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    election_date: Mapped[date] = mapped_column(Date, index=True)
    # The exchange's trust group that works on this election (a plain id: no keys into other capabilities).
    trust_group_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    description: Mapped[str] = mapped_column(Text, default="")
    # The `x-shieldwall-election` STIX object campaigns point at (`campaign --targets--> election`).
    stix_id: Mapped[str] = mapped_column(String(120), unique=True)
    # The organisation that created it (the hub's for the operator's CLI): only its writers change it, and
    # it publishes the STIX object's versions (the exchange lets only an id's first publisher version it).
    org_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The one election registry: the ad library links ads to an election by its slug (an ad's
    # `election_key`) and its disclosure rules read the level. The ad library's names for both:
    key = synonym("slug")
    kind = synonym("level")


class Tactic(Base):
    __tablename__ = "tm_tactics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(16), unique=True)  # TA01...
    stix_id: Mapped[str | None] = mapped_column(String(120))
    shortname: Mapped[str] = mapped_column(String(100))  # the kill_chain_phases phase_name
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer)  # column order in the matrix


class Technique(Base):
    __tablename__ = "tm_techniques"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(16), unique=True)  # T0001, T0001.001
    stix_id: Mapped[str] = mapped_column(String(120), index=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    parent_external_id: Mapped[str | None] = mapped_column(String(16))
    is_subtechnique: Mapped[bool] = mapped_column(Boolean, default=False)
    # True for the few rows the demo creates when the framework has not been imported (ids and names only).
    is_placeholder: Mapped[bool] = mapped_column(Boolean, default=False)
    # The framework's own STIX object, republished to the exchange when a campaign first uses it.
    stix_json: Mapped[str] = mapped_column(Text, default="")


class TechniqueTactic(Base):
    """Tactic membership (a technique's kill_chain_phases)."""

    __tablename__ = "tm_technique_tactics"
    technique_id: Mapped[int] = mapped_column(ForeignKey("tm_techniques.id", ondelete="CASCADE"), primary_key=True)
    tactic_id: Mapped[int] = mapped_column(ForeignKey("tm_tactics.id", ondelete="CASCADE"), primary_key=True)


class Countermeasure(Base):
    """A countermeasure an organisation has in place (or plans) against one technique for one election."""

    __tablename__ = "tm_countermeasures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("tm_elections.id", ondelete="CASCADE"), index=True)
    technique_external_id: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="in place")
    # The owner: only this organisation's writers change it (plain ids into the exchange's directory).
    org_id: Mapped[int | None] = mapped_column(Integer)
    org_name: Mapped[str] = mapped_column(String(200), default="")
    member_id: Mapped[int | None] = mapped_column(Integer)
    audience: Mapped[str] = mapped_column(String(16), default="organisation", server_default="organisation")
    trust_group_id: Mapped[int | None] = mapped_column(Integer)  # when audience is "trust-group"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        UniqueConstraint("election_id", "technique_external_id", "org_id", "name", name="uq_tm_countermeasure"),
    )
