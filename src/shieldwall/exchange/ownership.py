"""Who may write what: ids belong to their first publisher, references obey reads, attribution is the submitter's.

`ingest` runs every valid object of a submission through `screen` before storing anything:
- the official TLP marking definitions and the hub's organisation identities are reserved: a TLP marking that
  matches the official one is acknowledged (the hub already serves it), any other content fails;
- an id belongs to the organisation that first published it (to the hub, with the sealed source, for anonymous
  submissions): only the owner's writers add versions, and a deleted id stays deleted for everyone else;
- created_by_ref and where_sighted_refs may only name the submitter's own organisation (the hub's when
  anonymous);
- sightings, opinions, notes, reports, groupings and relationships may only reference objects the submitter
  may read (or that come in the same submission). Anything else fails as "not found", the same answer as for
  an id the hub has never seen, so nothing about hidden objects leaks or changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shieldwall.exchange.policy import Principal, visible_to
from shieldwall.exchange.tables import ObjectOwner, Organisation, StixObject
from shieldwall.stix.tlp import MARKING_TO_TLP, TLP, TLP2_EXTENSION_ID
from shieldwall.store.base import utcnow

# Properties that point at other objects and so may only name what the submitter may read.
REFERENCE_PROPERTIES = {
    "sighting": ("sighting_of_ref", "observed_data_refs"),
    "relationship": ("source_ref", "target_ref"),
    "opinion": ("object_refs",),
    "note": ("object_refs",),
    "report": ("object_refs",),
    "grouping": ("object_refs",),
}
# References to objects that need not be stored: marking definitions, language content and cyber observables
# are referred to by id without being shared as reports.
_UNCHECKED_PREFIXES = ("marking-definition--", "extension-definition--", "language-content--")


@dataclass
class Submitter:
    """Who is writing, as the ownership rules need it."""

    principal: Principal
    anonymous: bool
    own_identity: str
    hub_identity: str
    hub_org_id: int
    org_identities: dict[str, int] = field(default_factory=dict)  # identity id -> organisation id

    @property
    def org_id(self) -> int:
        assert self.principal.org_id is not None
        return self.principal.org_id

    @property
    def attributed_identity(self) -> str:
        return self.hub_identity if self.anonymous else self.own_identity


def submitter_for(session: Session, principal: Principal, anonymous: bool) -> Submitter:
    identities = dict(session.execute(select(Organisation.identity_id, Organisation.id)).tuples().all())
    hub = session.execute(select(Organisation.id, Organisation.identity_id).where(Organisation.kind == "hub")).first()
    if hub is None:
        raise RuntimeError("the hub has no operator organisation; run `shieldwall admin init-db`")
    own = next((identity for identity, org_id in identities.items() if org_id == principal.org_id), "")
    return Submitter(principal, anonymous, own, hub.identity_id, hub.id, identities)


def _official_level(obj: dict[str, Any]) -> TLP | None:
    """The TLP level a marking-definition object declares (TLP 2.0 extension or TLP 1.0 definition)."""
    extension = (obj.get("extensions") or {}).get(TLP2_EXTENSION_ID) or {}
    declared = extension.get("tlp_2_0") or (obj.get("definition") or {}).get("tlp")
    try:
        return TLP.parse(declared) if isinstance(declared, str) else None
    except ValueError:
        return None


def _references(obj: dict[str, Any]) -> Iterable[str]:
    for prop in REFERENCE_PROPERTIES.get(obj.get("type", ""), ()):
        value = obj.get(prop)
        for ref in value if isinstance(value, list) else [value]:
            if isinstance(ref, str) and not ref.startswith(_UNCHECKED_PREFIXES) and "--" in ref:
                yield ref


# One answer whether the id is hidden, deleted or another's: the submitter learns nothing more.
_TAKEN = "this id belongs to another publisher (or was deleted); only its publisher may add versions"


@dataclass
class Screening:
    """The outcome for a submission: objects to store, failures, and reserved objects acknowledged as-is."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    acknowledged: list[dict[str, Any]] = field(default_factory=list)


def screen(session: Session, who: Submitter, objects: Sequence[dict[str, Any]]) -> Screening:
    """Sort a submission's valid objects into what may be stored and what fails, and claim new ids."""
    out = Screening()
    owners = _owners(session, {obj["id"] for obj in objects})
    candidates: list[dict[str, Any]] = []
    for obj in objects:
        reason = _attribution_problem(who, obj) or _ownership_problem(who, obj, owners.get(obj["id"]))
        if obj["id"] in MARKING_TO_TLP:
            if _official_level(obj) == MARKING_TO_TLP[obj["id"]]:
                out.acknowledged.append(obj)
                continue
            reason = "reserved id: the official TLP marking definitions cannot be replaced"
        if reason:
            out.failures.append({"id": obj["id"], "message": reason})
        else:
            candidates.append(obj)

    # References: what the same submission brings, or what the submitter may read on the hub.
    batch_ids = {obj["id"] for obj in candidates}
    wanted = {ref for obj in candidates for ref in _references(obj)} - batch_ids
    readable = _readable_ids(session, who.principal, wanted)
    for obj in candidates:
        missing = sorted({ref for ref in _references(obj) if ref not in batch_ids and ref not in readable})
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            out.failures.append({"id": obj["id"], "message": f"not found: {shown} (references must name objects "
                                 "you may read, or objects in the same submission)"})
        else:
            out.accepted.append(obj)
    lost = _claim(session, who, [obj["id"] for obj in out.accepted], owners)
    if lost:
        out.failures += [{"id": obj["id"], "message": _TAKEN} for obj in out.accepted if obj["id"] in lost]
        out.accepted = [obj for obj in out.accepted if obj["id"] not in lost]
    return out


