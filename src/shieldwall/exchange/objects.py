"""Storing and reading STIX objects. Every read goes through `policy.visible_to`; every write is audited.

Other capabilities publish and read through these functions (or over TAXII), never through the tables.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from sqlalchemy import ColumnElement, Table, exists, func, insert, literal, or_, select, tuple_, update
from sqlalchemy.orm import Session

from shieldwall.exchange import ownership
from shieldwall.exchange.audit import record
from shieldwall.exchange.policy import Principal, visible_to
from shieldwall.exchange.tables import (
    Collection,
    ObjectAudience,
    ObjectOwner,
    ObjectRef,
    SealedSource,
    Sighting,
    StixObject,
    TrustGroupMember,
)
from shieldwall.stix import timestamps
from shieldwall.stix.tlp import TLP, granular_tlp, tlp_of, with_tlp
from shieldwall.stix.validate import validate_objects

# Properties whose text is worth finding in a search.
SEARCHABLE = ("name", "description", "pattern", "value", "account_login", "display_name", "aliases", "labels")


@dataclass(frozen=True)
class Sharing:
    """How a submission is shared. tlp=None keeps each object's own marking (else the collection default);
    a given tlp applies to unmarked objects and never loosens a stricter marking an object carries."""

    tlp: TLP | None = None
    org_ids: Sequence[int] = ()
    trust_group_ids: Sequence[int] = ()
    member_ids: Sequence[int] = ()
    anonymous: bool = False


@dataclass
class IngestResult:
    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    stored_pks: list[int] = field(default_factory=list)


class SharingError(ValueError):
    """The sharing choice is impossible (e.g. TLP:RED with nobody named)."""


def _search_text(obj: dict[str, Any]) -> str:
    parts: list[str] = []
    for key in SEARCHABLE:
        value = obj.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(v for v in value if isinstance(v, str))
    return " ".join(parts)[:4000].lower()


def _anonymise(obj: dict[str, Any], hub_identity: str, source_identity: str) -> dict[str, Any] | None:
    """Replace every trace of the source's identity by the hub's. Drops the source's identity object."""
    if obj.get("id") == source_identity:
        return None
    text = orjson.dumps(obj).decode()
    if source_identity and source_identity in text:
        obj = json.loads(text.replace(source_identity, hub_identity))
    obj = dict(obj)
    obj["created_by_ref"] = hub_identity
    return obj


def lock_collection(session: Session, collection: Collection) -> None:
    """Serialise writers of one collection until commit, before date_added is stamped.

    A poller reads "everything added after the last date_added I saw": that is complete only if rows become
    visible in date_added order, i.e. no transaction commits a smaller date_added after a larger one is visible.
    A no-op write takes the collection's row lock on PostgreSQL (held to commit) and SQLite's write lock (the
    transaction's first statement, so its snapshot cannot go stale)."""
    session.execute(
        update(Collection).where(Collection.id == collection.id).values(default_tlp=Collection.default_tlp)
    )


def _next_date_added(session: Session, collection_id: str) -> int:
    last = session.scalar(select(func.max(StixObject.date_added)).where(StixObject.collection_id == collection_id))
    # Strictly after the newest row, so paging by date_added never skips or repeats one.
    return max(int(time.time() * 1_000_000), (last or 0) + 1)


