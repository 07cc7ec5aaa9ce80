"""The campaign graph as one reader may see it, read only through the exchange's sharing rule.

Model (all STIX 2.1 in the exchange, each object under its own TLP marking):
- `campaign --targets--> x-shieldwall-election` links a campaign to an election;
- `campaign --uses--> attack-pattern` maps a DISARM technique (the attack-pattern carries the DISARM
  external id, e.g. T0049.001); the relationship's description and external_references are its evidence;
- `campaign --attributed-to--> threat-actor | intrusion-set` names actors;
- `campaign --uses--> x-shieldwall-narrative` names the narratives it pushes;
- `indicator --indicates--> campaign`, `note` objects whose object_refs name the campaign and
  `observed-data` related to it are further evidence.
A link counts only when the reader may see both the relationship and the campaign.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange import objects
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import StixObject
from shieldwall.threatmodel.disarm import technique_external_id
from shieldwall.threatmodel.tables import Tactic, Technique, TechniqueTactic

NARRATIVE_TYPE = "x-shieldwall-narrative"
ACTOR_TYPES = ("threat-actor", "intrusion-set")
EVIDENCE_TYPES = ("indicator", "observed-data", "note")
# What a campaign's relationships may lead to and the pages show (an id's prefix is its type).
LINKED_TYPES = ("attack-pattern", NARRATIVE_TYPE, *ACTOR_TYPES, "indicator", "observed-data")
PAGE = 1000


@dataclass(frozen=True)
class Seen:
    """The newest visible version of one STIX object, with where and how it is shared."""

    obj: dict[str, Any]
    tlp: int
    publisher_org_id: int | None
    collection_id: str
    pk: int

    @property
    def id(self) -> str:
        return str(self.obj["id"])

    @property
    def name(self) -> str:
        return str(self.obj.get("name") or self.obj.get("abstract") or self.obj.get("pattern") or self.obj["id"])


def load_visible(
    session: Session, principal: Principal, types: Sequence[str], ids: Iterable[str] | None = None
) -> dict[str, Seen]:
    """Every visible object of these types (optionally only these ids), newest version per id."""
    found: dict[str, Seen] = {}
    id_list = sorted(set(ids)) if ids is not None else None
    chunks: list[Sequence[str]] = (
        [()] if id_list is None else [id_list[i : i + 500] for i in range(0, len(id_list), 500)]
    )
    for chunk in chunks:
        if id_list is not None and not chunk:
            continue
        cursor: str | None = None
        while True:
            page = objects.query_objects(
                session, principal, objects.Query(types=list(types), ids=list(chunk)), limit=PAGE, cursor=cursor
            )
            for row in page.rows:
                known = found.get(row.stix_id)
                if known is None or row.modified > str(known.obj.get("modified", "")):
                    found[row.stix_id] = Seen(
                        orjson.loads(row.body), row.tlp, row.publisher_org_id, row.collection_id, row.pk
                    )
            if not page.more or page.next is None:
                break
            cursor = page.next
    return found


def _seen(row: StixObject) -> Seen:
    return Seen(orjson.loads(row.body), row.tlp, row.publisher_org_id, row.collection_id, row.pk)


def _newest(rows: Iterable[StixObject]) -> dict[str, Seen]:
    """One version per id (the newest) among rows that may come from several collections."""
    newest: dict[str, StixObject] = {}
    for row in rows:
        known = newest.get(row.stix_id)
        if known is None or row.modified > known.modified:
            newest[row.stix_id] = row
    return {stix_id: _seen(row) for stix_id, row in newest.items()}


def load_by_ids(session: Session, principal: Principal, types: Sequence[str], ids: Iterable[str]) -> dict[str, Seen]:
    """The newest visible version of each id whose type is one of types (the type is the id's prefix, so ids
    of other types are not even asked for)."""
    wanted = sorted({i for i in ids if i.split("--", 1)[0] in types})
    if not wanted:
        return {}
    return {stix_id: _seen(row) for stix_id, row in objects.latest_by_ids(session, principal, wanted).items()}


def notes_referring(session: Session, principal: Principal, ids: set[str]) -> dict[str, list[Seen]]:
    """The reader's visible notes whose object_refs name one of ids, by referred id (an indexed lookup)."""
    about: dict[str, list[Seen]] = defaultdict(list)
    if not ids:
        return about
    newest: dict[str, Any] = {}
    for row in objects.referring_many(session, principal, sorted(ids), types=["note"]):
        if row.stix_id not in newest or row.modified > newest[row.stix_id].modified:
            newest[row.stix_id] = row
    for row in newest.values():
        note = _seen(row)
        for ref in dict.fromkeys(str(r) for r in note.obj.get("object_refs") or ()):
            if ref in ids:
                about[ref].append(note)
    return about


