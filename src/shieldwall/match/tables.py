"""The match capability's tables: banks of signals, the matches they produced and what was done about them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.store.base import Base, UTCDateTime, utcnow


class Bank(Base):
    """A named set of signals plus where it is synced from and what to do when something matches."""

    __tablename__ = "mat_banks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # The owner organisation (ex_organisations.id) and the member who created the bank; None for the hub's
    # own banks, set up by the operator at the console. Plain integers: the match branch of the migrations
    # does not depend on the exchange's.
    org_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped on every change to the bank's signals so in-memory indexes know when to rebuild.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    pdq_threshold: Mapped[int] = mapped_column(SmallInteger, default=31)
    text_threshold: Mapped[float] = mapped_column(Float, default=0.8)
    # TAXII 2.1 source: the API root URL, the collection (id or alias), the token, the resume cursor.
    taxii_api_root: Mapped[str] = mapped_column(String(2000), default="")
    taxii_collection: Mapped[str] = mapped_column(String(100), default="")
    taxii_token: Mapped[str] = mapped_column(Text, default="")
    taxii_cursor: Mapped[str] = mapped_column(String(40), default="")
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Actions on a match.
    label: Mapped[str] = mapped_column(String(100), default="")
    webhook_url: Mapped[str] = mapped_column(String(2000), default="")
    webhook_secret: Mapped[str] = mapped_column(String(200), default="")
    review: Mapped[bool] = mapped_column(Boolean, default=False)
    report_sightings: Mapped[bool] = mapped_column(Boolean, default=False)
    # Known-benign content (an election authority's own logos...): an item matching one of its signals
    # matches nothing else.
    negative: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Popular domains, URL shorteners and CDNs never match as domain signals (warninglists.py) unless off.
    warninglist: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    # A signal matching more distinct items than this within an hour is held for review (0: never).
    flood_limit: Mapped[int] = mapped_column(Integer, default=1000, server_default="1000")


class BankSignal(Base):
    __tablename__ = "mat_signals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("mat_banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    value_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of value: long URLs and texts stay indexable
    source_id: Mapped[str] = mapped_column(String(120), default="")
    source_modified: Mapped[str] = mapped_column(String(32), default="")
    tlp: Mapped[int] = mapped_column(SmallInteger)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    name: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Synced from this hub's own TAXII server: the hub's policy on source_id decides who sees it. Otherwise
    # (files, hand-entered values, another TAXII server) it belongs to the bank's owner with its own TLP.
    on_hub: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "value_hash", "source_id", name="uq_mat_signals_identity"),
        Index("ix_mat_signals_source", "bank_id", "source_id"),
    )


class MatchRecord(Base):
    """One match that a bank's actions ran on; it keeps a copy of the signal, which may be removed later."""

    __tablename__ = "mat_matches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("mat_banks.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(Text)  # what was submitted: a file name, a URL, an account, a text
    item_type: Mapped[str] = mapped_column(String(16))
    item_value: Mapped[str] = mapped_column(Text)  # the submitted item's hash or canonical value
    signal_type: Mapped[str] = mapped_column(String(16))
    signal_value: Mapped[str] = mapped_column(Text)
    source_id: Mapped[str] = mapped_column(String(120), default="")
    tlp: Mapped[int] = mapped_column(SmallInteger)
    on_hub: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    distance: Mapped[float] = mapped_column(Float, default=0.0)
    label: Mapped[str] = mapped_column(String(100), default="")
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    matched_by: Mapped[str] = mapped_column(String(254), default="")
    # The organisation whose content matched (the asker's at match time); None from the console for a hub bank.
    org_id: Mapped[int | None] = mapped_column(Integer, index=True)


class ReviewItem(Base):
    """A match queued for a human decision; it belongs to the organisation whose content matched."""

    __tablename__ = "mat_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int | None] = mapped_column(Integer, index=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("mat_matches.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending/confirmed/dismissed
    decided_by: Mapped[str] = mapped_column(String(254), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")


class ActionDelivery(Base):
    """A webhook call or a sighting report, with its outcome, so failures are visible and can be retried."""

    __tablename__ = "mat_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("mat_matches.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # webhook / sighting
    target: Mapped[str] = mapped_column(String(2000))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HeldSignal(Base):
    """A signal held for review after it matched too many distinct items within an hour (flood quarantine).

    Keyed by the signal's identity in its bank (type and value hash), so a re-sync does not release it;
    while pending it matches nothing. Its matches so far are kept (mat_matches)."""

    __tablename__ = "mat_held"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("mat_banks.id", ondelete="CASCADE"), index=True)
    signal_type: Mapped[str] = mapped_column(String(16))
    value_hash: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    source_id: Mapped[str] = mapped_column(String(120), default="")
    tlp: Mapped[int] = mapped_column(SmallInteger)
    on_hub: Mapped[bool] = mapped_column(Boolean, default=False)
    items: Mapped[int] = mapped_column(Integer)  # distinct items matched in the hour that tripped it
    held_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="held", index=True)  # held / released
    decided_by: Mapped[str] = mapped_column(String(254), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_mat_held_identity", "bank_id", "signal_type", "value_hash"),)