def _audience_rows(
    session: Session, principal: Principal, level: TLP, sharing: Sharing, collection: Collection
) -> list[dict[str, int | None]]:
    orgs = set(sharing.org_ids)
    groups = set(sharing.trust_group_ids)
    # An anonymous source gains nothing: its organisation is not added to the audience.
    source_org = 0 if sharing.anonymous else principal.org_id or 0
    if level == TLP.AMBER:
        if not orgs and not groups and collection.trust_group_id is not None:
            groups.add(collection.trust_group_id)
        orgs.add(source_org)
        return [{"org_id": o, "trust_group_id": None, "member_id": None} for o in sorted(orgs) if o] + [
            {"org_id": None, "trust_group_id": g, "member_id": None} for g in sorted(groups)
        ]
    if level == TLP.AMBER_STRICT:
        if not orgs and not groups and collection.trust_group_id is not None:
            groups.add(collection.trust_group_id)
        if groups:  # frozen now: organisations that join the group later do not see it
            orgs.update(
                session.scalars(select(TrustGroupMember.org_id).where(TrustGroupMember.group_id.in_(groups))).all()
            )
        orgs.add(source_org)
        return [{"org_id": o, "trust_group_id": None, "member_id": None} for o in sorted(orgs) if o]
    if level == TLP.RED:
        members = set(sharing.member_ids)
        if not sharing.anonymous:
            members.add(principal.member_id or 0)
        return [{"org_id": None, "trust_group_id": None, "member_id": m} for m in sorted(members) if m]
    return []


