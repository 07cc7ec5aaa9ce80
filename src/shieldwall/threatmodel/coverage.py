"""Per election: which DISARM techniques campaigns used (as the reader may see them), and the countermeasures.

Counts: `campaigns` = distinct visible campaigns linked to the election with a visible `uses` relationship
to the technique; `organisations` = distinct publishers of those relationships (anonymous submissions,
whose publisher is sealed, count together as one source).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange.policy import Principal
from shieldwall.threatmodel import countermeasures
from shieldwall.threatmodel.disarm import is_imported
from shieldwall.threatmodel.graph import CampaignGraph, CampaignView, TechniqueCatalogue
from shieldwall.threatmodel.tables import Countermeasure, Election, Tactic, Technique, TechniqueTactic

ANONYMOUS_SOURCE = -1


@dataclass
class Cell:
    external_id: str
    name: str
    is_subtechnique: bool
    campaigns: set[str] = field(default_factory=set)
    organisations: set[int] = field(default_factory=set)
    countermeasures: list[Countermeasure] = field(default_factory=list)

    @property
    def campaign_count(self) -> int:
        return len(self.campaigns)

    @property
    def organisation_count(self) -> int:
        return len(self.organisations)

    @property
    def in_place(self) -> int:
        return sum(1 for m in self.countermeasures if m.status == "in place")

    @property
    def heat(self) -> int:
        """0..4, for the colour scale."""
        n = self.campaign_count
        return 0 if n == 0 else 1 if n == 1 else 2 if n == 2 else 3 if n <= 4 else 4


@dataclass
class Column:
    tactic: Tactic
    cells: list[Cell]

    @property
    def observed(self) -> int:
        return sum(1 for c in self.cells if c.campaign_count)


@dataclass
class Coverage:
    election: Election
    columns: list[Column]
    views: list[CampaignView]
    cells: dict[str, Cell]  # every observed or countered technique, by DISARM id
    unknown_techniques: list[Cell]  # observed ids the framework here does not know
    framework_imported: bool

    @property
    def observed_cells(self) -> list[Cell]:
        return sorted((c for c in self.cells.values() if c.campaign_count), key=lambda c: c.external_id)


def compute(session: Session, principal: Principal, election: Election, *, show_all: bool = False) -> Coverage:
    catalogue = TechniqueCatalogue.load(session)
    graph = CampaignGraph(session, principal, catalogue)
    views = graph.views(graph.campaign_ids_for_election(election.stix_id))
    cells: dict[str, Cell] = {}

    def cell_for(external_id: str, name: str) -> Cell:
        if external_id not in cells:
            known = catalogue.by_external_id.get(external_id)
            cells[external_id] = Cell(
                external_id, known.name if known else name, known.is_subtechnique if known else "." in external_id
            )
        return cells[external_id]

    for view in views:
        for use in view.techniques:
            cell = cell_for(use.external_id, use.name)
            cell.campaigns.add(view.campaign.id)
            publisher = use.relationship.publisher_org_id
            cell.organisations.add(ANONYMOUS_SOURCE if publisher is None else publisher)
    # Countermeasures are our own table, with their own readers (see countermeasures.py): never widened by
    # the election's fields.
    for measure in countermeasures.visible_for(session, principal, election.id):
        cell_for(measure.technique_external_id, measure.technique_external_id).countermeasures.append(measure)

    tactics = list(session.scalars(select(Tactic).order_by(Tactic.position)))
    membership = session.execute(
        select(TechniqueTactic.tactic_id, Technique.external_id, Technique.name, Technique.is_subtechnique)
        .join(Technique, Technique.id == TechniqueTactic.technique_id)
        .order_by(Technique.external_id)
    ).all()
    per_tactic: dict[int, list[Cell]] = defaultdict(list)
    placed: set[str] = set()
    for tactic_id, external_id, name, is_sub in membership:
        observed = cells.get(external_id)
        if observed is None and is_sub and not show_all:
            continue  # unobserved sub-techniques stay folded under their parent
        cell = observed if observed is not None else Cell(external_id, name, is_sub)
        per_tactic[tactic_id].append(cell)
        placed.add(external_id)
    columns = [Column(tactic, per_tactic.get(tactic.id, [])) for tactic in tactics]
    unknown = [c for key, c in sorted(cells.items()) if key not in placed]
    return Coverage(election, columns, views, cells, unknown, is_imported(session))


def navigator_layer(coverage: Coverage, tactic_shortnames: dict[str, list[str]]) -> dict[str, Any]:
    """An ATT&CK/DISARM Navigator layer (format 4.5): one entry per technique and tactic it belongs to."""
    election = coverage.election
    techniques: list[dict[str, Any]] = []
    top = max((c.campaign_count for c in coverage.cells.values()), default=0)
    for cell in sorted(coverage.cells.values(), key=lambda c: c.external_id):
        measures = "; ".join(f"{m.name} ({m.status}, {m.org_name})" for m in cell.countermeasures)
        comment = f"{cell.campaign_count} campaign(s), {cell.organisation_count} organisation(s) reporting"
        if measures:
            comment += f"; countermeasures: {measures}"
        for shortname in tactic_shortnames.get(cell.external_id, [""]):
            entry: dict[str, Any] = {
                "techniqueID": cell.external_id,
                "score": cell.campaign_count,
                "comment": comment,
                "enabled": True,
                "showSubtechniques": False,
                "metadata": [
                    {"name": "campaigns", "value": str(cell.campaign_count)},
                    {"name": "organisations", "value": str(cell.organisation_count)},
                    {"name": "countermeasures", "value": str(len(cell.countermeasures))},
                ],
            }
            if shortname:
                entry["tactic"] = shortname
            techniques.append(entry)
    return {
        "name": f"{election.name} ({election.country}, {election.election_date.isoformat()})",
        "versions": {"layer": "4.5", "navigator": "4.9.1", "attack": "1.0"},
        "domain": "DISARM",
        "description": "Observed DISARM techniques in campaigns targeting this election, as the exporter may see "
        "them on the Shieldwall hub. Score = number of campaigns.",
        "sorting": 3,
        "layout": {"layout": "side", "showID": True, "showName": True, "aggregateFunction": "max"},
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {"colors": ["#fff3e0", "#ff9800", "#b71c1c"], "minValue": 0, "maxValue": max(top, 1)},
        "legendItems": [],
        "metadata": [
            {"name": "election", "value": election.stix_id},
            {"name": "country", "value": election.country},
            {"name": "date", "value": election.election_date.isoformat()},
        ],
        "showTacticRowBackground": False,
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
    }


def tactic_shortnames(session: Session) -> dict[str, list[str]]:
    rows = session.execute(
        select(Technique.external_id, Tactic.shortname)
        .join(TechniqueTactic, TechniqueTactic.technique_id == Technique.id)
        .join(Tactic, Tactic.id == TechniqueTactic.tactic_id)
    ).all()
    result: dict[str, list[str]] = defaultdict(list)
    for external_id, shortname in rows:
        result[external_id].append(shortname)
    return dict(result)
