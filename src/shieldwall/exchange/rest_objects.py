"""REST API: share STIX with a sharing choice, search what you may see, sightings and opinions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shieldwall.exchange import access, directory
from shieldwall.exchange import objects as store
from shieldwall.exchange.audit import record
from shieldwall.exchange.deps import db_session
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import Collection, Opinion, Organisation, Sighting, StixObject
from shieldwall.stix import timestamps
from shieldwall.stix.tlp import TLP

router = APIRouter(prefix="/api/v1", tags=["objects"])

VERDICTS = ("agree", "disagree", "false_positive")


class ShareWith(BaseModel):
    organisations: list[str] = Field(default_factory=list, description="organisation slugs (AMBER, AMBER+STRICT)")
    trust_groups: list[str] = Field(default_factory=list, description="trust group slugs (AMBER, AMBER+STRICT)")
    members: list[str] = Field(default_factory=list, description="member e-mails (RED)")


class ShareIn(BaseModel):
    objects: list[dict[str, Any]] = Field(description="STIX 2.1 objects (a bundle's `objects`)")
    collection: str = Field(directory.DEFAULT_COLLECTION_ALIAS, description="collection alias or id")
    tlp: str | None = Field(None, description="clear, green, amber, amber+strict, red; applies to unmarked objects")
    share_with: ShareWith = Field(default_factory=ShareWith)
    anonymous: bool = Field(False, description="share without attribution; the hub seals the true source")


def resolve_sharing(session: Session, tlp: str | None, share_with: ShareWith, anonymous: bool) -> store.Sharing:
    try:
        level = TLP.parse(tlp) if tlp else None
        orgs = [directory.org_by_slug(session, s) for s in share_with.organisations]
        group_ids = [directory.group_by_slug(session, s).id for s in share_with.trust_groups]
        members = [directory.member_by_email(session, e) for e in share_with.members]
    except (ValueError, directory.DirectoryError) as error:
        raise HTTPException(422, str(error)) from None
    guests = [o.slug for o in orgs if not o.is_member]
    guests += [m.email for m in members if not session.get(Organisation, m.org_id).is_member]  # type: ignore[union-attr]
    if guests:
        raise HTTPException(422, f"guest organisations read TLP:CLEAR only; share it as CLEAR or leave out {guests}")
    org_ids = [o.id for o in orgs]
    member_ids = [m.id for m in members]
    if level == TLP.RED and share_with.organisations + share_with.trust_groups:
        raise HTTPException(422, "TLP:RED is shared with named members only, not organisations or trust groups")
    return store.Sharing(
        tlp=level, org_ids=org_ids, trust_group_ids=group_ids, member_ids=member_ids, anonymous=anonymous
    )


def writable_collection(session: Session, principal: Principal, alias_or_id: str) -> Collection:
    collection = session.scalar(
        select(Collection).where((Collection.alias == alias_or_id) | (Collection.id == alias_or_id))
    )
    if collection is None or (
        collection.trust_group_id is not None and collection.trust_group_id not in principal.trust_group_ids
    ):
        raise HTTPException(404, f"no collection {alias_or_id!r} that you may write to")
    return collection


@router.post("/objects", status_code=201, response_model=None)
def share(
    body: ShareIn,
    request: Request,
    principal: Principal = Depends(access.writer("owner")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any] | JSONResponse:
    """Share STIX objects. Invalid objects are listed with their id and reason; the valid rest is stored."""
    if len(body.objects) > request.app.state.settings.page_size_max * 10:
        raise HTTPException(413, f"at most {request.app.state.settings.page_size_max * 10} objects per request")
    collection = writable_collection(session, principal, body.collection)
    sharing = resolve_sharing(session, body.tlp, body.share_with, body.anonymous)
    try:
        result = store.ingest(session, principal, collection, body.objects, sharing)
    except store.SharingError as error:
        raise HTTPException(422, str(error)) from None
    session.flush()
    notify = getattr(request.app.state, "notify_new_objects", None)
    if notify is not None and result.stored_pks:
        session.info.setdefault("after_commit", []).append(lambda: notify(result.stored_pks))
    outcome = {
        "collection": collection.alias,
        "success_count": len(result.successes),
        "failure_count": len(result.failures),
        "successes": result.successes,
        "failures": result.failures,
    }
    # Nothing stored is not "created": the failures say why.
    return outcome if result.successes or not result.failures else JSONResponse(outcome, status_code=422)


def summary(row: StixObject, orgs: dict[int, Organisation]) -> dict[str, Any]:
    publisher = orgs.get(row.publisher_org_id) if row.publisher_org_id else None
    return {
        "id": row.stix_id,
        "type": row.stix_type,
        "name": row.name,
        "version": timestamps.display(row.modified),
        "date_added": timestamps.format_micros(row.date_added),
        "tlp": TLP(row.tlp).label,
        "publisher": publisher.slug if publisher else None,
        "anonymous": row.publisher_org_id is None,
    }


def organisations_by_id(session: Session) -> dict[int, Organisation]:
    return {o.id: o for o in session.scalars(select(Organisation))}


def parse_time(value: str | None, name: str) -> int | None:
    if not value:
        return None
    try:
        return timestamps.to_micros(timestamps.parse(value))
    except ValueError:
        raise HTTPException(422, f"{name} {value!r} is not an ISO 8601 timestamp") from None


MAX_QUERY_CHARS = 1_000


def search_query(
    session: Session,
    q: str,
    types: list[str],
    tlp: list[str],
    organisation: str | None,
    added_after: str | None,
    added_before: str | None,
) -> store.Query:
    # Checked here, not by the database: /export has started streaming by the time PostgreSQL would refuse.
    for name, values in (("q", [q]), ("type", types), ("organisation", [organisation or ""])):
        if any("\x00" in value for value in values):
            raise HTTPException(422, f"{name}: text may not contain a NUL character")
    if len(q) > MAX_QUERY_CHARS:  # each word becomes a LIKE pattern; SQLite refuses one over 50,000 bytes
        raise HTTPException(422, f"q: at most {MAX_QUERY_CHARS:,} characters (got {len(q):,})")
    try:
        levels = [int(TLP.parse(t)) for t in tlp if t]
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    publisher = None
    if organisation:
        # An unknown slug finds nothing, like a known one with nothing visible: no directory oracle.
        found = session.scalar(select(Organisation.id).where(Organisation.slug == organisation[:64]))
        publisher = found if found is not None else -1
    return store.Query(
        text=q,
        types=[t for t in types if t],
        tlp=levels,
        publisher_org_id=publisher,
        added_after=parse_time(added_after, "added_after"),
        added_before=parse_time(added_before, "added_before"),
    )


@router.get("/objects")
def search(
    request: Request,
    q: str = Query("", description="words that must all appear (name, description, pattern, value...)"),
    type: list[str] = Query([], description="STIX types"),
    tlp: list[str] = Query([], description="TLP levels"),
    organisation: str | None = Query(None, description="publisher's slug"),
    added_after: str | None = None,
    added_before: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
    principal: Principal = Depends(access.member("visible")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    """Search everything you may see (latest versions, newest first), with a stable cursor."""
    query = search_query(session, q, type, tlp, organisation, added_after, added_before)
    try:
        page = store.query_objects(session, principal, query, limit=limit, cursor=cursor, newest_first=True)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    orgs = organisations_by_id(session)
    return {"objects": [summary(r, orgs) for r in page.rows], "more": page.more, "next": page.next}


@router.get("/export", response_class=StreamingResponse)
def export(
    request: Request,
    q: str = Query(""),
    type: list[str] = Query([]),
    tlp: list[str] = Query([]),
    organisation: str | None = None,
    added_after: str | None = None,
    added_before: str | None = None,
    principal: Principal = Depends(access.member("visible")),
) -> StreamingResponse:
    """Everything a search finds that you may see, as one STIX 2.1 bundle, streamed page by page."""
    database = request.app.state.database
    with database.session() as session:
        query = search_query(session, q, type, tlp, organisation, added_after, added_before)

    def pages() -> Iterator[bytes]:
        yield b'{"type":"bundle","id":"bundle--' + str(uuid.uuid4()).encode() + b'","objects":['
        cursor: str | None = None
        first = True
        while True:
            with database.session() as session:
                page = store.query_objects(session, principal, query, limit=1000, cursor=cursor)
            for row in page.rows:
                yield (b"" if first else b",") + row.body.encode()
                first = False
            if not page.more:
                break
            cursor = page.next
        yield b"]}"

    return StreamingResponse(
        pages(),
        media_type="application/stix+json;version=2.1",
        headers={"Content-Disposition": 'attachment; filename="shieldwall-export.json"'},
    )


@router.get("/objects/{stix_id}")
def get_object(
    stix_id: str,
    principal: Principal = Depends(access.member("visible")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    """The latest version you may see, its versions, relationships, and sighting/opinion aggregates."""
    versions = store.get_versions(session, principal, None, stix_id)
    if not versions:
        raise HTTPException(404, f"no object {stix_id!r} that you may see")
    latest = max(versions, key=lambda r: r.modified)
    orgs = organisations_by_id(session)
    relations = store.related(session, principal, stix_id)
    return {
        **summary(latest, orgs),
        "object": orjson.loads(latest.body),
        "versions": sorted({timestamps.display(v.modified) for v in versions}),
        "relationships": [{**summary(r, orgs), "object": orjson.loads(r.body)} for r in relations],
        "sightings": sightings_view(session, principal, stix_id, latest),
        "opinions": opinions_view(session, principal, stix_id, latest),
    }


# ------------------------------------------------------------------------------------ sightings, opinions


class SightingIn(BaseModel):
    count: int = Field(1, ge=1, le=1_000_000_000)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    note: str = Field("", max_length=2000)


def _visible_or_404(session: Session, principal: Principal, stix_id: str) -> StixObject:
    latest = store.get_latest(session, principal, stix_id)
    if latest is None:
        raise HTTPException(404, f"no object {stix_id!r} that you may see")
    return latest


def sightings_view(session: Session, principal: Principal, stix_id: str, obj: StixObject) -> dict[str, Any]:
    """Everyone sees their own organisation's sightings; the publisher also sees the aggregate of all."""
    own = session.scalars(
        select(Sighting).where(Sighting.sighting_of == stix_id, Sighting.org_id == principal.org_id)
    ).all()
    view: dict[str, Any] = {
        "ours": [{"count": s.count, "first_seen": s.first_seen, "last_seen": s.last_seen, "note": s.note} for s in own]
    }
    if obj.publisher_org_id is not None and obj.publisher_org_id == principal.org_id:
        total, orgs, first, last = session.execute(
            select(
                func.coalesce(func.sum(Sighting.count), 0),
                func.count(func.distinct(Sighting.org_id)),
                func.min(Sighting.first_seen),
                func.max(Sighting.last_seen),
            ).where(Sighting.sighting_of == stix_id)
        ).one()
        view["aggregate"] = {"count": int(total), "organisations": int(orgs), "first_seen": first, "last_seen": last}
    return view