def ingest(
    session: Session,
    principal: Principal,
    collection: Collection,
    objects: Sequence[Any],
    sharing: Sharing = Sharing(),
) -> IngestResult:
    """Validate and store a submission. Invalid objects, and objects the submitter may not write (another's id,
    a reserved id, a spoofed attribution, a reference to what it may not read: see `ownership`), are reported
    and skipped; the rest is stored in the caller's transaction (all or nothing for the valid part).
    Re-posting a stored version is a success."""
    if principal.org_id is None or principal.member_id is None:
        raise PermissionError("only members can share")
    result = IngestResult()
    valid, invalid = validate_objects(list(objects))
    for bad in invalid:
        result.failures.append({"id": bad.object_id, "message": bad.reason})
    if not valid:
        return result

    who = ownership.submitter_for(session, principal, sharing.anonymous)
    marked: list[tuple[dict[str, Any], TLP]] = []
    for obj in valid:
        if sharing.anonymous:
            anonymised = _anonymise(obj, who.hub_identity, who.own_identity)
            if anonymised is None:
                continue
            obj = anonymised
        # The strictest of the object's own marking (granular ones included: a part marked RED makes the whole
        # object RED, since the hub cannot hand out half an object) and the sharing choice; else the default.
        own = tlp_of(obj)
        chosen = [level for level in (own, granular_tlp(obj), sharing.tlp) if level is not None]
        level = max(chosen) if chosen else TLP(collection.default_tlp)
        if own != level:
            obj = with_tlp(obj, level)
        marked.append((obj, level))
    levels_used = {level for _, level in marked}
    if sharing.anonymous:
        if TLP.RED in levels_used and not sharing.member_ids:
            raise SharingError("an anonymous TLP:RED submission must name its recipients")
        if levels_used & {TLP.AMBER, TLP.AMBER_STRICT} and not (
            sharing.org_ids or sharing.trust_group_ids or collection.trust_group_id
        ):
            raise SharingError(
                "an anonymous TLP:AMBER submission must name organisations or trust groups (its source is not "
                "added to the audience)"
            )

    lock_collection(session, collection)
    screening = ownership.screen(session, who, [obj for obj, _ in marked])
    result.failures.extend(screening.failures)
    for obj in screening.acknowledged:
        result.successes.append({"id": obj["id"], "version": str(obj.get("modified") or obj.get("created") or "")})
    accepted = {id(obj) for obj in screening.accepted}
    prepared = [(obj, timestamps.version_of(obj), level) for obj, level in marked if id(obj) in accepted]

    ids = sorted({obj["id"] for obj, _, _ in prepared})
    existing: dict[tuple[str, str], tuple[int, bool]] = {}
    latest: dict[str, str] = {}
    for chunk in _chunks(ids, 500):
        rows = session.execute(
            select(StixObject.stix_id, StixObject.modified, StixObject.pk, StixObject.is_deleted).where(
                StixObject.collection_id == collection.id, StixObject.stix_id.in_(chunk)
            )
        ).all()
        for stix_id, modified, pk, deleted in rows:
            existing[(stix_id, modified)] = (pk, deleted)
            if not deleted and modified > latest.get(stix_id, ""):
                latest[stix_id] = modified

    date_added = _next_date_added(session, collection.id)
    new_rows: list[dict[str, Any]] = []
    levels: list[TLP] = []
    seen_in_batch: set[tuple[str, str]] = set()
    restored: set[str] = set()
    first_versions: set[str] = {stix_id for stix_id, _ in existing}
    for obj, version, level in prepared:
        key = (obj["id"], version)
        given = obj.get("modified") or obj.get("created")  # the version as the submitter wrote it
        result.successes.append(
            {"id": obj["id"], "version": given if isinstance(given, str) else timestamps.display(version)}
        )
        if key in seen_in_batch or (key in existing and not existing[key][1]):
            continue  # the same version again: idempotent
        seen_in_batch.add(key)
        if key in existing:  # a deleted version posted again by its owner comes back, as newly added
            session.execute(
                update(StixObject)
                .where(StixObject.pk == existing[key][0])
                .values(is_deleted=False, date_added=date_added, is_latest=False)
            )
            restored.add(obj["id"])
            date_added += 1
            continue
        is_latest = version > latest.get(obj["id"], "")
        if is_latest:
            latest[obj["id"]] = version
        new_rows.append(
            {
                "collection_id": collection.id,
                "stix_id": obj["id"],
                "stix_type": obj["type"],
                "spec_version": obj.get("spec_version", "2.1"),
                "modified": version,
                "date_added": date_added,
                "tlp": int(level),
                "publisher_org_id": None if sharing.anonymous else principal.org_id,
                "is_latest": is_latest,
                "is_first": obj["id"] not in first_versions,
                "is_deleted": False,
                "source_ref": obj.get("source_ref") or obj.get("sighting_of_ref"),
                "target_ref": obj.get("target_ref"),
                "name": str(obj.get("name") or obj.get("value") or "")[:500],
                "search_text": _search_text(obj),
                "body": orjson.dumps(obj).decode(),
            }
        )
        levels.append(level)
        first_versions.add(obj["id"])
        date_added += 1
    if restored:
        refresh_latest(session, collection.id, restored)
    if not new_rows:
        return result

    # Versions that lost "latest" to one posted now.
    superseded = {row["stix_id"] for row in new_rows if row["is_latest"]}
    for chunk in _chunks(sorted(superseded), 500):
        session.execute(
            update(StixObject)
            .where(StixObject.collection_id == collection.id, StixObject.stix_id.in_(chunk))
            .values(is_latest=False)
        )
    # A plain executemany (SQLite runs INSERT ... RETURNING row by row), then the new keys in one read:
    # (collection, stix_id, modified) is unique, and the batch's date_added range bounds the lookup.
    table = cast(Table, StixObject.__table__)
    session.execute(insert(table), new_rows)
    keys: dict[tuple[str, str], int] = {}
    for pk, stix_id, modified in session.execute(
        select(StixObject.pk, StixObject.stix_id, StixObject.modified).where(
            StixObject.collection_id == collection.id,
            StixObject.date_added.between(new_rows[0]["date_added"], new_rows[-1]["date_added"]),
        )
    ):
        keys[(stix_id, modified)] = pk
    pks = [keys[(row["stix_id"], row["modified"])] for row in new_rows]
    # Within one batch an id may appear in several versions: only the newest keeps is_latest.
    newest: dict[str, tuple[str, int]] = {}
    for pk, row in zip(pks, new_rows, strict=True):
        if row["is_latest"] and row["modified"] >= newest.get(row["stix_id"], ("", 0))[0]:
            newest[row["stix_id"]] = (row["modified"], pk)
    stale = [pk for pk, row in zip(pks, new_rows, strict=True) if row["is_latest"] and newest[row["stix_id"]][1] != pk]
    if stale:
        session.execute(update(StixObject).where(StixObject.pk.in_(stale)).values(is_latest=False))

    audience: list[dict[str, Any]] = []
    audience_for = {level: _audience_rows(session, principal, level, sharing, collection) for level in set(levels)}
    for pk, level in zip(pks, levels, strict=True):
        audience.extend({"object_pk": pk, **row} for row in audience_for[level])
    if audience:
        session.execute(insert(cast(Table, ObjectAudience.__table__)), audience)
    refs = [
        {"object_pk": pk, "ref": ref}
        for pk, row in zip(pks, new_rows, strict=True)
        if '"object_refs"' in row["body"]
        for ref in set(orjson.loads(row["body"]).get("object_refs") or ())
        if isinstance(ref, str)
    ]
    if refs:
        session.execute(insert(cast(Table, ObjectRef.__table__)), refs)
    if sharing.anonymous:
        session.execute(
            insert(SealedSource),
            [{"object_pk": pk, "org_id": principal.org_id, "member_id": principal.member_id} for pk in pks],
        )
    _record_sightings(session, principal, [orjson.loads(r["body"]) for r in new_rows if r["stix_type"] == "sighting"])
    result.stored_pks = pks
    record(
        session,
        principal,
        "share",
        target=collection.id,
        tlp=max(levels),
        detail={"count": len(pks), "ids": [r["stix_id"] for r in new_rows][:2000], "anonymous": sharing.anonymous},
        sealed=sharing.anonymous,
    )
    return result


