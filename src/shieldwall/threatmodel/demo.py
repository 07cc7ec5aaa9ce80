"""The threat model's demo: elections in the US, Brazil, Mexico, Germany and France, with campaigns mapped
to DISARM techniques at every TLP level, so a first visitor (who sees TLP:CLEAR) finds a filled heat map.

Robust to an empty exchange demo: it reuses member organisations' analysts when there are some, else
creates its own organisations and trust groups (slugs prefixed `tm-`). DISARM itself is imported from
`../shared/data/disarm/DISARM.json` next to the project when present; otherwise only the techniques the
demo uses are created (ids and names), and the pages say the full framework is not imported yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.config import Settings
from shieldwall.exchange import directory, objects
from shieldwall.exchange.auth import principal_for_member
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import Member, Organisation, TrustGroup
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from shieldwall.threatmodel import authoring, countermeasures, disarm
from shieldwall.threatmodel.elections import ElectionInput, create_election
from shieldwall.threatmodel.tables import Election

# The techniques the demo campaigns use: id -> (name, tactic id). Enough to draw the heat map without DISARM.
DEMO_TECHNIQUES: dict[str, tuple[str, str]] = {
    "T0073": ("Determine Target Audiences", "TA01"),
    "T0135": ("Undermine", "TA02"),
    "T0066": ("Degrade Adversary", "TA02"),
    "T0072.001": ("Geographic Segmentation", "TA13"),
    "T0080": ("Map Target Audience Information Environment", "TA13"),
    "T0022.001": ("Amplify Existing Conspiracy Theory Narratives", "TA14"),
    "T0068": ("Respond to Breaking News Event or Active Crisis", "TA14"),
    "T0023.001": ("Reframe Context", "TA06"),
    "T0086.002": ("Develop AI-Generated Images (Deepfakes)", "TA06"),
    "T0087": ("Develop Video-Based Content", "TA06"),
    "T0084": ("Reuse Existing Content", "TA06"),
    "T0146": ("Account Asset", "TA15"),
    "T0092": ("Build Network", "TA15"),
    "T0143.002": ("Fabricated Persona", "TA16"),
    "T0097.100": ("Individual Persona", "TA16"),
    "T0045": ("Use Fake Experts", "TA08"),
    "T0044": ("Seed Distortions", "TA08"),
    "T0016": ("Create Clickbait", "TA05"),
    "T0151.008": ("Microblogging Platform", "TA07"),
    "T0151.004": ("Chat Platform", "TA07"),
    "T0115": ("Post Content", "TA09"),
    "T0114.001": ("Social Media", "TA09"),
    "T0049.001": ("Trolls Amplify and Manipulate", "TA17"),
    "T0049.003": ("Bots Amplify via Automated Forwarding and Reposting", "TA17"),
    "T0118": ("Amplify Existing Narrative", "TA17"),
    "T0121": ("Manipulate Platform Algorithm", "TA17"),
    "T0048": ("Harass", "TA18"),
    "T0124": ("Suppress Opposition", "TA18"),
    "T0057": ("Organise Events", "TA10"),
    "T0129": ("Conceal Operational Activity", "TA11"),
    "T0132": ("Measure Performance", "TA12"),
}

DEMO_ORGS = (  # used only when the exchange demo has not created member organisations with analysts
    ("tm-chirp", "Chirp (social network)", "platform", "US"),
    ("tm-votewatch", "VoteWatch Lab", "research", "DE"),
    ("tm-cyber-agency", "National Election Security Centre", "government", "FR"),
)


@dataclass(frozen=True)
class DemoElection:
    slug: str
    country: str
    level: str
    name: str
    when: date
    description: str


ELECTIONS = (
    DemoElection(
        "us-presidential-2028",
        "US",
        "presidential",
        "Presidential election 2028",
        date(2028, 11, 7),
        "General election for President and Vice President; the House and a third of the Senate too.",
    ),
    DemoElection(
        "br-municipal-2028",
        "BR",
        "municipal",
        "Municipal elections 2028",
        date(2028, 10, 1),
        "Mayors and city councils in 5,568 municipalities; electronic voting machines.",
    ),
    DemoElection(
        "mx-federal-2027",
        "MX",
        "legislative",
        "Federal midterm election 2027",
        date(2027, 6, 6),
        "Chamber of Deputies, with state and local contests the same day.",
    ),
    DemoElection(
        "de-bavaria-2028",
        "DE",
        "state",
        "Bavarian state election 2028",
        date(2028, 10, 8),
        "Landtag election in Bavaria.",
    ),
    DemoElection(
        "fr-presidential-2027",
        "FR",
        "presidential",
        "Presidential election 2027 (first round)",
        date(2027, 4, 11),
        "First round of the presidential election; second round two weeks later.",
    ),
)

# (election slug, campaign, TLP, publisher index, techniques, actors, narratives, indicator URLs)
CAMPAIGNS: tuple[tuple[str, str, TLP, int, list[str], list[str], list[str], list[str]], ...] = (
    (
        "us-presidential-2028",
        "Mail-ballot fraud rumours, swing states",
        TLP.CLEAR,
        0,
        ["T0022.001", "T0023.001", "T0049.003", "T0151.008", "T0118"],
        ["Storm-1516"],
        ["Mail-in ballots are being harvested"],
        ["http://ballot-truth.example/harvest"],
    ),
    (
        "us-presidential-2028",
        "Deepfake robocalls discouraging turnout",
        TLP.CLEAR,
        1,
        ["T0086.002", "T0087", "T0124", "T0072.001"],
        [],
        ["Your vote will not count"],
        [],
    ),
    (
        "us-presidential-2028",
        "Fabricated local news network",
        TLP.AMBER,
        2,
        ["T0143.002", "T0097.100", "T0092", "T0049.003", "T0121"],
        ["Doppelganger"],
        ["Mail-in ballots are being harvested"],
        ["http://local-daily-news.example/", "http://county-herald.example/"],
    ),
    (
        "us-presidential-2028",
        "Election-worker harassment on chat apps",
        TLP.RED,
        2,
        ["T0048", "T0151.004", "T0057"],
        [],
        ["Election workers are corrupt"],
        [],
    ),
    (
        "us-presidential-2028",
        "Spanish-language ads discouraging registration",
        TLP.GREEN,
        0,
        ["T0114.001", "T0072.001", "T0016", "T0135"],
        [],
        ["Your vote will not count"],
        [],
    ),
    (
        "br-municipal-2028",
        "Voting-machine distrust on messaging groups",
        TLP.CLEAR,
        1,
        ["T0022.001", "T0151.004", "T0049.003", "T0084", "T0115"],
        [],
        ["Urnas eletrônicas são fraudadas"],
        ["http://urna-fraude.example/video"],
    ),
    (
        "br-municipal-2028",
        "Paid boosting of candidate smears",
        TLP.AMBER,
        0,
        ["T0114.001", "T0016", "T0023.001", "T0132"],
        [],
        ["Candidate X is a criminal"],
        [],
    ),
    (
        "mx-federal-2027",
        "Cartel-linked intimidation of candidates",
        TLP.GREEN,
        2,
        ["T0048", "T0124", "T0066", "T0073"],
        [],
        ["Voting is dangerous"],
        [],
    ),
    (
        "mx-federal-2027",
        "Inauthentic accounts pushing abstention",
        TLP.CLEAR,
        0,
        ["T0146", "T0049.001", "T0118", "T0135", "T0129"],
        [],
        ["Voting changes nothing"],
        [],
    ),
    (
        "de-bavaria-2028",
        "Migration scare stories with fake experts",
        TLP.CLEAR,
        1,
        ["T0045", "T0044", "T0068", "T0080", "T0151.008"],
        ["Doppelganger"],
        ["Migrants cause crime wave"],
        ["http://bayern-wahrheit.example/"],
    ),
    (
        "de-bavaria-2028",
        "Cloned news sites (Doppelganger)",
        TLP.AMBER_STRICT,
        1,
        ["T0143.002", "T0084", "T0049.003", "T0121"],
        ["Doppelganger"],
        ["Migrants cause crime wave"],
        [],
    ),
    (
        "fr-presidential-2027",
        "Fake polls and clickbait on microblogs",
        TLP.CLEAR,
        2,
        ["T0016", "T0023.001", "T0049.001", "T0115", "T0132"],
        ["Storm-1516"],
        ["The result is already decided"],
        ["http://sondage-exclusif.example/"],
    ),
    (
        "fr-presidential-2027",
        "Deepfake of a candidate",
        TLP.CLEAR,
        0,
        ["T0086.002", "T0087", "T0118", "T0135"],
        ["Storm-1516"],
        ["Candidate Y is unfit"],
        [],
    ),
)

COUNTERMEASURES = (
    ("us-presidential-2028", "T0022.001", "Prebunking videos on mail-ballot handling", 2),
    ("us-presidential-2028", "T0049.003", "Bot-network takedown pipeline", 0),
    ("br-municipal-2028", "T0151.004", "Forward limits on messaging groups", 0),
    ("de-bavaria-2028", "T0084", "Cloned-site domain watchlist", 1),
    ("fr-presidential-2027", "T0016", "Fact-check labels on fake polls", 2),
)


def _disarm_path() -> Path | None:
    roots = [Path.cwd(), Path(__file__).resolve().parents[3]]
    for root in roots:
        candidate = root.parent / "shared" / "data" / "disarm" / "DISARM.json"
        if candidate.is_file():
            return candidate
    return None


def _writers(session: Session) -> list[Principal]:
    """One analyst or admin from each of three member organisations (the exchange demo's, else ours)."""
    rows = session.execute(
        select(Member, Organisation)
        .join(Organisation, Organisation.id == Member.org_id)
        .where(
            Organisation.kind != "hub",
            Organisation.is_member.is_(True),
            Member.is_active.is_(True),
            Member.role.in_(("analyst", "admin")),
        )
        .order_by(Organisation.id, Member.id)
    ).all()
    by_org: dict[int, Member] = {}
    for member, org in rows:
        by_org.setdefault(org.id, member)
    if len(by_org) < 3:
        for slug, name, kind, country in DEMO_ORGS:
            demo_org = session.scalar(select(Organisation).where(Organisation.slug == slug))
            if demo_org is None:
                demo_org = directory.create_org(session, name, kind, country, slug=slug)
            analyst = session.scalar(select(Member).where(Member.org_id == demo_org.id))
            if analyst is None:
                analyst = directory.create_member(
                    session, demo_org, f"analyst@{slug}.example", f"{name} analyst", "analyst"
                )
            by_org.setdefault(demo_org.id, analyst)
    members = list(by_org.values())[:3]
    return [principal_for_member(session, m) for m in members]


def _trust_group(session: Session, election: DemoElection, writer_org_ids: list[int]) -> TrustGroup:
    """The election's working group: the demo's writers, every member platform, and the country's members."""
    slug = f"tm-{election.slug}"
    group = session.scalar(select(TrustGroup).where(TrustGroup.slug == slug))
    if group is None:
        local = session.scalars(
            select(Organisation.id).where(
                Organisation.is_member.is_(True),
                Organisation.kind != "hub",
                (Organisation.kind == "platform") | (Organisation.country == election.country),
            )
        ).all()
        group = directory.create_trust_group(
            session,
            f"{election.name} working group ({election.country})",
            "Platforms, agencies and researchers working on this election.",
            sorted({*writer_org_ids, *local}),
            slug=slug,
        )
    return group


def _indicators(
    session: Session, principal: Principal, campaign: dict[str, Any], tlp: TLP, urls: list[str], group_id: int
) -> None:
    items: list[dict[str, Any]] = []
    for url in urls:
        indicator = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": authoring.new_id("indicator"),
            "created": campaign["created"],
            "modified": campaign["modified"],
            "name": f"Campaign URL {url}",
            "pattern": f"[url:value = '{url}']",
            "pattern_type": "stix",
            "valid_from": campaign["created"],
            "object_marking_refs": [tlp.marking_id],
        }
        rel = {
            "type": "relationship",
            "spec_version": "2.1",
            "id": authoring.new_id("relationship"),
            "created": campaign["created"],
            "modified": campaign["modified"],
            "relationship_type": "indicates",
            "source_ref": indicator["id"],
            "target_ref": campaign["id"],
            "object_marking_refs": [tlp.marking_id],
        }
        items += [indicator, rel]
    if items:
        collection = directory.collection_by_alias(session, directory.DEFAULT_COLLECTION_ALIAS)
        sharing = objects.Sharing(tlp=tlp, trust_group_ids=[group_id] if tlp in (TLP.AMBER, TLP.AMBER_STRICT) else [])
        objects.ingest(session, principal, collection, items, sharing)


