"""A small, fully known threat picture: one election, campaigns from three organisations at four TLP levels.

Who may see what (tests/support/hub.py: chirp and agency are in the us-2026 trust group, lab is a member
organisation outside it, newsroom is a guest that sees only TLP:CLEAR):

  campaign  TLP     publisher  techniques (uses)                      extra
  C1        CLEAR   chirp      T0049.003, T0022.001                    lab also maps T0049.003 (CLEAR)
  C2        GREEN   agency     T0049.003, T0086.002
  C3        AMBER   chirp      T0086.002, T0048   (audience: us-2026)  an AMBER indicator
  C4        RED     agency     T0124              (agency analyst only)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.exchange import directory, objects
from shieldwall.exchange.auth import principal_for_member
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import Member
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from shieldwall.threatmodel import authoring, disarm
from shieldwall.threatmodel.elections import ElectionInput, create_election
from tests.support.hub import Hub

TECHNIQUES = {
    "T0049.003": ("Bots Amplify via Automated Forwarding and Reposting", "TA17"),
    "T0022.001": ("Amplify Existing Conspiracy Theory Narratives", "TA14"),
    "T0086.002": ("Develop AI-Generated Images (Deepfakes)", "TA06"),
    "T0048": ("Harass", "TA18"),
    "T0124": ("Suppress Opposition", "TA18"),
}

# reader -> technique -> (campaigns, organisations) the heat map must show
EXPECTED: dict[str, dict[str, tuple[int, int]]] = {
    "anonymous": {"T0049.003": (1, 2), "T0022.001": (1, 1)},
    "guest": {"T0049.003": (1, 2), "T0022.001": (1, 1)},
    "lab": {"T0049.003": (2, 3), "T0022.001": (1, 1), "T0086.002": (1, 1)},
    "chirp": {"T0049.003": (2, 3), "T0022.001": (1, 1), "T0086.002": (2, 2), "T0048": (1, 1)},
    "agency": {"T0049.003": (2, 3), "T0022.001": (1, 1), "T0086.002": (2, 2), "T0048": (1, 1), "T0124": (1, 1)},
}
CAMPAIGNS_SEEN = {"anonymous": 1, "guest": 1, "lab": 2, "chirp": 3, "agency": 4}


@dataclass
class Scenario:
    election_id: int
    election_stix_id: str
    campaigns: dict[str, str] = field(default_factory=dict)  # C1.. -> campaign id


def principal(session: Session, hub: Hub, who: str) -> Principal:
    if who == "anonymous":
        return Principal()
    member = session.get(Member, hub.member_ids[who])
    assert member is not None
    return principal_for_member(session, member)


def disarm_stix_id(session: Session, external_id: str) -> str:
    return authoring.technique_or_error(session, external_id).stix_id


def build(database: Database, hub: Hub, *, with_placeholders: bool = True) -> Scenario:
    with database.session() as session:
        if with_placeholders:
            disarm.ensure_placeholder_techniques(session, TECHNIQUES)
        chirp, agency, lab = (principal(session, hub, w) for w in ("chirp", "agency", "lab"))
        election = create_election(
            session,
            ElectionInput("US", "legislative", "Midterm test election", date(2030, 11, 5), hub.group_id),
            chirp,
        )
        scenario = Scenario(election.id, election.stix_id)

        def campaign(who: Principal, name: str, tlp: TLP, techniques: list[str], **extra: Any) -> str:
            obj = authoring.create_campaign(
                session,
                who,
                authoring.CampaignInput(name=name, election_id=election.id, tlp=tlp, techniques=techniques, **extra),
            )
            return str(obj["id"])

        scenario.campaigns["C1"] = campaign(
            chirp,
            "Bot amplification of fraud claims",
            TLP.CLEAR,
            ["T0049.003", "T0022.001"],
            narratives=["Ballots are rigged"],
            actors=["Storm-0000"],
        )
        # lab corroborates chirp's campaign with its own relationship (only chirp may change C1 itself).
        confirm = authoring.relationship(
            "uses", scenario.campaigns["C1"], disarm_stix_id(session, "T0049.003"), TLP.CLEAR, "Seen in our sample too"
        )
        hub_wide = directory.collection_by_alias(session, directory.DEFAULT_COLLECTION_ALIAS)
        assert not objects.ingest(session, lab, hub_wide, [confirm], objects.Sharing(tlp=TLP.CLEAR)).failures
        scenario.campaigns["C2"] = campaign(
            agency, "Deepfake flyers", TLP.GREEN, ["T0049.003", "T0086.002"], narratives=["Ballots are rigged"]
        )
        scenario.campaigns["C3"] = campaign(
            chirp,
            "Harassment of poll workers",
            TLP.AMBER,
            ["T0086.002", "T0048"],
            narratives=["Poll workers cheat"],
            technique_evidence="Reports from 40 poll workers",
            evidence_urls=["https://evidence.example/report-1"],
        )
        c3 = authoring.visible_campaign(session, chirp, scenario.campaigns["C3"])
        indicator = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": authoring.new_id("indicator"),
            "created": "2026-10-01T10:00:00.000Z",
            "modified": "2026-10-01T10:00:00.000Z",
            "name": "Harassment site",
            "pattern": "[url:value = 'http://harass.example/']",
            "pattern_type": "stix",
            "valid_from": "2026-10-01T10:00:00Z",
        }
        relation = {
            "type": "relationship",
            "spec_version": "2.1",
            "id": authoring.new_id("relationship"),
            "created": "2026-10-01T10:00:00.000Z",
            "modified": "2026-10-01T10:00:00.000Z",
            "relationship_type": "indicates",
            "source_ref": indicator["id"],
            "target_ref": c3.id,
        }
        collection, sharing = authoring.sharing_like(session, chirp, c3)
        objects.ingest(session, chirp, collection, [indicator, relation], sharing)
        scenario.campaigns["C4"] = campaign(agency, "Suppression plan (source-sensitive)", TLP.RED, ["T0124"])
        directory.ensure_hub(session, "Test hub")
    return scenario
