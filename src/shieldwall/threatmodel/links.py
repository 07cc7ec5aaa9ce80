"""An index of which object points at which, so a page asks the exchange for a few ids instead of reading
every relationship on the hub.

The exchange cannot filter relationships by source or target, so each reader's visible relationships and
notes are read once, incrementally (`added_after` its last mark, with an overlap for transactions that
commit late), and their ids and refs kept in `tm_links`. The index only proposes candidate ids: every
candidate is read again through `exchange.objects` for the reader at hand, so the sharing rule still decides
what anybody sees. A reader whose audience changes (e.g. its organisation joins a trust group) is rescanned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shieldwall.exchange import objects
from shieldwall.exchange.policy import Principal
from shieldwall.threatmodel.tables import Link, ScanMark

OVERLAP_MICROS = 120 * 1_000_000  # re-read the last two minutes: a slow transaction may commit behind the mark
PAGE = 1000
CHUNK = 500


def reader_key(principal: Principal) -> str:
    return f"member:{principal.member_id}" if principal.is_authenticated else "anonymous"


def audience_key(principal: Principal) -> str:
    groups = ",".join(str(g) for g in sorted(principal.trust_group_ids))
    return f"org={principal.org_id};member_org={int(principal.org_is_member)};groups={groups}"


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _rows_of(obj: dict[str, Any]) -> list[dict[str, str]]:
    if obj.get("type") == "relationship":
        source, target = obj.get("source_ref"), obj.get("target_ref")
        if isinstance(source, str) and isinstance(target, str):
            kind = str(obj.get("relationship_type", ""))[:64]
            return [{"object_id": obj["id"], "source_ref": source, "target_ref": target, "kind": kind}]
        return []
    refs = [r for r in obj.get("object_refs") or () if isinstance(r, str)]
    return [{"object_id": obj["id"], "source_ref": obj["id"], "target_ref": r, "kind": "note"} for r in refs]


def sync(session: Session, principal: Principal) -> int:
    """Index what this reader may see and has not been indexed for it yet; returns how many objects were read."""
    key, audience = reader_key(principal), audience_key(principal)
    mark = session.get(ScanMark, key)
    fresh = mark is None or mark.audience_key != audience
    added_after = None if fresh or mark is None else max(0, mark.added_until - OVERLAP_MICROS)
    newest = 0 if fresh or mark is None else mark.added_until
    cursor: str | None = None
    seen = 0
    insert = _insert(session)
    while True:
        page = objects.query_objects(
            session,
            principal,
            objects.Query(types=["relationship", "note"], added_after=added_after),
            limit=PAGE,
            cursor=cursor,
        )
        unique: dict[tuple[str, str], dict[str, str]] = {}
        for row in page.rows:
            newest = max(newest, row.date_added)
            for link in _rows_of(orjson.loads(row.body)):
                unique[(link["object_id"], link["target_ref"])] = link
        if unique:
            session.execute(insert(Link).on_conflict_do_nothing(), list(unique.values()))
        seen += len(page.rows)
        if not page.more or page.next is None:
            break
        cursor = page.next
    values = {"reader_key": key, "audience_key": audience, "added_until": newest}
    session.execute(
        insert(ScanMark)
        .values(**values)
        .on_conflict_do_update(index_elements=["reader_key"], set_={"audience_key": audience, "added_until": newest})
    )
    return seen


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def pointing_at(session: Session, target_ids: Iterable[str], kind: str | None = None) -> set[str]:
    """Candidate ids of relationships (or notes, kind="note") whose target is one of target_ids."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(target_ids))):
        statement = select(Link.object_id).where(Link.target_ref.in_(chunk))
        if kind is not None:
            statement = statement.where(Link.kind == kind)
        found.update(session.scalars(statement))
    return found


def touching(session: Session, ids: Iterable[str]) -> tuple[set[str], set[str]]:
    """Candidate relationship ids with one end among ids, and candidate note ids referring to one of them."""
    relationships: set[str] = set()
    notes: set[str] = set()
    for chunk in _chunks(sorted(set(ids))):
        rows = session.execute(
            select(Link.object_id, Link.kind).where(or_(Link.source_ref.in_(chunk), Link.target_ref.in_(chunk)))
        ).all()
        for object_id, kind in rows:
            (notes if kind == "note" else relationships).add(object_id)
    return relationships, notes