@router.post("/objects/{stix_id}/sightings", status_code=201)
def add_sighting(
    stix_id: str,
    body: SightingIn,
    principal: Principal = Depends(access.writer("visible")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    """Record "seen on our platform" as a STIX sighting (kept with the hub; publishers see the aggregate)."""
    _visible_or_404(session, principal, stix_id)
    for name in ("first_seen", "last_seen"):
        value = getattr(body, name)
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} needs a time zone")
    if body.first_seen and body.last_seen and body.last_seen < body.first_seen:
        raise HTTPException(422, "last_seen is before first_seen")
    org = session.get(Organisation, principal.org_id)
    assert org is not None
    now = timestamps.format_time(datetime.now().astimezone())
    sighting: dict[str, Any] = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": now,
        "modified": now,
        "sighting_of_ref": stix_id,
        "count": body.count,
        "where_sighted_refs": [org.identity_id],
        "created_by_ref": org.identity_id,
    }
    if body.first_seen:
        sighting["first_seen"] = timestamps.format_time(body.first_seen)
    if body.last_seen:
        sighting["last_seen"] = timestamps.format_time(body.last_seen)
    if body.note:
        sighting["description"] = body.note
    session.add(
        Sighting(
            sighting_id=sighting["id"],
            sighting_of=stix_id,
            org_id=principal.org_id,
            member_id=principal.member_id,
            count=body.count,
            first_seen=body.first_seen,
            last_seen=body.last_seen,
            note=body.note,
        )
    )
    record(session, principal, "sighting", target=stix_id, detail={"count": body.count})
    return sighting


