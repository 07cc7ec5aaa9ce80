"""TAXII 2.1 (OASIS): discovery, API root, collections, objects, versions, manifest, delete, status.

Paging is keyset-based (the `next` token encodes the last date_added and row), so every page costs the
same however large the collection is. Errors are TAXII error messages with the right HTTP status.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall import __version__
from shieldwall.exchange import access
from shieldwall.exchange import objects as store
from shieldwall.exchange.deps import ApiError, current_principal, db_session, settings
from shieldwall.exchange.policy import Principal, visible_to
from shieldwall.exchange.tables import Collection, StixObject
from shieldwall.exchange.tables import Status as StatusRow
from shieldwall.stix import timestamps
from shieldwall.store.base import utcnow

TAXII_MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"
API_ROOT = "hub"

router = APIRouter(prefix="/taxii2", tags=["TAXII 2.1"])


class TaxiiError(Exception):
    def __init__(self, status: int, title: str, description: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(title)
        self.status, self.title, self.description, self.headers = status, title, description, headers or {}


def taxii_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=TAXII_MEDIA, headers=headers)


def error_body(status: int, title: str, description: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"title": title, "http_status": str(status)}
    if description:
        body["description"] = description
    return body


def _check_accept(request: Request) -> None:
    accept = request.headers.get("accept", "")
    if not accept:
        return
    acceptable = ("application/taxii+json", "application/*", "*/*")
    if not any(part.strip().split(";")[0].strip() in acceptable for part in accept.split(",")):
        raise TaxiiError(
            406, "Not Acceptable", f"this server answers in {TAXII_MEDIA}; the request asked for {accept!r}"
        )
    if "version=" in accept and "version=2.1" not in accept.replace(" ", ""):
        raise TaxiiError(406, "Not Acceptable", "only TAXII 2.1 is served")


def taxii_principal(request: Request) -> Principal:
    _check_accept(request)
    try:
        return current_principal(request)
    except ApiError as error:
        raise TaxiiError(
            error.status_code,
            "Unauthorized" if error.status_code == 401 else "Too Many Requests",
            str(error.detail),
            dict(error.headers or {}),
        ) from None


def _taxii_refusal(status: int, message: str) -> Exception:
    titles = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
    headers = {"WWW-Authenticate": 'Basic realm="taxii", Bearer'} if status == 401 else None
    return TaxiiError(status, titles.get(status, "Refused"), message, headers)


TAXII = access.Via(taxii_principal, _taxii_refusal)
READ = access.anyone("visible", via=TAXII)
WRITE = access.writer("owner", via=TAXII)


def _reader_collections(session: Session, principal: Principal) -> list[Collection]:
    rows = session.scalars(select(Collection).order_by(Collection.alias)).all()
    return [
        c
        for c in rows
        if c.trust_group_id is None or c.trust_group_id in principal.trust_group_ids or principal.is_operator
    ]


def _collection(session: Session, principal: Principal, collection_id: str) -> Collection:
    for collection in _reader_collections(session, principal):
        if collection.id == collection_id or collection.alias == collection_id:
            return collection
    raise TaxiiError(404, "Collection not found", f"no collection {collection_id!r} that you may read")


def _can_write(principal: Principal, collection: Collection) -> bool:
    return principal.can_write and (
        collection.trust_group_id is None or collection.trust_group_id in principal.trust_group_ids
    )


def _collection_resource(principal: Principal, collection: Collection) -> dict[str, Any]:
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "alias": collection.alias,
        "can_read": True,
        "can_write": _can_write(principal, collection),
        "media_types": [STIX_MEDIA],
    }


def _limit(request: Request, value: str | None) -> int:
    s = settings(request)
    if value is None or value == "":
        return s.page_size_default
    if not value.isdigit() or int(value) < 1:
        raise TaxiiError(400, "Bad limit", f"limit must be a positive integer, got {value!r}")
    return min(int(value), s.page_size_max)


def _added_after(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return timestamps.to_micros(timestamps.parse(value))
    except ValueError:
        raise TaxiiError(400, "Bad added_after", f"added_after {value!r} is not a timestamp") from None


def _match(request: Request, name: str) -> list[str]:
    values: list[str] = []
    for raw in request.query_params.getlist(f"match[{name}]"):
        if "\x00" in raw:  # no STIX id, type or version holds one, and PostgreSQL refuses it in a query
            raise TaxiiError(400, f"Bad match[{name}]", f"match[{name}] may not contain a NUL character")
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def _versions(request: Request) -> str | list[str]:
    values = _match(request, "version")
    if not values:
        return "last"
    out: list[str] = []
    for v in values:
        if v in ("last", "first", "all"):
            out.append(v)
        else:
            try:
                out.append(timestamps.canonical(v))
            except ValueError:
                raise TaxiiError(400, "Bad match[version]", f"{v!r} is not last, first, all or a timestamp") from None
    return out


def _object_id(object_id: str) -> str:
    """The path's object id; one with a NUL names nothing stored (and PostgreSQL would refuse the query)."""
    if "\x00" in object_id:
        raise TaxiiError(404, "Object not found", f"no object {object_id!r} that you may read in this collection")
    return object_id