def _record_sightings(session: Session, principal: Principal, sightings: list[dict[str, Any]]) -> None:
    rows = []
    for s in sightings:
        rows.append(
            {
                "sighting_id": s["id"],
                "sighting_of": s["sighting_of_ref"],
                "org_id": principal.org_id,
                "member_id": principal.member_id,
                "count": int(s.get("count", 1)),
                "first_seen": timestamps.parse(s["first_seen"]) if s.get("first_seen") else None,
                "last_seen": timestamps.parse(s["last_seen"]) if s.get("last_seen") else None,
                "note": str(s.get("description", ""))[:2000],
            }
        )
    if rows:
        known = set(
            session.scalars(
                select(Sighting.sighting_id).where(Sighting.sighting_id.in_([r["sighting_id"] for r in rows]))
            )
        )
        rows = [r for r in rows if r["sighting_id"] not in known]
        if rows:
            session.execute(insert(Sighting), rows)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Query:
    collection_id: str | None = None
    added_after: int | None = None  # microseconds
    ids: Sequence[str] = ()
    types: Sequence[str] = ()
    versions: str | Sequence[str] = "last"  # "last", "first", "all" or canonical timestamps
    spec_versions: Sequence[str] = ()
    text: str = ""
    tlp: Sequence[int] = ()
    publisher_org_id: int | None = None
    added_before: int | None = None


@dataclass
class Page:
    rows: list[Any]  # light rows with StixObject's columns as attributes (no ORM identity, no search_text)
    more: bool
    next: str | None

    def objects(self) -> list[dict[str, Any]]:
        return [orjson.loads(row.body) for row in self.rows]


PAGE_COLUMNS = [column for column in StixObject.__table__.columns if column.name != "search_text"]


# Cursors are opaque: the row key inside is masked and authenticated with a key derived from the installation
# secret, so a cursor neither reveals how many rows (hidden ones included) the hub holds nor can be forged.
_cursor_key = secrets.token_bytes(32)


def configure_cursors(secret: str) -> None:
    """Derive the cursor key from the installation secret, so cursors outlive a restart and every worker."""
    global _cursor_key
    _cursor_key = hashlib.sha256(b"shieldwall-cursor\0" + secret.encode()).digest()


def _mac(data: bytes) -> bytes:
    return hmac.new(_cursor_key, data, hashlib.sha256).digest()