class OpinionIn(BaseModel):
    verdict: Literal["agree", "disagree", "false_positive"]
    explanation: str = Field("", max_length=4000)


def opinions_view(session: Session, principal: Principal, stix_id: str, obj: StixObject) -> dict[str, Any]:
    mine = session.scalar(select(Opinion).where(Opinion.object_id == stix_id, Opinion.member_id == principal.member_id))
    view: dict[str, Any] = {
        "mine": None if mine is None else {"verdict": mine.verdict, "explanation": mine.explanation}
    }
    if obj.publisher_org_id is not None and obj.publisher_org_id == principal.org_id:
        counts = dict(
            session.execute(
                select(Opinion.verdict, func.count()).where(Opinion.object_id == stix_id).group_by(Opinion.verdict)
            ).all()
        )
        view["aggregate"] = {v: int(counts.get(v, 0)) for v in VERDICTS}
    return view


@router.put("/objects/{stix_id}/opinion")
def set_opinion(
    stix_id: str,
    body: OpinionIn,
    principal: Principal = Depends(access.partner("visible")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    """Agree, disagree or flag a false positive. One opinion per member per object; the latest wins."""
    _visible_or_404(session, principal, stix_id)
    row = session.scalar(select(Opinion).where(Opinion.object_id == stix_id, Opinion.member_id == principal.member_id))
    if row is None:
        row = Opinion(object_id=stix_id, org_id=principal.org_id, member_id=principal.member_id, verdict=body.verdict)
        session.add(row)
    row.verdict = body.verdict
    row.explanation = body.explanation
    record(session, principal, "opinion", target=stix_id, detail={"verdict": body.verdict})
    return {"verdict": row.verdict, "explanation": row.explanation}