@dataclass
class TechniqueUse:
    external_id: str
    name: str
    tactics: list[tuple[str, str]]  # (TA id, tactic name)
    relationship: Seen
    evidence: str
    evidence_urls: list[str]


@dataclass
class CampaignView:
    campaign: Seen
    election_ids: list[str] = field(default_factory=list)
    techniques: list[TechniqueUse] = field(default_factory=list)
    unresolved_patterns: list[str] = field(default_factory=list)  # attack-patterns with no DISARM id we know
    actors: list[Seen] = field(default_factory=list)
    narratives: list[Seen] = field(default_factory=list)
    indicators: list[Seen] = field(default_factory=list)
    notes: list[Seen] = field(default_factory=list)
    observed: list[Seen] = field(default_factory=list)


@dataclass
class TechniqueCatalogue:
    """What the threat model knows about DISARM techniques, to name and place what campaigns use."""

    by_external_id: dict[str, Technique]
    external_by_stix_id: dict[str, str]
    tactics_of: dict[str, list[tuple[str, str]]]

    @classmethod
    def load(cls, session: Session) -> TechniqueCatalogue:
        techniques = list(session.scalars(select(Technique)))
        tactic_rows = session.execute(
            select(TechniqueTactic.technique_id, Tactic.external_id, Tactic.name, Tactic.position)
            .join(Tactic, Tactic.id == TechniqueTactic.tactic_id)
            .order_by(Tactic.position)
        ).all()
        by_pk = {t.id: t.external_id for t in techniques}
        tactics_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for technique_id, tactic_id, tactic_name, _ in tactic_rows:
            tactics_of[by_pk[technique_id]].append((tactic_id, tactic_name))
        return cls(
            by_external_id={t.external_id: t for t in techniques},
            external_by_stix_id={t.stix_id: t.external_id for t in techniques},
            tactics_of=dict(tactics_of),
        )


