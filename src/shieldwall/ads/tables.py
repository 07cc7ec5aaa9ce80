"""The ad archive's tables. Append-only: an ad's current row is a cache of its newest version.

Money and reach are ranges everywhere (`*_lower`, `*_upper`; exact = equal bounds; a NULL upper is
"open-ended", as Meta's "1M+" impressions). Amounts are whole units of the ad's currency.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.store.base import Base, UTCDateTime, utcnow

# Elections are the threat model's (one registry for the whole hub): ads link to one by its slug.
from shieldwall.threatmodel.tables import Election as Election

BigId = BigInteger().with_variant(Integer, "sqlite")


class Sponsor(Base):
    """A payer, beneficiary or page owner: one entity however many spellings and ids it has."""

    __tablename__ = "ads_sponsors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SponsorAlias(Base):
    """One spelling of a sponsor's name; `name_key` is the normalised form names are merged on."""

    __tablename__ = "ads_sponsor_aliases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("ads_sponsors.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300), unique=True)


class SponsorIdentifier(Base):
    """A regulator's id for a sponsor: FEC committee id, CNPJ/CPF, a company register number..."""

    __tablename__ = "ads_sponsor_ids"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("ads_sponsors.id", ondelete="CASCADE"), index=True)
    scheme: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("scheme", "value", name="uq_ads_sponsor_ids_scheme_value"),)


class Ad(Base):
    """The newest state of one ad, denormalised for search; its history is in `ads_versions`."""

    __tablename__ = "ads_ads"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_ad_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | removed
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    page_id: Mapped[str | None] = mapped_column(String(128))
    page_name: Mapped[str | None] = mapped_column(String(300))
    funding_entity: Mapped[str | None] = mapped_column(String(500))  # the "paid for by" line as shown
    payer_name: Mapped[str | None] = mapped_column(String(300))
    payer_tax_id: Mapped[str | None] = mapped_column(String(64))
    controlling_entity: Mapped[str | None] = mapped_column(String(300))
    origin_of_funds: Mapped[str | None] = mapped_column(String(300))
    sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("ads_sponsors.id"))
    payer_sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("ads_sponsors.id"))
    page_sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("ads_sponsors.id"))

    body: Mapped[str] = mapped_column(Text, default="")
    link_url: Mapped[str | None] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text, default="")
    country: Mapped[str | None] = mapped_column(String(2))
    languages: Mapped[str | None] = mapped_column(String(100))  # space-separated ISO 639-1
    delivery_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery_stop: Mapped[datetime | None] = mapped_column(UTCDateTime)
    currency: Mapped[str | None] = mapped_column(String(3))
    spend_lower: Mapped[int | None] = mapped_column(BigInteger)
    spend_upper: Mapped[int | None] = mapped_column(BigInteger)
    impressions_lower: Mapped[int | None] = mapped_column(BigInteger)
    impressions_upper: Mapped[int | None] = mapped_column(BigInteger)
    election_key: Mapped[str | None] = mapped_column(String(80))
    declared_political: Mapped[bool] = mapped_column(Boolean, default=True)
    political_score: Mapped[float | None] = mapped_column(Float)
    undeclared_political: Mapped[bool] = mapped_column(Boolean, default=False)
    compliance: Mapped[str] = mapped_column(String(16), default="unknown")  # compliant | non_compliant | unknown
    compliance_issues: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The full document lives once, in the newest row of ads_versions.

    __table_args__ = (
        UniqueConstraint("platform", "platform_ad_id", name="uq_ads_ads_platform_ad"),
        Index("ix_ads_ads_start_id", "delivery_start", "id"),
        Index("ix_ads_ads_country_start", "country", "delivery_start", "id"),
        Index("ix_ads_ads_platform_start", "platform", "delivery_start", "id"),
        Index("ix_ads_ads_sponsor_start", "sponsor_id", "delivery_start", "id"),
        Index("ix_ads_ads_payer", "payer_sponsor_id"),
        Index("ix_ads_ads_page_sponsor", "page_sponsor_id"),
        Index("ix_ads_ads_election", "election_key", "delivery_start"),
        Index("ix_ads_ads_compliance", "compliance", "delivery_start"),
        Index("ix_ads_ads_spend", "spend_lower", "id"),
        # Search sorted by spend within a country walks this instead of filtering the global spend order.
        Index("ix_ads_ads_country_spend", "country", "spend_lower", "id"),
    )