def encode_cursor(date_added: int, pk: int) -> str:
    stamp = date_added.to_bytes(8, "big", signed=True)
    masked = (pk ^ int.from_bytes(_mac(b"pk" + stamp)[:8], "big")).to_bytes(8, "big")
    body = stamp + masked
    return base64.urlsafe_b64encode(body + _mac(b"c" + body)[:10]).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    invalid = ValueError("invalid 'next' cursor: use the one the previous page returned")
    if len(cursor) > 64:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
    except (ValueError, UnicodeEncodeError):
        raise invalid from None
    body, tag = raw[:16], raw[16:]
    if len(raw) != 26 or not hmac.compare_digest(tag, _mac(b"c" + body)[:10]):
        raise invalid
    stamp = body[:8]
    pk = int.from_bytes(body[8:], "big") ^ int.from_bytes(_mac(b"pk" + stamp)[:8], "big")
    return int.from_bytes(stamp, "big", signed=True), pk


def _conditions(principal: Principal, query: Query) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [visible_to(principal)]
    if query.collection_id is not None:
        where.append(StixObject.collection_id == query.collection_id)
    if query.added_after is not None:
        where.append(StixObject.date_added > query.added_after)
    if query.added_before is not None:
        where.append(StixObject.date_added < query.added_before)
    if query.ids:
        where.append(StixObject.stix_id.in_(list(query.ids)))
    if query.types:
        where.append(StixObject.stix_type.in_(list(query.types)))
    if query.spec_versions:
        where.append(StixObject.spec_version.in_(list(query.spec_versions)))
    if query.tlp:
        where.append(StixObject.tlp.in_(list(query.tlp)))
    if query.publisher_org_id is not None:
        where.append(StixObject.publisher_org_id == query.publisher_org_id)
    if query.text:
        for word in query.text.lower().split()[:8]:
            where.append(StixObject.search_text.contains(word, autoescape=True))
    versions = query.versions
    if versions == "last":
        where.append(StixObject.is_latest.is_(True))
    elif versions == "first":
        where.append(StixObject.is_first.is_(True))
    elif versions != "all":
        wanted = [v for v in versions if v not in ("last", "first", "all")]
        alternatives: list[ColumnElement[bool]] = [StixObject.modified.in_(wanted)] if wanted else []
        if "last" in versions:
            alternatives.append(StixObject.is_latest.is_(True))
        if "first" in versions:
            alternatives.append(StixObject.is_first.is_(True))
        if "all" not in versions:
            where.append(or_(*alternatives))
    return where


def query_objects(
    session: Session,
    principal: Principal,
    query: Query,
    *,
    limit: int,
    cursor: str | None = None,
    newest_first: bool = False,
) -> Page:
    """One page of visible object versions in date_added order (keyset paging: flat cost per page)."""
    where = _conditions(principal, query)
    order = [StixObject.date_added, StixObject.pk]
    if cursor:
        date_added, pk = decode_cursor(cursor)
        # A row-value comparison plus a plain range bound: both planners seek the page index to the cursor
        # instead of scanning from the start of the collection, so deep pages cost what the first one does.
        key = tuple_(StixObject.date_added, StixObject.pk)
        if newest_first:
            where += [StixObject.date_added <= date_added, key < tuple_(literal(date_added), literal(pk))]
        else:
            where += [StixObject.date_added >= date_added, key > tuple_(literal(date_added), literal(pk))]
    # Plain rows, not ORM objects: building 1,000 ORM objects costs more than the query on a TAXII page.
    statement = select(*PAGE_COLUMNS).where(*where)
    statement = statement.order_by(*(c.desc() for c in order)) if newest_first else statement.order_by(*order)
    rows = list(session.execute(statement.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].date_added, rows[-1].pk) if more and rows else None
    audit_reads(session, principal, rows)
    return Page(rows=rows, more=more, next=next_cursor)


def count_objects(session: Session, principal: Principal, query: Query) -> int:
    return int(session.scalar(select(func.count()).select_from(StixObject).where(*_conditions(principal, query))) or 0)