class CampaignGraph:
    """Campaigns and what hangs off them, walked through the exchange by relationship ends
    (`objects.related_many`, indexed on source_ref/target_ref) and read for this reader by the sharing rule:
    nothing is cached between requests, so what a page shows is what the reader may see now."""

    def __init__(self, session: Session, principal: Principal, catalogue: TechniqueCatalogue | None = None) -> None:
        self.session = session
        self.principal = principal
        self.catalogue = catalogue or TechniqueCatalogue.load(session)
        self.outgoing: dict[str, list[Seen]] = defaultdict(list)
        self.incoming: dict[str, list[Seen]] = defaultdict(list)

    def _relationships(
        self, ids: Iterable[str], *, end: str, relationship_types: Sequence[str] = ()
    ) -> dict[str, Seen]:
        """The reader's visible relationships with one end among ids, newest version per id."""
        rows = objects.related_many(
            self.session, self.principal, sorted(set(ids)), relationship_types=relationship_types, end=end
        )
        return _newest(row for row in rows if row.stix_type == "relationship")

    def campaign_ids_for_election(self, election_stix_id: str) -> list[str]:
        found = self._relationships([election_stix_id], end="target", relationship_types=["targets"])
        return sorted(
            {
                str(rel.obj["source_ref"])
                for rel in found.values()
                if str(rel.obj.get("source_ref")).startswith("campaign--")
            }
        )

    def views(self, campaign_ids: Iterable[str] | None = None, *, with_notes: bool = False) -> list[CampaignView]:
        """Views of the visible campaigns among campaign_ids (every visible campaign when None).

        Notes are read only with_notes (the campaign page shows them; the other pages do not)."""
        if campaign_ids is None:
            campaigns = load_visible(self.session, self.principal, ["campaign"])
        else:
            campaigns = load_by_ids(self.session, self.principal, ["campaign"], campaign_ids)
        if not campaigns:
            return []
        # Outgoing (targets, uses, attributed-to, related-to) and incoming (indicates, related-to) in one walk.
        for rel in self._relationships(campaigns, end="either").values():
            self.outgoing[str(rel.obj.get("source_ref"))].append(rel)
            self.incoming[str(rel.obj.get("target_ref"))].append(rel)
        ends: set[str] = set()
        for cid in campaigns:
            ends.update(str(r.obj.get("target_ref")) for r in self.outgoing.get(cid, []))
            ends.update(str(r.obj.get("source_ref")) for r in self.incoming.get(cid, []))
        linked = load_by_ids(self.session, self.principal, LINKED_TYPES, ends)
        observed_ids = {k for k, v in linked.items() if v.obj["type"] == "observed-data"}
        notes_about = (
            notes_referring(self.session, self.principal, set(campaigns) | observed_ids)
            if with_notes
            else defaultdict(list)
        )
        views = [self._view(seen, linked, notes_about) for seen in campaigns.values()]
        views.sort(
            key=lambda v: (str(v.campaign.obj.get("first_seen") or v.campaign.obj.get("created")), v.campaign.name)
        )
        return views

    def _view(self, seen: Seen, linked: dict[str, Seen], notes_about: dict[str, list[Seen]]) -> CampaignView:
        view = CampaignView(campaign=seen, notes=list(notes_about.get(seen.id, [])))
        for rel in self.outgoing.get(seen.id, []):
            kind = rel.obj.get("relationship_type")
            target_id = str(rel.obj.get("target_ref"))
            target = linked.get(target_id)
            if kind == "targets" and target_id.startswith("x-shieldwall-election--"):
                view.election_ids.append(target_id)
            elif kind == "uses" and target_id.startswith("attack-pattern--"):
                external = technique_external_id(target.obj) if target is not None else None
                external = external or self.catalogue.external_by_stix_id.get(target_id)
                if external is None:
                    view.unresolved_patterns.append(target.name if target is not None else target_id)
                    continue
                known = self.catalogue.by_external_id.get(external)
                name = known.name if known is not None else (target.name if target is not None else external)
                view.techniques.append(
                    TechniqueUse(
                        external_id=external,
                        name=name,
                        tactics=self.catalogue.tactics_of.get(external, []),
                        relationship=rel,
                        evidence=str(rel.obj.get("description") or ""),
                        evidence_urls=[
                            str(ref["url"])
                            for ref in rel.obj.get("external_references") or ()
                            # Only web links: a javascript: URL from another source must not become a link.
                            if isinstance(ref, dict) and str(ref.get("url", "")).startswith(("https://", "http://"))
                        ],
                    )
                )
            elif kind == "uses" and target is not None and target.obj["type"] == NARRATIVE_TYPE:
                view.narratives.append(target)
            elif kind == "attributed-to" and target is not None and target.obj["type"] in ACTOR_TYPES:
                view.actors.append(target)
            elif target is not None and target.obj["type"] == "observed-data":
                view.observed.append(target)
        for rel in self.incoming.get(seen.id, []):
            source = linked.get(str(rel.obj.get("source_ref")))
            if source is None:
                continue
            if source.obj["type"] == "indicator" and rel.obj.get("relationship_type") == "indicates":
                view.indicators.append(source)
            elif source.obj["type"] == "observed-data":
                view.observed.append(source)
        # Detect's notes describe the observed-data it links to the campaign.
        known_notes = {n.id for n in view.notes}
        for observed in view.observed:
            for note in notes_about.get(observed.id, []):
                if note.id not in known_notes:
                    view.notes.append(note)
                    known_notes.add(note.id)
        view.techniques.sort(key=lambda t: (t.tactics[0][0] if t.tactics else "ZZ", t.external_id))
        return view
