"""Analysts' writes: campaigns, technique mappings and election links.

Every STIX write goes through `exchange.objects.ingest`, so it is validated, versioned, audited and shared
by the one sharing rule. A campaign belongs to the organisation that published it: only that organisation's
writers map techniques onto it or link it to elections here, and each such link is shared exactly as the
campaign version they see (same TLP, same audience, same collection). Another organisation that wants to
corroborate publishes its own relationship through the exchange, attributed to itself.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange import directory, objects
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import Collection, Member, Organisation
from shieldwall.stix.disarm_refs import minimal_attack_pattern
from shieldwall.stix.tlp import TLP
from shieldwall.threatmodel.elections import MAX_ID, get_election, publish_election
from shieldwall.threatmodel.graph import NARRATIVE_TYPE, Seen, load_visible
from shieldwall.threatmodel.tables import Election, Tactic, Technique
from shieldwall.threatmodel.tables import TechniqueTactic as Membership


class AuthoringError(ValueError):
    """A write that cannot be done; the message names the field."""


class UnknownReference(AuthoringError):
    """A field names something that does not exist or that the caller may not name; the message names the
    field (answered 422)."""


class NotVisible(LookupError):
    """The object does not exist or the principal may not see it (the same answer, so existence does not leak)."""


CAMPAIGN_ID = re.compile(r"campaign--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def no_nul(field_name: str, *values: str | None) -> None:
    """Text is stored as given, and PostgreSQL cannot store NUL characters: refuse them, naming the field."""
    if any(value is not None and "\x00" in value for value in values):
        raise AuthoringError(f"{field_name}: contains a NUL character")


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_id(kind: str) -> str:
    return f"{kind}--{uuid.uuid4()}"


def _require_writer(principal: Principal) -> None:
    if not principal.can_write:
        raise PermissionError("your role may not write; ask an admin of your organisation for the analyst role")


def sharing_like(session: Session, principal: Principal, seen: Seen) -> tuple[Collection, objects.Sharing]:
    """The collection and sharing (TLP and audience) of a visible object, to share things attached to it the
    same way. The audience comes from the exchange (`objects.audience_of`), for the version principal sees."""
    sharing = objects.audience_of(session, principal, seen.id)
    if sharing is None:
        raise NotVisible(f"no object {seen.id}")
    return directory.collection_by_id(session, seen.collection_id), sharing


def visible_campaign(session: Session, principal: Principal, campaign_id: str) -> Seen:
    # Only a well-formed campaign id can name one; anything else is "no campaign" without a query.
    found = load_visible(session, principal, ["campaign"], [campaign_id]) if CAMPAIGN_ID.fullmatch(campaign_id) else {}
    if campaign_id not in found:
        raise NotVisible(f"no campaign {campaign_id}")
    return found[campaign_id]


def owned_campaign(session: Session, principal: Principal, campaign_id: str) -> Seen:
    """The campaign, if principal's organisation owns it and principal may write: NotVisible when principal may
    not read it, PermissionError when it may read but not change it."""
    _require_writer(principal)
    campaign = visible_campaign(session, principal, campaign_id)
    # The owner published the id's first version (the exchange lets nobody else add versions); anonymous
    # submissions have no publisher on record, so nobody changes them here.
    versions = objects.get_versions(session, principal, None, campaign_id)
    first = min(versions, key=lambda row: row.pk) if versions else None
    if first is None or first.publisher_org_id is None or first.publisher_org_id != principal.org_id:
        raise PermissionError(
            "only the organisation that published this campaign may change it; to corroborate it, publish your "
            "own relationship through the exchange"
        )
    return campaign


def technique_or_error(session: Session, external_id: str) -> Technique:
    wanted = external_id.strip().upper()
    valid = len(wanted) <= 16 and "\x00" not in wanted
    technique = session.scalar(select(Technique).where(Technique.external_id == wanted)) if valid else None
    if technique is None:
        raise AuthoringError(
            f"technique {external_id!r} is not in the DISARM framework here "
            "(run `shieldwall threatmodel import-disarm PATH`)"
        )
    return technique


def technique_stix(session: Session, technique: Technique) -> dict[str, Any]:
    """The attack-pattern for a technique: DISARM's own object when imported, else a minimal one."""
    if technique.stix_json:
        obj: dict[str, Any] = json.loads(technique.stix_json)
        return obj
    phases = session.scalars(
        select(Tactic.shortname)
        .join(Membership, Membership.tactic_id == Tactic.id)
        .where(Membership.technique_id == technique.id)
    ).all()
    return {
        **minimal_attack_pattern(technique.stix_id, technique.external_id, technique.name),
        "kill_chain_phases": [{"kill_chain_name": "disarm", "phase_name": p} for p in phases],
    }