def _query(request: Request, collection: Collection, stix_id: str | None = None) -> store.Query:
    ids = _match(request, "id")
    if stix_id is not None:
        ids = [_object_id(stix_id)]
    return store.Query(
        collection_id=collection.id,
        added_after=_added_after(request.query_params.get("added_after")),
        ids=ids,
        types=_match(request, "type"),
        versions=_versions(request),
        spec_versions=_match(request, "spec_version"),
    )


def _page(request: Request, session: Session, principal: Principal, query: store.Query) -> store.Page:
    cursor = request.query_params.get("next")
    try:
        return store.query_objects(
            session, principal, query, limit=_limit(request, request.query_params.get("limit")), cursor=cursor
        )
    except ValueError as error:
        raise TaxiiError(400, "Bad next", str(error)) from None


def _date_headers(rows: list[StixObject]) -> dict[str, str]:
    if not rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": timestamps.format_micros(rows[0].date_added),
        "X-TAXII-Date-Added-Last": timestamps.format_micros(rows[-1].date_added),
    }


def _envelope(page: store.Page, key: str, items: list[Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if items:
        body[key] = items
    return body


# ------------------------------------------------------------------------------------------- endpoints


@router.get("/")
def discovery(request: Request, _: Principal = Depends(READ)) -> Response:
    _check_accept(request)
    s = settings(request)
    base = str(request.base_url).rstrip("/")
    return taxii_response(
        {
            "title": s.hub_name,
            "description": "Shieldwall: shared election threat intelligence (TAXII 2.1).",
            "contact": "the hub operator",
            "default": f"{base}/taxii2/{API_ROOT}/",
            "api_roots": [f"{base}/taxii2/{API_ROOT}/"],
        }
    )


@router.get(f"/{API_ROOT}/")
def api_root(request: Request, _: Principal = Depends(READ)) -> Response:
    _check_accept(request)
    return taxii_response(
        {
            "title": settings(request).hub_name,
            "description": f"Shieldwall {__version__}",
            "versions": [TAXII_MEDIA],
            "max_content_length": settings(request).max_body_bytes,
        }
    )


@router.get(f"/{API_ROOT}/collections/")
def collections(
    request: Request,
    principal: Principal = Depends(READ),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    items = [_collection_resource(principal, c) for c in _reader_collections(session, principal)]
    return taxii_response({"collections": items} if items else {})


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/")
def collection(
    collection_id: str,
    principal: Principal = Depends(READ),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return taxii_response(_collection_resource(principal, _collection(session, principal, collection_id)))


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/")
def get_objects(
    collection_id: str,
    request: Request,
    principal: Principal = Depends(READ),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    col = _collection(session, principal, collection_id)
    page = _page(request, session, principal, _query(request, col))
    return _objects_response(page)


def _objects_response(page: store.Page) -> Response:
    # Stored bodies are already JSON: splice them instead of parsing and re-serialising.
    head = b'{"more":' + (b"true" if page.more else b"false")
    if page.next:
        head += b',"next":' + orjson.dumps(page.next)
    if page.rows:
        head += b',"objects":[' + b",".join(row.body.encode() for row in page.rows) + b"]"
    return Response(head + b"}", media_type=TAXII_MEDIA, headers=_date_headers(page.rows))


@router.post(f"/{API_ROOT}/collections/{{collection_id}}/objects/")
async def add_objects(
    collection_id: str, request: Request, principal: Principal = Depends(WRITE)
) -> Response:
    content_type = request.headers.get("content-type", "").replace(" ", "").lower()
    media, _, parameters = content_type.partition(";")
    if media != "application/taxii+json" or (parameters and parameters != "version=2.1"):
        raise TaxiiError(415, "Unsupported Media Type", f"POST {TAXII_MEDIA}, not {content_type[:100] or 'nothing'!r}")
    body = await read_limited_body(request)
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise TaxiiError(400, "Malformed JSON", f"the body is not JSON: {error}") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("objects"), list):
        raise TaxiiError(400, "Not an envelope", 'the body must be a TAXII envelope: {"objects": [...]}')
    cap = settings(request).page_size_max * 10
    if len(envelope["objects"]) > cap:
        count = len(envelope["objects"])
        raise TaxiiError(413, "Too many objects", f"an envelope may carry at most {cap} objects; this one has {count}")
    return await run_in_threadpool(_store_envelope, request, principal, collection_id, envelope["objects"])


def _store_envelope(request: Request, principal: Principal, collection_id: str, objects: list[Any]) -> Response:
    started = timestamps.format_time(utcnow())
    with request.app.state.database.session() as session:
        col = _collection(session, principal, collection_id)
        if not principal.is_authenticated:
            raise TaxiiError(401, "Unauthorized", "authentication required to add objects")
        if not _can_write(principal, col):
            raise TaxiiError(403, "Forbidden", "you may not write to this collection")
        result = store.ingest(session, principal, col, objects, store.Sharing())
        status = StatusRow(
            id=str(uuid.uuid4()),
            collection_id=col.id,
            member_id=principal.member_id,
            status="complete",
            request_timestamp=started,
            total_count=len(objects),
            success_count=len(result.successes),
            failure_count=len(result.failures),
            pending_count=0,
            successes=result.successes,
            failures=result.failures,
        )
        session.add(status)
        response = _status_resource(status)
    notify = getattr(request.app.state, "notify_new_objects", None)
    if notify is not None and result.stored_pks:
        notify(result.stored_pks)
    return taxii_response(response, status=202)


async def read_limited_body(request: Request) -> bytes:
    limit = settings(request).max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TaxiiError(413, "Payload Too Large", f"the body is {declared} bytes; this server accepts at most {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TaxiiError(413, "Payload Too Large", f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _status_resource(status: StatusRow) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": status.id,
        "status": status.status,
        "request_timestamp": status.request_timestamp,
        "total_count": status.total_count,
        "success_count": status.success_count,
        "failure_count": status.failure_count,
        "pending_count": status.pending_count,
    }
    if status.successes:
        body["successes"] = status.successes
    if status.failures:
        body["failures"] = status.failures
    return body


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/")
def get_object(
    collection_id: str,
    object_id: str,
    request: Request,
    principal: Principal = Depends(READ),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    col = _collection(session, principal, collection_id)
    page = _object_page(request, session, principal, col, object_id, _query(request, col, object_id))
    return _objects_response(page)


def _object_page(
    request: Request, session: Session, principal: Principal, col: Collection, object_id: str, query: store.Query
) -> store.Page:
    """A page of one object's versions; 404 when the reader may see no version of it at all (an empty page
    for filters that match nothing is still a 200)."""
    page = _page(request, session, principal, query)
    if not page.rows and not _exists_visible(session, principal, col, object_id):
        raise TaxiiError(404, "Object not found", f"no object {object_id!r} that you may read in this collection")
    return page


def _exists_visible(session: Session, principal: Principal, col: Collection, object_id: str) -> bool:
    return (
        session.scalar(
            select(StixObject.pk)
            .where(StixObject.collection_id == col.id, StixObject.stix_id == object_id, visible_to(principal))
            .limit(1)
        )
        is not None
    )


@router.delete(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/")
def delete_object(
    collection_id: str,
    object_id: str,
    request: Request,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    col = _collection(session, principal, collection_id)
    if not principal.is_authenticated:
        raise TaxiiError(401, "Unauthorized", "authentication required to delete objects")
    query = _query(request, col, object_id)
    if not request.query_params.getlist("match[version]"):
        query = store.Query(collection_id=col.id, ids=[object_id], versions="all", spec_versions=query.spec_versions)
    deleted = store.delete_versions(session, principal, query)
    if deleted is None:
        raise TaxiiError(404, "Object not found", f"no object {object_id!r} that you may read in this collection")
    if deleted == 0:
        raise TaxiiError(403, "Forbidden", "only the publishing organisation (or the hub operator) may delete it")
    return taxii_response({})


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/versions/")
def versions(
    collection_id: str,
    object_id: str,
    request: Request,
    principal: Principal = Depends(READ),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    col = _collection(session, principal, collection_id)
    query = store.Query(
        collection_id=col.id,
        ids=[_object_id(object_id)],
        versions="all",
        added_after=_added_after(request.query_params.get("added_after")),
        spec_versions=_match(request, "spec_version"),
    )
    page = _object_page(request, session, principal, col, object_id, query)
    items = sorted(timestamps.display(r.modified) for r in page.rows)
    return taxii_response(_envelope(page, "versions", items), headers=_date_headers(page.rows))


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/manifest/")
def manifest(
    collection_id: str,
    request: Request,
    principal: Principal = Depends(READ),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    col = _collection(session, principal, collection_id)
    page = _page(request, session, principal, _query(request, col))
    items = [
        {
            "id": r.stix_id,
            "date_added": timestamps.format_micros(r.date_added),
            "version": timestamps.display(r.modified),
            "media_type": STIX_MEDIA,
        }
        for r in page.rows
    ]
    return taxii_response(_envelope(page, "objects", items), headers=_date_headers(page.rows))


@router.get(f"/{API_ROOT}/status/{{status_id}}/")
def status(
    status_id: str,
    principal: Principal = Depends(READ),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    row = session.get(StatusRow, status_id)
    if row is None or row.member_id != principal.member_id or not principal.is_authenticated:
        raise TaxiiError(404, "Status not found", f"no status {status_id!r} of yours")
    return taxii_response(_status_resource(row))


def install(app: FastAPI) -> None:
    @app.exception_handler(TaxiiError)
    async def _taxii_error(request: Request, error: TaxiiError) -> Response:
        return taxii_response(
            error_body(error.status, error.title, error.description), status=error.status, headers=error.headers
        )

    app.include_router(router)


__all__ = ["TAXII_MEDIA", "install", "router"]
