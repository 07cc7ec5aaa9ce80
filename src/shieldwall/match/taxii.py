"""Where a bank's TAXII 2.1 collection is read from and its sightings are sent to.

- **This hub** (no API root, or a collection id that is one of this exchange's): read in process through
  `exchange.objects` with the bank owner's principal, exactly what the owner may read over TAXII, and
  never an HTTP request to ourselves (which the outbound check would refuse anyway).
- **Any other server**: plain HTTP through the exchange's outbound checks (`exchange/outbound.py`): every
  request's host is resolved and must be public unless the operator allowlists it (`webhook_allow`), the
  request goes to the address that was checked, redirects are never followed, and failures are told in
  fixed words (nothing of the server's answer or of the local network).

Both speak the same small interface (`pages`, `present_ids`, `add_objects`), so sync and sightings do not
care which one they have.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import urlencode

import anyio
import httpx
import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shieldwall.exchange import outbound
from shieldwall.exchange.objects import Query, Sharing, ingest, query_objects
from shieldwall.exchange.policy import ANONYMOUS, Principal
from shieldwall.exchange.tables import Collection as HubCollection
from shieldwall.exchange.tables import Member, Organisation
from shieldwall.match.banks import bank_secret
from shieldwall.match.tables import Bank
from shieldwall.stix import timestamps
from shieldwall.store.db import Database

TAXII_MEDIA = "application/taxii+json;version=2.1"
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
TIMEOUT = 30.0  # each connect, read or write
REQUEST_SECONDS = 300.0  # a whole answer, up to MAX_RESPONSE_BYTES, however slowly it comes
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,99}")


class TaxiiError(RuntimeError):
    pass


# One page of objects and the resume cursor after it (the server's X-TAXII-Date-Added-Last).
PageOut = tuple[list[dict[str, Any]], str]


class Source(Protocol):
    on_hub: bool
    label: str

    def pages(self, added_after: str, page_size: int) -> Iterator[PageOut]: ...

    def present_ids(self, page_size: int) -> set[str]: ...

    def add_objects(self, objects: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


# -- this hub ----------------------------------------------------------------------------------------------


def hub_collection(session: Session, bank: Bank) -> HubCollection | None:
    """This exchange's collection the bank reads, if its source is this hub (see the module docstring).

    Without an API root the collection may be named by id, alias or title; with one, only by an id of ours
    (an alias such as 'shared' may well exist on another hub)."""
    wanted = bank.taxii_collection.strip()
    if not wanted:
        return None
    if bank.taxii_api_root.strip():
        wanted = wanted.rstrip("/").rsplit("/", 1)[-1]
        return session.get(HubCollection, wanted)
    return session.scalar(
        select(HubCollection).where(
            or_(HubCollection.id == wanted, HubCollection.alias == wanted, HubCollection.title == wanted)
        )
    )


def bank_principal(session: Session, bank: Bank, token: str = "") -> Principal:
    """Whom the bank reads and writes as on this hub.

    An organisation's bank: the member who created it while still an active member of that organisation
    (RED named to them included), else the organisation as a reader (no RED, no writes). One of the hub's
    own banks (made at the console): the member whose token it holds, else a visitor (TLP:CLEAR)."""
    from shieldwall.exchange.auth import AuthError, principal_for_member, principal_for_token
    from shieldwall.exchange.webhooks import org_principal

    if bank.org_id is not None:
        member = session.get(Member, bank.created_by) if bank.created_by is not None else None
        if member is not None and member.is_active and member.org_id == bank.org_id:
            return principal_for_member(session, member)
        org = session.get(Organisation, bank.org_id)
        if org is None:
            raise TaxiiError(f"bank {bank.name!r}: its organisation no longer exists")
        return org_principal(session, org)
    if not token:
        return ANONYMOUS
    try:
        return principal_for_token(session, token)[0]
    except AuthError as error:
        raise TaxiiError(f"bank {bank.name!r}: the TAXII token for this hub is refused ({error})") from None


def may_write(principal: Principal, collection: HubCollection) -> bool:
    """What the hub's TAXII POST requires: a writer, and a member of the collection's trust group if any."""
    return (
        principal.can_write
        and principal.member_id not in (None, -1)
        and (collection.trust_group_id is None or collection.trust_group_id in principal.trust_group_ids)
    )


class LocalCollection:
    """A collection of this hub, read and written in process as `principal`."""

    on_hub = True

    def __init__(self, database: Database, principal: Principal, collection_id: str, title: str) -> None:
        self.database = database
        self.principal = principal
        self.collection_id = collection_id
        self.label = f"this hub's collection {title!r}"

    def close(self) -> None:
        pass

    def pages(self, added_after: str, page_size: int) -> Iterator[PageOut]:
        try:
            after = timestamps.to_micros(timestamps.parse(added_after)) if added_after else None
        except ValueError:
            after = None  # a cursor from before this format: start over (signals already held stay unchanged)
        query = Query(collection_id=self.collection_id, added_after=after, types=["indicator"])
        cursor: str | None = None
        while True:
            with self.database.session() as session:
                page = query_objects(session, self.principal, query, limit=page_size, cursor=cursor)
                objects = page.objects()
                last = timestamps.format_micros(page.rows[-1].date_added) if page.rows else added_after
            if objects:
                yield objects, last
            if not page.more or not page.next:
                return
            cursor = page.next

    def present_ids(self, page_size: int) -> set[str]:
        query = Query(collection_id=self.collection_id, types=["indicator"])
        present: set[str] = set()
        cursor: str | None = None
        with self.database.session() as session:
            while True:
                page = query_objects(session, self.principal, query, limit=max(page_size, 1000), cursor=cursor)
                present.update(row.stix_id for row in page.rows)
                if not page.more or not page.next:
                    return present
                cursor = page.next

    def add_objects(self, objects: list[dict[str, Any]]) -> None:
        with self.database.session() as session:
            collection = session.get(HubCollection, self.collection_id)
            if collection is None or not may_write(self.principal, collection):
                raise TaxiiError(f"{self.label}: the bank's organisation may not write to it")
            result = ingest(session, self.principal, collection, objects, Sharing())
            if not result.successes:
                reasons = "; ".join(str(f.get("message", "")) for f in result.failures)[:300]
                raise TaxiiError(f"the exchange refused the sighting: {reasons or 'no reason given'}")


# -- another server ----------------------------------------------------------------------------------------


class RemoteCollection:
    """A collection on another TAXII 2.1 server, reached only through the outbound checks."""

    on_hub = False

    def __init__(
        self,
        api_root: str,
        wanted: str,
        token: str,
        allow: outbound.Allowlist,
        resolve: outbound.Resolver = outbound.system_resolver,
    ) -> None:
        self.root = api_root.strip().rstrip("/") + "/"
        self.label = f"TAXII collection {wanted!r} at {self.root}"
        self.allow = allow
        self.resolve = resolve
        self.headers = {"Accept": TAXII_MEDIA, "User-Agent": "shieldwall-match"}
        if token:
            basic = base64.b64encode(f"token:{token}".encode()).decode()
            self.headers["Authorization"] = f"Basic {basic}"
        self.url = self.root + "collections/" + self._collection_id(wanted) + "/"

    def close(self) -> None:
        pass  # each request has its own client (see _fetch)

    def _request(self, method: str, url: str, params: dict[str, Any] | None = None, body: bytes = b"") -> Any:
        """The JSON answer, or TaxiiError in fixed words (the target is checked again on every request)."""
        if params:
            url = f"{url}?{urlencode(params)}"
        headers = {**self.headers, "Content-Type": TAXII_MEDIA} if body else self.headers
        data, headers_in = outbound.run_async(self._fetch, method, url, headers, body)
        try:
            document = orjson.loads(bytes(data)) if data else {}
        except orjson.JSONDecodeError:
            raise TaxiiError(f"{self.label}: the answer is not JSON") from None
        if not isinstance(document, dict):
            raise TaxiiError(f"{self.label}: the answer is not a TAXII resource")
        return document, {k.lower(): v for k, v in headers_in.items()}

    async def _fetch(self, method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[bytes, dict[str, str]]:
        """The answer's body and headers within REQUEST_SECONDS in all (however slowly the server sends it)."""
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
            try:
                request = outbound.pinned_request(client, method, url, headers, self.allow, self.resolve, body or None)
            except outbound.OutboundRefused as refused:
                raise TaxiiError(f"{self.label}: {refused}") from None
            try:
                with anyio.fail_after(REQUEST_SECONDS):
                    return await self._read(await client.send(request, stream=True))
            except (httpx.TimeoutException, TimeoutError):
                raise TaxiiError(f"{self.label}: {outbound.TIMED_OUT}") from None
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                raise TaxiiError(f"{self.label}: {outbound.UNREACHABLE}") from None
            except httpx.HTTPError:
                raise TaxiiError(f"{self.label}: {outbound.FAILED}") from None

    async def _read(self, response: httpx.Response) -> tuple[bytes, dict[str, str]]:
        try:
            if response.is_redirect:
                raise TaxiiError(f"{self.label}: HTTP {response.status_code}: redirects are not followed")
            if not response.is_success:
                raise TaxiiError(f"{self.label}: HTTP {response.status_code}")
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_RESPONSE_BYTES:
                    raise TaxiiError(f"{self.label}: an answer over {MAX_RESPONSE_BYTES} bytes")
            return bytes(data), dict(response.headers)
        finally:
            await response.aclose()

    def _collection_id(self, wanted: str) -> str:
        document, _ = self._request("GET", self.root + "collections/")
        for candidate in document.get("collections") or []:
            if isinstance(candidate, dict) and wanted in (
                candidate.get("id"),
                candidate.get("title"),
                candidate.get("alias"),
            ):
                found = str(candidate["id"])
                # The id goes into our request path: only a plain id, whatever the server sent.
                if not _PLAIN_ID.fullmatch(found):
                    raise TaxiiError(f"{self.label}: the server named the collection with an unusable id")
                return found
        if not _PLAIN_ID.fullmatch(wanted):
            raise TaxiiError(f"{self.label}: not a collection id the server lists")
        return wanted

    def _paged(self, path: str, params: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
        """Envelopes in order: TAXII's `next` when the server gives one, else added_after its last date."""
        params = dict(params)
        while True:
            document, headers = self._request("GET", self.url + path, params)
            last = headers.get("x-taxii-date-added-last", "")
            yield document, last
            if not document.get("more"):
                return
            if document.get("next"):
                params["next"] = str(document["next"])
            elif last and last != params.get("added_after"):
                params["added_after"] = last
            else:
                return  # "more" without a way forward: stop rather than loop

    def pages(self, added_after: str, page_size: int) -> Iterator[PageOut]:
        params: dict[str, Any] = {"match[type]": "indicator", "limit": page_size}
        if added_after:
            params["added_after"] = added_after
        cursor = added_after
        for document, last in self._paged("objects/", params):
            objects = [o for o in document.get("objects") or [] if isinstance(o, dict)]
            cursor = last or cursor
            if objects:
                yield objects, cursor

    def present_ids(self, page_size: int) -> set[str]:
        return {
            str(item["id"])
            for document, _ in self._paged("manifest/", {"match[type]": "indicator", "limit": page_size})
            for item in document.get("objects") or []
            if isinstance(item, dict) and "id" in item
        }

    def add_objects(self, objects: list[dict[str, Any]]) -> None:
        status, _ = self._request("POST", self.url + "objects/", body=orjson.dumps({"objects": objects}))
        if not (int(status.get("success_count") or 0) >= 1 or int(status.get("pending_count") or 0) >= 1):
            raise TaxiiError(f"{self.label}: the server refused the objects")


def open_source(
    database: Database,
    bank: Bank,
    secret_key: str,
    *,
    token: str | None = None,
    allow: outbound.Allowlist | None = None,
    resolve: outbound.Resolver = outbound.system_resolver,
) -> LocalCollection | RemoteCollection:
    """The bank's collection: in process when it is this hub's, else over HTTP through the outbound checks.
    `secret_key` opens the bank's sealed token; `token` overrides it; `allow` is the operator's allowlist."""
    if not bank.taxii_collection:
        raise TaxiiError(f"bank {bank.name!r} has no TAXII source; set --taxii-collection (and --taxii-api-root)")
    secret = token or bank_secret(bank, "taxii_token", secret_key)
    with database.session() as session:
        local = hub_collection(session, bank)
        if local is not None:
            return LocalCollection(database, bank_principal(session, bank, secret), local.id, local.title)
    if not bank.taxii_api_root:
        raise TaxiiError(f"bank {bank.name!r}: this hub has no collection {bank.taxii_collection!r}")
    return RemoteCollection(bank.taxii_api_root, bank.taxii_collection, secret, allow or outbound.Allowlist(), resolve)