def ensure_techniques_published(session: Session, principal: Principal, techniques: list[Technique]) -> None:
    """The framework is public: its attack-patterns go to the hub-wide collection at TLP:CLEAR on first use,
    so every reader (and TAXII client) can resolve the `uses` relationships that point at them."""
    wanted = {t.stix_id: t for t in techniques}
    present = load_visible(session, principal, ["attack-pattern"], wanted)
    missing = [technique_stix(session, t) for sid, t in wanted.items() if sid not in present]
    if missing:
        collection = directory.collection_by_alias(session, directory.DEFAULT_COLLECTION_ALIAS)
        result = objects.ingest(session, principal, collection, missing, objects.Sharing(tlp=TLP.CLEAR))
        if result.failures:
            raise AuthoringError(f"technique object refused: {result.failures[0]}")


def relationship(
    kind: str, source: str, target: str, tlp: TLP, description: str = "", urls: list[str] | None = None
) -> dict[str, Any]:
    stamp = now_stamp()
    rel: dict[str, Any] = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": new_id("relationship"),
        "created": stamp,
        "modified": stamp,
        "relationship_type": kind,
        "source_ref": source,
        "target_ref": target,
        "object_marking_refs": [tlp.marking_id],
    }
    if description:
        rel["description"] = description
    if urls:
        rel["external_references"] = [{"source_name": "evidence", "url": u} for u in urls]
    return rel


def _ingest(
    session: Session,
    principal: Principal,
    collection: Collection,
    items: list[dict[str, Any]],
    sharing: objects.Sharing,
) -> None:
    result = objects.ingest(session, principal, collection, items, sharing)
    if result.failures:
        failure = result.failures[0]
        raise AuthoringError(f"the exchange refused {failure['id']}: {failure['message']}")


def map_technique(
    session: Session,
    principal: Principal,
    campaign_id: str,
    external_id: str,
    evidence: str = "",
    evidence_urls: list[str] | None = None,
) -> dict[str, Any]:
    """Record that a campaign uses a DISARM technique: a `uses` relationship shared like the campaign."""
    campaign = owned_campaign(session, principal, campaign_id)
    no_nul("evidence", evidence)
    no_nul("evidence_urls", *(evidence_urls or ()))
    technique = technique_or_error(session, external_id)
    ensure_techniques_published(session, principal, [technique])
    collection, sharing = sharing_like(session, principal, campaign)
    rel = relationship(
        "uses", campaign_id, technique.stix_id, TLP(campaign.tlp), evidence.strip(), _urls(evidence_urls)
    )
    _ingest(session, principal, collection, [rel], sharing)
    return rel


def link_election(session: Session, principal: Principal, campaign_id: str, election: Election) -> dict[str, Any]:
    """`campaign --targets--> election`, shared like the campaign (e.g. for campaigns detect found)."""
    campaign = owned_campaign(session, principal, campaign_id)
    if not load_visible(session, principal, [election.stix_id.split("--")[0]], [election.stix_id]):
        publish_election(session, principal, election)
    collection, sharing = sharing_like(session, principal, campaign)
    rel = relationship("targets", campaign_id, election.stix_id, TLP(campaign.tlp))
    _ingest(session, principal, collection, [rel], sharing)
    return rel


def _urls(urls: list[str] | None) -> list[str]:
    cleaned = [u.strip() for u in urls or () if u and u.strip()]
    for url in cleaned:
        if not url.startswith(("http://", "https://")):
            raise AuthoringError(f"evidence URL {url!r} must start with http:// or https://")
    return cleaned


@dataclass
class CampaignInput:
    name: str
    election_id: int | None = None
    description: str = ""
    tlp: TLP = TLP.AMBER
    techniques: list[str] = field(default_factory=list)  # DISARM ids
    technique_evidence: str = ""
    evidence_urls: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)  # threat-actor names
    narratives: list[str] = field(default_factory=list)
    first_seen: str | None = None  # STIX timestamp
    org_ids: list[int] = field(default_factory=list)
    trust_group_ids: list[int] = field(default_factory=list)
    member_ids: list[int] = field(default_factory=list)
    collection_alias: str = directory.DEFAULT_COLLECTION_ALIAS