def get_versions(session: Session, principal: Principal, collection_id: str | None, stix_id: str) -> list[StixObject]:
    """Every visible version of one object, oldest first."""
    rows = list(
        session.scalars(
            select(StixObject)
            .where(*_conditions(principal, Query(collection_id=collection_id, ids=[stix_id], versions="all")))
            .order_by(StixObject.modified)
        )
    )
    audit_reads(session, principal, rows)
    return rows


def get_latest(session: Session, principal: Principal, stix_id: str) -> StixObject | None:
    rows = get_versions(session, principal, None, stix_id)
    return max(rows, key=lambda r: r.modified) if rows else None


def audit_reads(session: Session, principal: Principal, rows: Sequence[Any]) -> None:
    """Reads of AMBER, AMBER+STRICT and RED material are audited (who, when, which objects)."""
    sensitive = [r for r in rows if r.tlp >= TLP.AMBER]
    if sensitive and principal.is_authenticated:
        record(
            session,
            principal,
            "read",
            target=sensitive[0].collection_id,
            tlp=max(r.tlp for r in sensitive),
            detail={"ids": [r.stix_id for r in sensitive][:2000], "count": len(sensitive)},
        )


def delete_versions(session: Session, principal: Principal, query: Query) -> int | None:
    """Delete the matching versions the principal may delete (its own organisation's ids, with a writer's role,
    or any for the hub operator). None when nothing matching is visible (so existence does not leak), else how
    many went. An id whose every version is gone stays deleted: nobody but its owner may bring it back."""
    rows = list(session.scalars(select(StixObject).where(*_conditions(principal, query))))
    if not rows:
        return None
    owners = dict(
        session.execute(
            select(ObjectOwner.stix_id, ObjectOwner.org_id).where(
                ObjectOwner.stix_id.in_(sorted({r.stix_id for r in rows})), ObjectOwner.sealed_org_id.is_(None)
            )
        )
        .tuples()
        .all()
    )
    mine = [
        r
        for r in rows
        if principal.is_operator or (principal.can_write and owners.get(r.stix_id) == principal.org_id)
    ]
    if not mine:
        return 0
    for row in mine:
        row.is_deleted = True
        row.is_latest = False
    session.flush()
    touched: dict[str, set[str]] = {}
    for r in mine:
        touched.setdefault(r.collection_id, set()).add(r.stix_id)
    for collection_id, stix_ids in touched.items():
        refresh_latest(session, collection_id, stix_ids)
    all_ids = sorted({r.stix_id for r in mine})
    remaining = set(
        session.scalars(
            select(StixObject.stix_id).where(StixObject.stix_id.in_(all_ids), StixObject.is_deleted.is_(False))
        )
    )
    ownership.mark_deleted(session, [i for i in all_ids if i not in remaining])
    record(
        session,
        principal,
        "delete",
        target=mine[0].collection_id,
        tlp=max(r.tlp for r in mine),
        detail={"ids": all_ids, "versions": len(mine)},
    )
    return len(mine)


def refresh_latest(session: Session, collection_id: str, stix_ids: Iterable[str]) -> None:
    """Make the newest remaining version of each id its "latest" again (after a delete or a restore)."""
    for stix_id in sorted(set(stix_ids)):
        versions = session.execute(
            select(StixObject.pk, StixObject.modified, StixObject.is_deleted).where(
                StixObject.stix_id == stix_id, StixObject.collection_id == collection_id
            )
        ).all()
        live = [(modified, pk) for pk, modified, deleted in versions if not deleted]
        newest = max(live)[1] if live else None
        session.execute(
            update(StixObject)
            .where(StixObject.stix_id == stix_id, StixObject.collection_id == collection_id)
            .values(is_latest=StixObject.pk == newest if newest is not None else False)
        )


def related(session: Session, principal: Principal, stix_id: str, limit: int = 200) -> list[StixObject]:
    """Visible latest relationships and sightings that touch stix_id (either end)."""
    return related_many(session, principal, [stix_id], limit=limit)


