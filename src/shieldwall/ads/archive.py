"""The append-only archive: every import either creates an ad, adds a version to it, or notes it
unchanged. Removals are versions too (with their date), so nothing disappears silently.

Writing is split in two so a bulk import leaves room for the hub beside it: `Archive.plan` reads and
computes everything (no writes, no write lock), `write_plan` writes it in a short transaction. Between
the two another writer may change what the plan read, so the write first takes the archive's write
lock (`lock_archive`) and compares `archive_stamp` with the one the plan was made against; if they
differ the plan is made again under the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from shieldwall.ads.bulk import bulk_insert
from shieldwall.ads.disclosure import ElectionDate, evaluate
from shieldwall.ads.document import changed_fields, classifier_text, content_hash, search_text
from shieldwall.ads.sponsors import SponsorResolver
from shieldwall.ads.tables import (
    Ad,
    AdVersion,
    Election,
    ImportRun,
    ads_table,
    aliases_table,
    delivery_table,
    identifiers_table,
    sponsors_table,
    versions_table,
)
from shieldwall.store.base import utcnow

Scorer = Callable[[list[str]], Any]  # texts -> probabilities (a NumPy array or a sequence)
POLITICAL_THRESHOLD = 0.5


@dataclass
class IngestStats:
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: IngestStats) -> None:
        self.created += other.created
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.removed += other.removed
        self.problems += other.problems


def _when(value: str | None) -> datetime | None:
    return _parsed_when(value) if value else None


@lru_cache(maxsize=100_000)
def _parsed_when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def load_elections(session: Session) -> list[ElectionDate]:
    rows = session.execute(select(Election.key, Election.country, Election.kind, Election.election_date))
    return [ElectionDate(k, c, kind, d) for k, c, kind, d in rows]


def _allocate_ad_ids(session: Session, count: int) -> list[int]:
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # The id sequence hands out a block so concurrent imports never collide.
        rows = session.execute(text("SELECT nextval('ads_ads_id_seq') FROM generate_series(1, :n)"), {"n": count})
        return [r[0] for r in rows]
    # SQLite: valid while the archive stamp (which holds the largest id) is unchanged, checked under the lock.
    start = (session.scalar(select(func.max(Ad.id))) or 0) + 1
    return list(range(start, start + count))


# pg_advisory_xact_lock key of the archive's writers ("ADSW").
ARCHIVE_LOCK_KEY = 0x41445357


def lock_archive(session: Session) -> None:
    """Take the archive's write lock until the transaction ends, as its first statement.

    SQLite: a no-op write takes the database's write lock (waiting through busy_timeout); being the first
    statement, it also starts the transaction's snapshot after every earlier commit. PostgreSQL: an
    advisory lock that only the archive's writers take, so the hub's other writers never wait for it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ARCHIVE_LOCK_KEY})
    else:
        session.execute(update(ImportRun).where(ImportRun.id == 0).values(status=ImportRun.status))


Stamp = tuple[Any, ...]


def archive_stamp(session: Session) -> Stamp:
    """The largest id of every table a plan reads, in one query. Any change a plan depends on adds a row to
    one of them: a new or changed ad (or a removal) adds a version, and a new sponsor, spelling or id adds
    an alias or an identifier row; ids only grow."""
    tables = (ads_table, versions_table, sponsors_table, aliases_table, identifiers_table)
    return tuple(session.execute(select(*(select(func.max(t.c.id)).scalar_subquery() for t in tables))).one())


class NeedsWriteLock(Exception):
    """Planning without the write lock hit a step that writes (merging two stored sponsors)."""


class _PlanningSponsors(SponsorResolver):
    """A resolver that refuses to write while planning outside the lock."""

    read_only = False

    def merge(self, keep: int, gone: int) -> None:
        if self.read_only and gone not in self.pending_sponsors:
            raise NeedsWriteLock(f"sponsor {gone} is merged into {keep}")
        super().merge(keep, gone)


@dataclass
class Plan:
    """Everything one batch writes, made by `Archive.plan` against the archive as of `stamp`."""

    stats: IngestStats
    stamp: Stamp
    sponsors: list[dict[str, Any]] = field(default_factory=list)
    aliases: list[dict[str, Any]] = field(default_factory=list)
    identifiers: list[dict[str, Any]] = field(default_factory=list)
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    replaced_deliveries: list[int] = field(default_factory=list)  # ads whose delivery rows are rewritten