def create_campaign(session: Session, principal: Principal, data: CampaignInput) -> dict[str, Any]:
    """An analyst's campaign with its election, actors, narratives and techniques, all shared alike.

    TLP:AMBER without a named audience goes to the election's trust group when the author's organisation is
    in it (else to the author's organisation alone): the election's group is a default the author may pick,
    never a way for whoever set it to read what others share."""
    _require_writer(principal)
    if not data.name.strip():
        raise AuthoringError("name is empty")
    for field_name in ("name", "description", "technique_evidence", "first_seen"):
        no_nul(field_name, getattr(data, field_name))
    for field_name in ("techniques", "evidence_urls", "actors", "narratives"):
        no_nul(field_name, *getattr(data, field_name))
    election = get_election(session, data.election_id) if data.election_id is not None else None
    if data.election_id is not None and election is None:
        raise UnknownReference(f"election_id {data.election_id}: no such election")
    check_audience(session, principal, data.tlp, data.org_ids, data.trust_group_ids, data.member_ids)
    techniques = [
        technique_or_error(session, t) for t in dict.fromkeys(x.strip().upper() for x in data.techniques if x.strip())
    ]
    urls = _urls(data.evidence_urls)
    tlp = data.tlp
    groups = list(data.trust_group_ids)
    if (
        tlp in (TLP.AMBER, TLP.AMBER_STRICT)
        and not groups
        and not data.org_ids
        and election
        and election.trust_group_id
        and election.trust_group_id in principal.trust_group_ids
    ):
        groups = [election.trust_group_id]
    try:
        collection = directory.collection_by_alias(session, data.collection_alias)
    except directory.DirectoryError as error:
        raise AuthoringError(str(error)) from None
    sharing = objects.Sharing(tlp=tlp, org_ids=data.org_ids, trust_group_ids=groups, member_ids=data.member_ids)
    stamp = now_stamp()
    marking = [tlp.marking_id]
    campaign: dict[str, Any] = {
        "type": "campaign",
        "spec_version": "2.1",
        "id": new_id("campaign"),
        "created": stamp,
        "modified": stamp,
        "name": data.name.strip(),
        "object_marking_refs": marking,
    }
    if data.description.strip():
        campaign["description"] = data.description.strip()
    if data.first_seen:
        campaign["first_seen"] = data.first_seen
    items: list[dict[str, Any]] = [campaign]
    if election is not None:
        if not load_visible(session, principal, ["x-shieldwall-election"], [election.stix_id]):
            publish_election(session, principal, election)
        items.append(relationship("targets", campaign["id"], election.stix_id, tlp))
    for actor_name in dict.fromkeys(a.strip() for a in data.actors if a.strip()):
        actor: dict[str, Any] = {
            "type": "threat-actor",
            "spec_version": "2.1",
            "id": new_id("threat-actor"),
            "created": stamp,
            "modified": stamp,
            "name": actor_name,
            "object_marking_refs": marking,
        }
        items += [actor, relationship("attributed-to", campaign["id"], actor["id"], tlp)]
    for narrative_name in dict.fromkeys(n.strip() for n in data.narratives if n.strip()):
        narrative: dict[str, Any] = {
            "type": NARRATIVE_TYPE,
            "spec_version": "2.1",
            "id": new_id(NARRATIVE_TYPE),
            "created": stamp,
            "modified": stamp,
            "name": narrative_name,
            "object_marking_refs": marking,
        }
        items += [narrative, relationship("uses", campaign["id"], narrative["id"], tlp)]
    if techniques:
        ensure_techniques_published(session, principal, techniques)
    for technique in techniques:
        items.append(
            relationship("uses", campaign["id"], technique.stix_id, tlp, data.technique_evidence.strip(), urls)
        )
    _ingest(session, principal, collection, items, sharing)
    return campaign


def check_audience(
    session: Session,
    principal: Principal,
    tlp: TLP,
    org_ids: list[int],
    trust_group_ids: list[int],
    member_ids: list[int],
) -> None:
    """The named audience exists and may be named by principal; UnknownReference names the field otherwise."""
    if tlp == TLP.RED and (org_ids or trust_group_ids):
        raise UnknownReference("org_ids, trust_group_ids: TLP:RED is shared with named members (member_ids) only")
    if member_ids and tlp != TLP.RED:
        raise UnknownReference("member_ids: only TLP:RED names individual members; use org_ids or trust_group_ids")
    for group_id in trust_group_ids:
        if group_id not in principal.trust_group_ids:
            raise UnknownReference(f"trust_group_ids: {group_id} is not a trust group your organisation belongs to")
    for org_id in org_ids:
        if not 1 <= org_id <= MAX_ID or session.get(Organisation, org_id) is None:
            raise UnknownReference(f"org_ids: no organisation {org_id}")
    for member_id in member_ids:
        member = session.get(Member, member_id) if 1 <= member_id <= MAX_ID else None
        if member is None or not member.is_active:
            raise UnknownReference(f"member_ids: no member {member_id}")
