"""The exchange's tables: who is on the hub, what they shared, with whom, and what happened to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.store.base import Base, UTCDateTime, utcnow

ORG_KINDS = ("hub", "platform", "government", "research", "civil_society", "election_authority")
ROLES = ("admin", "analyst", "reader")


class Organisation(Base):
    __tablename__ = "ex_organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    # Member organisations see TLP:GREEN; guests (e.g. a newsroom on trial) see only TLP:CLEAR.
    is_member: Mapped[bool] = mapped_column(Boolean, default=True)
    identity_id: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Member(Base):
    __tablename__ = "ex_members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("ex_organisations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # The hub operator runs the hub: reads the audit log, including sealed sources. Not a data reader.
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    # May write to the political-ad archive (imports, corrections); the hub operator may too.
    is_ad_editor: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "ex_api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("ex_members.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrustGroup(Base):
    __tablename__ = "ex_trust_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrustGroupMember(Base):
    __tablename__ = "ex_trust_group_members"
    group_id: Mapped[int] = mapped_column(ForeignKey("ex_trust_groups.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(
        ForeignKey("ex_organisations.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Collection(Base):
    __tablename__ = "ex_collections"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    default_tlp: Mapped[int] = mapped_column(SmallInteger, default=2)
    # A collection may belong to a trust group: only its organisations can use it, and TLP:AMBER objects
    # posted to it (e.g. over TAXII, which has no way to name an audience) are shared with that group.
    trust_group_id: Mapped[int | None] = mapped_column(ForeignKey("ex_trust_groups.id"))


class StixObject(Base):
    """One version of one STIX object in one collection (TAXII keys versions by id + modified)."""

    __tablename__ = "ex_objects"
    pk: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    collection_id: Mapped[str] = mapped_column(ForeignKey("ex_collections.id"))
    stix_id: Mapped[str] = mapped_column(String(120))
    stix_type: Mapped[str] = mapped_column(String(64))
    spec_version: Mapped[str] = mapped_column(String(8), default="2.1")
    # STIX timestamps kept as their canonical text (millisecond/microsecond precision preserved).
    modified: Mapped[str] = mapped_column(String(32))
    date_added: Mapped[int] = mapped_column(BigInteger)  # microseconds since the epoch, unique per collection
    tlp: Mapped[int] = mapped_column(SmallInteger)
    publisher_org_id: Mapped[int | None] = mapped_column(ForeignKey("ex_organisations.id"))
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True)
    is_first: Mapped[bool] = mapped_column(Boolean, default=True)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Relationship ends (source_ref/target_ref; sighting_of_ref for sightings), so a graph walk is one lookup.
    source_ref: Mapped[str | None] = mapped_column(String(120), index=True)
    target_ref: Mapped[str | None] = mapped_column(String(120), index=True)
    name: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("collection_id", "stix_id", "modified", name="uq_ex_objects_version"),
        Index("ix_ex_objects_page", "collection_id", "date_added", "pk"),
        Index("ix_ex_objects_stix_id", "stix_id"),
        Index("ix_ex_objects_type_added", "stix_type", "date_added"),
    )


class ObjectOwner(Base):
    """Who owns a STIX id: the organisation that first published it (the hub's, for anonymous submissions,
    whose sealed source alone may add versions). Only the owner's writers version, revoke or delete it; a
    deleted id stays deleted for everyone else."""

    __tablename__ = "ex_object_owners"
    stix_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("ex_organisations.id"))
    sealed_org_id: Mapped[int | None] = mapped_column(ForeignKey("ex_organisations.id"))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = {"sqlite_with_rowid": False}


class WebSession(Base):
    """A signed-in browser. The cookie carries a random id; only its hash is stored, so signing out (or a
    password change) ends the session for good."""

    __tablename__ = "ex_web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("ex_members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ObjectAudience(Base):
    """Who an object version was shared with: an organisation, a trust group or a named member."""

    __tablename__ = "ex_object_audience"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_pk: Mapped[int] = mapped_column(ForeignKey("ex_objects.pk", ondelete="CASCADE"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("ex_organisations.id"), index=True)
    trust_group_id: Mapped[int | None] = mapped_column(ForeignKey("ex_trust_groups.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("ex_members.id"), index=True)

    # Every sharing check is "this object, this org/group/member": one covering index answers all of them.
    __table_args__ = (Index("ix_ex_object_audience_lookup", "object_pk", "org_id", "trust_group_id", "member_id"),)


class ObjectRef(Base):
    """One entry of an object's object_refs (notes, reports, groupings, opinions), to find what refers to X."""

    __tablename__ = "ex_object_refs"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    object_pk: Mapped[int] = mapped_column(ForeignKey("ex_objects.pk", ondelete="CASCADE"), index=True)
    ref: Mapped[str] = mapped_column(String(120), index=True)


class SealedSource(Base):
    """The true source of an anonymous submission. Read only by the hub operator's audit tools."""

    __tablename__ = "ex_sealed_sources"
    object_pk: Mapped[int] = mapped_column(ForeignKey("ex_objects.pk", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("ex_organisations.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("ex_members.id"))


class Status(Base):
    __tablename__ = "ex_statuses"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    collection_id: Mapped[str] = mapped_column(String(36))
    member_id: Mapped[int] = mapped_column(ForeignKey("ex_members.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    request_timestamp: Mapped[str] = mapped_column(String(32))
    total_count: Mapped[int] = mapped_column(Integer)
    success_count: Mapped[int] = mapped_column(Integer)
    failure_count: Mapped[int] = mapped_column(Integer)
    pending_count: Mapped[int] = mapped_column(Integer)
    successes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class Sighting(Base):
    __tablename__ = "ex_sightings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sighting_id: Mapped[str] = mapped_column(String(120), unique=True)
    sighting_of: Mapped[str] = mapped_column(String(120), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("ex_organisations.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("ex_members.id"))
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Opinion(Base):
    __tablename__ = "ex_opinions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_id: Mapped[str] = mapped_column(String(120), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("ex_organisations.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("ex_members.id"))
    verdict: Mapped[str] = mapped_column(String(20))
    explanation: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("object_id", "member_id", name="uq_ex_opinions_object_member"),)


class AuditEntry(Base):
    __tablename__ = "ex_audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    member_id: Mapped[int | None] = mapped_column(Integer, index=True)
    org_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200), default="")
    tlp: Mapped[int | None] = mapped_column(SmallInteger)
    # Sealed entries (the true source of anonymous submissions) are for the hub operator only.
    sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Webhook(Base):
    __tablename__ = "ex_webhooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("ex_organisations.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(128))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "ex_webhook_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("ex_webhooks.id", ondelete="CASCADE"), index=True)
    object_ids: Mapped[list[str]] = mapped_column(JSON)
    status_code: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