def write_plan(session: Session, plan: Plan) -> None:
    """Write a plan; the caller holds the archive's write lock and has checked the plan's stamp."""
    for i in range(0, len(plan.replaced_deliveries), 500):
        chunk = plan.replaced_deliveries[i : i + 500]
        session.execute(delivery_table.delete().where(delivery_table.c.ad_id.in_(chunk)))
    bulk_insert(session, sponsors_table, plan.sponsors)
    bulk_insert(session, aliases_table, plan.aliases)
    bulk_insert(session, identifiers_table, plan.identifiers)
    bulk_insert(session, ads_table, plan.inserts)
    if plan.updates:
        columns = [k[2:] for k in plan.updates[0] if k not in ("b_id", "b_first_seen_at")]
        values: dict[str, Any] = {c: bindparam(f"b_{c}") for c in columns}
        statement = update(ads_table).where(ads_table.c.id == bindparam("b_id")).values(values)
        session.connection().execute(statement, plan.updates)
    if plan.seen:
        statement = (
            update(ads_table).where(ads_table.c.id == bindparam("b_id")).values(last_seen_at=bindparam("b_seen"))
        )
        session.connection().execute(statement, plan.seen)
    bulk_insert(session, versions_table, plan.versions)
    bulk_insert(session, delivery_table, plan.deliveries)