def _confirm(session: Session, confirmer: Principal, campaign_id: str, technique_id: str, tlp: TLP) -> None:
    technique = authoring.technique_or_error(session, technique_id)
    rel = authoring.relationship("uses", campaign_id, technique.stix_id, tlp, "Seen on our platform as well.")
    collection = directory.collection_by_alias(session, directory.DEFAULT_COLLECTION_ALIAS)
    result = objects.ingest(session, confirmer, collection, [rel], objects.Sharing(tlp=tlp))
    if result.failures:
        raise RuntimeError(f"demo confirmation refused: {result.failures[0]}")


AUTO = Path("auto")


def load(database: Database, settings: Settings, console: Console, disarm_bundle: Path | None = AUTO) -> None:
    """disarm_bundle: AUTO looks next to the project; None means no framework file (placeholders only)."""
    with database.session() as session:
        if session.scalar(select(Election.id).where(Election.slug == ELECTIONS[0].slug)) is not None:
            console.print("threatmodel demo: already loaded")
            return
        directory.ensure_hub(session, settings.hub_name)
        path = _disarm_path() if disarm_bundle == AUTO else disarm_bundle
        if path is not None:
            result = disarm.import_path(session, path)
            console.print(f"threatmodel demo: DISARM imported from {path} ({result.techniques_added} techniques)")
        else:
            disarm.ensure_placeholder_techniques(session, DEMO_TECHNIQUES)
            console.print("threatmodel demo: DISARM.json not found; created only the demo's techniques")
        writers = _writers(session)
        org_ids = [w.org_id for w in writers if w.org_id is not None]
        stored: dict[str, tuple[Election, int]] = {}
        for spec in ELECTIONS:
            group = _trust_group(session, spec, org_ids)
            election = create_election(
                session,
                ElectionInput(
                    spec.country,
                    spec.level,
                    spec.name,
                    spec.when,
                    group.id,
                    "scheduled",
                    spec.description,
                    slug=spec.slug,
                ),
                writers[0],
            )
            stored[spec.slug] = (election, group.id)
        # Writers' trust-group memberships changed above: read their principals again.
        writers = _writers(session)
        for slug, name, tlp, who, techniques, actors, narratives, urls in CAMPAIGNS:
            election, group_id = stored[slug]
            publisher = writers[who % len(writers)]
            others = [w.member_id for w in writers if w.member_id is not None and w is not publisher]
            campaign = authoring.create_campaign(
                session,
                publisher,
                authoring.CampaignInput(
                    name=name,
                    election_id=election.id,
                    description=f"Demo campaign against the {election.name} ({election.country}).",
                    tlp=tlp,
                    techniques=techniques,
                    technique_evidence="Observed by the publisher's trust and safety team; see linked indicators.",
                    actors=actors,
                    narratives=narratives,
                    first_seen="2026-09-01T00:00:00Z",
                    member_ids=others[:1] if tlp == TLP.RED else [],
                ),
            )
            _indicators(session, publisher, campaign, tlp, urls, group_id)
            # A second organisation confirms the first technique with its own relationship (it may not change
            # another's campaign), so the heat map counts organisations too.
            if tlp in (TLP.CLEAR, TLP.GREEN):
                _confirm(session, writers[(who + 1) % len(writers)], campaign["id"], techniques[0], tlp)
        for slug, technique, name, who in COUNTERMEASURES:
            countermeasures.record(session, writers[who % len(writers)], stored[slug][0], technique, name)
    console.print(f"threatmodel demo: {len(ELECTIONS)} elections, {len(CAMPAIGNS)} campaigns")