class AdVersion(Base):
    """One observed state of an ad. Never updated: a change or a removal appends a row."""

    __tablename__ = "ads_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ad_id: Mapped[int] = mapped_column(ForeignKey("ads_ads.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # created | changed | removed | restored
    content_hash: Mapped[str] = mapped_column(String(64))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(300), default="")
    changed_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    document: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (UniqueConstraint("ad_id", "version", name="uq_ads_versions_ad_version"),)


class Delivery(Base):
    """Where and to whom an ad's money went, as ranges: one row per (ad, dimension, key).

    A share known exactly (Meta's percentages) gives spend = share x spend range; an ad targeting
    several regions with no split gives each region [0, spend_upper], which is honest.
    """

    __tablename__ = "ads_delivery"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ad_id: Mapped[int] = mapped_column(ForeignKey("ads_ads.id", ondelete="CASCADE"))
    dimension: Mapped[str] = mapped_column(String(16))  # region | demographic
    key: Mapped[str] = mapped_column(String(120))
    spend_lower: Mapped[float] = mapped_column(Float)
    spend_upper: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (
        Index("ix_ads_delivery_ad", "ad_id", "dimension"),
        Index("ix_ads_delivery_key", "dimension", "key", "ad_id"),
    )


class ImportRun(Base):
    """One `ads import`: what came in, and every row that did not, with its reason."""

    __tablename__ = "ads_import_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source_format: Mapped[str] = mapped_column(String(32))
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Recorded as "running" in its own transaction before the first row, then "finished" or "failed":
    # a run still "running" with no import alive was killed midway (its committed batches stay).
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="finished")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReportedSpend(Base):
    """A spend figure a platform reports for an advertiser, a page or a region over a period (the Meta Ad
    Library Report, Google's advertiser, weekly and geographic spend files): totals, not ads.

    One row per figure and currency; a currency is never converted into another (Google states an
    advertiser's spend in every currency it reports, so those figures must not be added together). A
    report is a snapshot of its `scope` (report, country, period): a newer import of the same scope
    replaces it. Rows are written with `current` false and switched on with the run's last statement,
    so a run that dies midway leaves the previous snapshot in place.
    """

    __tablename__ = "ads_reported_spend"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report: Mapped[str] = mapped_column(String(32))  # the import format, e.g. meta-report, google-weekly
    platform: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(200))
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    import_run_id: Mapped[int] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer)  # the row's line in the file it came from
    account_id: Mapped[str | None] = mapped_column(String(128))  # Meta page id, Google advertiser id
    name: Mapped[str | None] = mapped_column(String(300))
    disclaimer: Mapped[str | None] = mapped_column(String(500))  # the "paid for by" the platform shows
    no_disclaimer: Mapped[bool] = mapped_column(Boolean, default=False)  # ran political ads without one
    sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("ads_sponsors.id"))  # the page / advertiser
    payer_sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("ads_sponsors.id"))  # the disclaimer's
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(120))  # ISO 3166-2 subdivision, e.g. US-CA
    district: Mapped[str | None] = mapped_column(String(200))  # a secondary subdivision by name
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str | None] = mapped_column(String(3))
    spend_lower: Mapped[int] = mapped_column(BigInteger)
    spend_upper: Mapped[int | None] = mapped_column(BigInteger)
    ads_count: Mapped[int | None] = mapped_column(Integer)
    elections: Mapped[str | None] = mapped_column(String(300))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (
        Index("ix_ads_reported_spend_scope", "scope", "current"),
        Index("ix_ads_reported_spend_sponsor", "sponsor_id"),
        Index("ix_ads_reported_spend_payer", "payer_sponsor_id"),
        Index("ix_ads_reported_spend_country", "country", "no_disclaimer"),
        Index("ix_ads_reported_spend_run", "import_run_id"),
    )


# Core tables for bulk statements (typed as Table, which is what they are).
ads_table = cast(Table, Ad.__table__)
versions_table = cast(Table, AdVersion.__table__)
delivery_table = cast(Table, Delivery.__table__)
sponsors_table = cast(Table, Sponsor.__table__)
aliases_table = cast(Table, SponsorAlias.__table__)
identifiers_table = cast(Table, SponsorIdentifier.__table__)
reported_table = cast(Table, ReportedSpend.__table__)