def _attribution_problem(who: Submitter, obj: dict[str, Any]) -> str | None:
    creator = obj.get("created_by_ref")
    if isinstance(creator, str) and creator != who.attributed_identity and _is_hub_identity(who, creator):
        return (f"created_by_ref names {creator}, which is not your organisation's identity "
                f"({who.attributed_identity}); use it or leave created_by_ref out")
    for place in obj.get("where_sighted_refs") or ():
        if isinstance(place, str) and place != who.attributed_identity and _is_hub_identity(who, place):
            return (f"where_sighted_refs names {place}, which is not your organisation's identity "
                    f"({who.attributed_identity})")
    stix_id = obj["id"]
    if _is_hub_identity(who, stix_id) and stix_id != who.own_identity:
        return "reserved id: the identities of the hub's organisations are managed by the hub"
    if stix_id == who.own_identity and who.anonymous:
        return "reserved id: an anonymous submission cannot carry its source's identity"
    return None


def _is_hub_identity(who: Submitter, ref: str) -> bool:
    return ref == who.hub_identity or ref in who.org_identities


def _ownership_problem(who: Submitter, obj: dict[str, Any], owner: Owner | None) -> str | None:
    if owner is None:
        return None
    if who.anonymous:
        mine = owner.sealed_org_id == who.org_id
    else:
        mine = owner.sealed_org_id is None and owner.org_id == who.org_id
    if mine:
        return None
    return _TAKEN


class Owner(NamedTuple):
    org_id: int
    sealed_org_id: int | None
    deleted_at: datetime | None


def _owners(session: Session, ids: Iterable[str]) -> dict[str, Owner]:
    found: dict[str, Owner] = {}
    wanted = sorted(ids)
    columns = (ObjectOwner.stix_id, ObjectOwner.org_id, ObjectOwner.sealed_org_id, ObjectOwner.deleted_at)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for stix_id, org_id, sealed, deleted in session.execute(select(*columns).where(ObjectOwner.stix_id.in_(chunk))):
            found[stix_id] = Owner(org_id, sealed, deleted)
    return found


def _readable_ids(session: Session, principal: Principal, ids: set[str]) -> set[str]:
    readable: set[str] = set()
    wanted = sorted(ids)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        readable.update(
            session.scalars(select(StixObject.stix_id).where(visible_to(principal), StixObject.stix_id.in_(chunk)))
        )
    return readable


def _claim(session: Session, who: Submitter, ids: Sequence[str], owners: dict[str, Owner]) -> set[str]:
    """Record the submitter as owner of its new ids; an owner re-posting a deleted id undeletes it. Returns the
    new ids another organisation claimed first (two organisations racing for one brand-new id: the first wins).
    """
    undelete = sorted({i for i in ids if i in owners and owners[i].deleted_at is not None})
    for start in range(0, len(undelete), 500):
        session.execute(
            update(ObjectOwner).where(ObjectOwner.stix_id.in_(undelete[start : start + 500])).values(deleted_at=None)
        )
    new = sorted({i for i in ids if i not in owners})
    if not new:
        return set()
    org_id, sealed = (who.hub_org_id, who.org_id) if who.anonymous else (who.org_id, None)
    now = utcnow()
    rows = [{"stix_id": i, "org_id": org_id, "sealed_org_id": sealed, "created_at": now} for i in new]
    if session.get_bind().dialect.name == "postgresql":
        # Concurrent writers of other collections may claim the same id: the rows not inserted lost the race.
        statement = pg_insert(ObjectOwner).on_conflict_do_nothing().returning(ObjectOwner.stix_id)
        inserted = set(session.scalars(statement, rows))
        return lost_claims(session, who, [i for i in new if i not in inserted])
    # SQLite has one writer at a time and this transaction holds the write lock: nobody can race it.
    session.execute(sqlite_insert(ObjectOwner).on_conflict_do_nothing(), rows)
    return set()


def lost_claims(session: Session, who: Submitter, ids: Sequence[str]) -> set[str]:
    """Ids of this submission that another organisation claimed first (a race on a brand-new id)."""
    owners = _owners(session, set(ids))
    return {i for i in ids if i in owners and _ownership_problem(who, {"id": i}, owners[i]) is not None}


def mark_deleted(session: Session, stix_ids: Iterable[str]) -> None:
    """The owner deleted every version of these ids: nobody else may bring them back."""
    wanted = sorted(set(stix_ids))
    now = utcnow()
    for start in range(0, len(wanted), 500):
        session.execute(
            update(ObjectOwner).where(ObjectOwner.stix_id.in_(wanted[start : start + 500])).values(deleted_at=now)
        )