def latest_documents(documents: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """One document per ad (the same ad twice in a batch: the later row is the newer state), and how many
    rows were left out as repeats."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in documents:
        latest[(doc["platform"], doc["platform_ad_id"])] = doc
    return list(latest.values()), len(documents) - len(latest)


class Archive:
    """Ingests normalised documents in batches: `ingest` in the caller's transaction, or `plan` outside any
    write transaction (read_only) and `write_plan` later in a short one."""

    def __init__(
        self, session: Session, scorer: Scorer | None = None, source: str = "", *, read_only: bool = False
    ) -> None:
        self.session = session
        self.scorer = scorer
        self.source = source
        self.sponsors = _PlanningSponsors(session)
        self.sponsors.read_only = read_only
        self.elections = load_elections(session)

    def ingest(self, documents: list[dict[str, Any]], observed_at: datetime | None = None) -> IngestStats:
        """Plan and write in the caller's transaction, under the archive's write lock from the start."""
        lock_archive(self.session)
        plan = self.plan(documents, observed_at)
        write_plan(self.session, plan)
        return plan.stats

    def plan(self, documents: list[dict[str, Any]], observed_at: datetime | None = None) -> Plan:
        """What writing `documents` takes, computed by reading only (unless a sponsor merge needs a write:
        read_only raises NeedsWriteLock then)."""
        observed_at = observed_at or utcnow()
        stats = IngestStats()
        stamp = archive_stamp(self.session)  # before the reads: a change after it shows in the write's stamp
        unique, repeated = latest_documents(documents)
        stats.unchanged += repeated
        latest = {(doc["platform"], doc["platform_ad_id"]): doc for doc in unique}
        existing = self._existing(list(latest))
        scores = self._scores(list(latest.values()))
        self.sponsors.prefetch(
            [(d["funding_entity"], d["sponsor_ids"]) for d in latest.values()]
            + [(d["payer_name"], d["payer_ids"]) for d in latest.values()]
            + [(d["page_name"], self._page_ids(d)) for d in latest.values()]
        )
        new_keys = [k for k in latest if k not in existing]
        ids = dict(zip(new_keys, _allocate_ad_ids(self.session, len(new_keys)), strict=True))
        inserts, updates, versions, deliveries, seen, replaced = [], [], [], [], [], []
        for position, (key, doc) in enumerate(latest.items()):
            digest = content_hash(doc)
            removed_at = _when(doc.get("removed_at"))
            row = existing.get(key)
            if row is None:
                ad_id = ids[key]
                inserts.append(self._ad_row(ad_id, doc, digest, 1, observed_at, scores[position], observed_at))
                versions.append(self._version(ad_id, 1, "created", digest, observed_at, [], doc))
                deliveries += self._deliveries(ad_id, doc)
                stats.created += 1
                if removed_at is not None:
                    versions.append(self._version(ad_id, 2, "removed", digest, removed_at, [], doc))
                    inserts[-1].update(version=2, status="removed", removed_at=removed_at)
                    stats.removed += 1
                continue
            ad_id, old_hash, old_version, old_status, old_doc = row
            was_removed = old_status == "removed"
            if old_hash == digest and (removed_at is not None) != was_removed:
                pass  # fall through: same content, only the removal state changed
            elif old_hash == digest:
                seen.append({"b_id": ad_id, "b_seen": observed_at})
                stats.unchanged += 1
                continue
            version = old_version + 1
            if old_hash != digest:
                kind = "restored" if was_removed and removed_at is None else "changed"
                versions.append(
                    self._version(ad_id, version, kind, digest, observed_at, changed_fields(old_doc, doc), doc)
                )
                stats.changed += 1
                deliveries += self._deliveries(ad_id, doc)
                replaced.append(ad_id)
            elif was_removed:
                versions.append(self._version(ad_id, version, "restored", digest, observed_at, [], doc))
                stats.changed += 1
            if removed_at is not None and not was_removed:
                if old_hash != digest:
                    version += 1
                versions.append(self._version(ad_id, version, "removed", digest, removed_at, [], doc))
                stats.removed += 1
            first_seen = None
            new_row = self._ad_row(ad_id, doc, digest, version, observed_at, scores[position], first_seen)
            new_row.update(status="removed" if removed_at else "active", removed_at=removed_at)
            updates.append({f"b_{k}": v for k, v in new_row.items()})
        if self.sponsors.merged:
            # A merge during this batch: rows built before it still name the merged-away sponsor.
            for built in inserts:
                for column in ("sponsor_id", "payer_sponsor_id", "page_sponsor_id"):
                    built[column] = self.sponsors.canonical(built[column])
            for built in updates:
                for column in ("b_sponsor_id", "b_payer_sponsor_id", "b_page_sponsor_id"):
                    built[column] = self.sponsors.canonical(built[column])
        resolver = self.sponsors
        plan = Plan(
            stats,
            stamp,
            sponsors=list(resolver.pending_sponsors.values()),
            aliases=resolver.pending_aliases,
            identifiers=resolver.pending_ids,
            inserts=inserts,
            updates=updates,
            seen=seen,
            versions=versions,
            deliveries=deliveries,
            replaced_deliveries=replaced,
        )
        resolver.pending_sponsors, resolver.pending_aliases, resolver.pending_ids = {}, [], []
        return plan

    def _existing(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[Any, ...]]:
        found: dict[tuple[str, str], tuple[Any, ...]] = {}
        by_platform: dict[str, list[str]] = {}
        for platform, ad_id in keys:
            by_platform.setdefault(platform, []).append(ad_id)
        for platform, ad_ids in by_platform.items():
            for i in range(0, len(ad_ids), 5000):
                rows = self.session.execute(
                    select(Ad.platform_ad_id, Ad.id, Ad.content_hash, Ad.version, Ad.status, AdVersion.document)
                    .join(AdVersion, and_(AdVersion.ad_id == Ad.id, AdVersion.version == Ad.version))
                    .where(Ad.platform == platform, Ad.platform_ad_id.in_(ad_ids[i : i + 5000]))
                )
                for ad_key, *rest in rows:
                    found[(platform, ad_key)] = tuple(rest)
        return found

    def _scores(self, docs: list[dict[str, Any]]) -> list[float | None]:
        if self.scorer is None or not docs:
            return [None] * len(docs)
        return [float(s) for s in self.scorer([classifier_text(d) for d in docs])]

    @staticmethod
    def _page_ids(doc: dict[str, Any]) -> dict[str, str]:
        if doc.get("page_id") and doc["platform"] in ("meta", "facebook", "instagram"):
            return {"meta_page": doc["page_id"]}
        if doc.get("page_id") and doc["platform"] == "google":
            return {"google_advertiser": doc["page_id"]}
        return {}

    def _ad_row(
        self,
        ad_id: int,
        doc: dict[str, Any],
        digest: str,
        version: int,
        observed_at: datetime,
        score: float | None,
        first_seen: datetime | None,
    ) -> dict[str, Any]:
        status, issues = evaluate(doc, self.elections)
        # Unknown spend or reach is the range [0, unbounded): honest, and it sorts and sums as a range.
        spend = doc.get("spend") or [0, None]
        impressions = doc.get("impressions") or [0, None]
        payer_ids = doc.get("payer_ids") or {}
        row = {
            "id": ad_id,
            "platform": doc["platform"],
            "platform_ad_id": doc["platform_ad_id"],
            "version": version,
            "content_hash": digest,
            "status": "active",
            "removed_at": None,
            "last_seen_at": observed_at,
            "page_id": doc.get("page_id"),
            "page_name": (doc.get("page_name") or None) and doc["page_name"][:300],
            "funding_entity": (doc.get("funding_entity") or None) and doc["funding_entity"][:500],
            "payer_name": (doc.get("payer_name") or None) and doc["payer_name"][:300],
            "payer_tax_id": payer_ids.get("cnpj") or payer_ids.get("cpf") or payer_ids.get("tax_id"),
            "controlling_entity": doc.get("controlling_entity"),
            "origin_of_funds": doc.get("origin_of_funds"),
            "sponsor_id": self.sponsors.resolve(doc.get("funding_entity"), doc.get("sponsor_ids"), doc.get("country")),
            "payer_sponsor_id": self.sponsors.resolve(doc.get("payer_name"), payer_ids, doc.get("country")),
            "page_sponsor_id": self.sponsors.resolve(doc.get("page_name"), self._page_ids(doc), doc.get("country")),
            "body": doc.get("body") or "",
            "link_url": doc.get("link_url"),
            "search_text": search_text(doc),
            "country": doc.get("country"),
            "languages": " ".join(doc.get("languages") or []) or None,
            "delivery_start": _when(doc.get("delivery_start")),
            "delivery_stop": _when(doc.get("delivery_stop")),
            "currency": doc.get("currency"),
            "spend_lower": spend[0],
            "spend_upper": spend[1],
            "impressions_lower": impressions[0],
            "impressions_upper": impressions[1],
            "election_key": doc.get("election_key"),
            "declared_political": bool(doc.get("declared_political", True)),
            "political_score": score,
            "undeclared_political": bool(
                score is not None and score >= POLITICAL_THRESHOLD and not doc.get("declared_political", True)
            ),
            "compliance": status,
            "compliance_issues": issues,
        }
        if first_seen is not None:
            row["first_seen_at"] = first_seen
        return row

    def _version(
        self,
        ad_id: int,
        version: int,
        kind: str,
        digest: str,
        observed_at: datetime,
        changed: list[str],
        doc: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "ad_id": ad_id,
            "version": version,
            "kind": kind,
            "content_hash": digest,
            "observed_at": observed_at,
            "source": self.source[:300],
            "changed_fields": changed,
            "document": doc,
        }

    @staticmethod
    def _deliveries(ad_id: int, doc: dict[str, Any]) -> list[dict[str, Any]]:
        spend = doc.get("spend") or [0, None]
        lower, upper = spend[0] or 0, spend[1]
        rows = []
        for dimension, items in (("region", doc.get("regions") or []), ("demographic", doc.get("demographics") or [])):
            for item in items:
                share_lo, share_hi = item["share"]
                rows.append(
                    {
                        "ad_id": ad_id,
                        "dimension": dimension,
                        "key": str(item["key"])[:120],
                        "spend_lower": lower * share_lo,
                        "spend_upper": None if upper is None else upper * share_hi,
                    }
                )
        return rows


def missing_ad_ids(session: Session, platforms: list[str], seen_since: datetime) -> list[int]:
    """Active ads of those platforms not seen since `seen_since` (read only; mark_missing_removed checks
    each again under the lock)."""
    query = select(Ad.id).where(Ad.platform.in_(platforms), Ad.status == "active", Ad.last_seen_at < seen_since)
    return list(session.scalars(query.order_by(Ad.id)))


def mark_missing_removed(
    session: Session, platforms: list[str], seen_since: datetime, removed_at: datetime, ids: list[int] | None = None
) -> int:
    """After a full snapshot import: ads of those platforms that the snapshot no longer lists were
    taken down. Each gets a 'removed' version dated `removed_at`; its content stays readable.
    `ids` limits it to those ads (a bulk import removes in short transactions, a few hundred at a time)."""
    lock_archive(session)
    query = (
        select(Ad.id, Ad.version, Ad.content_hash, AdVersion.document)
        .join(AdVersion, and_(AdVersion.ad_id == Ad.id, AdVersion.version == Ad.version))
        .where(Ad.platform.in_(platforms), Ad.status == "active", Ad.last_seen_at < seen_since)
    )
    if ids is not None:
        query = query.where(Ad.id.in_(ids))
    rows = session.execute(query).all()
    if not rows:
        return 0
    session.execute(
        versions_table.insert(),
        [
            {
                "ad_id": ad_id,
                "version": version + 1,
                "kind": "removed",
                "content_hash": digest,
                "observed_at": removed_at,
                "source": "absent from snapshot",
                "changed_fields": [],
                "document": doc,
            }
            for ad_id, version, digest, doc in rows
        ],
    )
    session.connection().execute(
        update(ads_table)
        .where(ads_table.c.id == bindparam("b_id"))
        .values(status="removed", removed_at=removed_at, version=bindparam("b_version")),
        [{"b_id": ad_id, "b_version": version + 1} for ad_id, version, _, _ in rows],
    )
    return len(rows)