def related_many(
    session: Session,
    principal: Principal,
    ids: Sequence[str],
    *,
    relationship_types: Sequence[str] = (),
    end: str = "either",
    limit: int = 100_000,
) -> list[StixObject]:
    """Visible latest relationships (and sightings) touching any of ids, in one indexed query per 500 ids.

    end: "source" (ids are source_ref / sighting_of_ref), "target" (ids are target_ref) or "either".
    relationship_types filters on relationship_type (sightings have none and are then left out)."""
    rows: list[StixObject] = []
    for chunk in _chunks(sorted(set(ids)), 500):
        ends = {
            "source": StixObject.source_ref.in_(chunk),
            "target": StixObject.target_ref.in_(chunk),
            "either": or_(StixObject.source_ref.in_(chunk), StixObject.target_ref.in_(chunk)),
        }[end]
        # Only relationships and sightings have refs, so no type filter: it would lure SQLite's planner onto
        # the type index instead of the ref indexes.
        where = [*_conditions(principal, Query()), ends]
        if relationship_types:
            kinds = [f'%"relationship_type":"{kind}"%' for kind in relationship_types]
            where.append(or_(*(StixObject.body.like(k) for k in kinds)))
        rows.extend(session.scalars(select(StixObject).where(*where).order_by(StixObject.date_added).limit(limit)))
    if relationship_types:  # the LIKE prefilter is loose; confirm on the parsed object
        wanted = set(relationship_types)
        rows = [r for r in rows if orjson.loads(r.body).get("relationship_type") in wanted]
    audit_reads(session, principal, rows)
    return rows[:limit]


def audience_of(session: Session, principal: Principal, stix_id: str) -> Sharing | None:
    """How the newest version of stix_id that principal may see was shared (TLP and audience), so something
    derived from it (a link, a note) can be shared the same way. None when principal may not see it."""
    row = get_latest(session, principal, stix_id)
    if row is None:
        return None
    audience = session.execute(
        select(ObjectAudience.org_id, ObjectAudience.trust_group_id, ObjectAudience.member_id).where(
            ObjectAudience.object_pk == row.pk
        )
    ).all()
    return Sharing(
        tlp=TLP(row.tlp),
        org_ids=sorted({o for o, _, _ in audience if o is not None}),
        trust_group_ids=sorted({g for _, g, _ in audience if g is not None}),
        member_ids=sorted({m for _, _, m in audience if m is not None}),
    )


def readable_latest(principal: Principal, stix_id: Any) -> ColumnElement[bool]:
    """SQL condition for other capabilities' queries: the latest version of the id in column stix_id is one
    principal may read (the same answer as `latest_by_ids`, without reading the exchange's tables by hand)."""
    latest = StixObject.is_latest.is_(True)
    return exists(select(StixObject.pk).where(StixObject.stix_id == stix_id, latest, visible_to(principal)))


def latest_by_ids(session: Session, principal: Principal, ids: Sequence[str]) -> dict[str, StixObject]:
    """The newest visible version of each id (any collection)."""
    found: dict[str, StixObject] = {}
    for chunk in _chunks(sorted(set(ids)), 500):
        for row in session.scalars(select(StixObject).where(*_conditions(principal, Query(ids=chunk)))):
            if row.stix_id not in found or row.modified > found[row.stix_id].modified:
                found[row.stix_id] = row
    audit_reads(session, principal, list(found.values()))
    return found


def referring_many(
    session: Session, principal: Principal, ids: Sequence[str], *, types: Sequence[str] = (), limit: int = 100_000
) -> list[StixObject]:
    """Visible latest objects whose object_refs name any of ids (notes, reports, groupings, opinions)."""
    rows: list[StixObject] = []
    for chunk in _chunks(sorted(set(ids)), 500):
        referring = select(ObjectRef.object_pk).where(ObjectRef.ref.in_(chunk))
        where = [*_conditions(principal, Query(types=types)), StixObject.pk.in_(referring)]
        rows.extend(session.scalars(select(StixObject).where(*where).order_by(StixObject.date_added).limit(limit)))
    audit_reads(session, principal, rows)
    return rows[:limit]
