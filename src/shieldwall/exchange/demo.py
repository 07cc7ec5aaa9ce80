"""The exchange's part of the demo: organisations, a trust group for an upcoming election, shared objects
at every TLP level with relationships, sightings and opinions, and sign-in accounts printed to the console.

Everything here is fictional; names are made up and domains use the reserved .example/.test TLDs.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import func, select

from shieldwall.config import Settings
from shieldwall.exchange import directory
from shieldwall.exchange import objects as store
from shieldwall.exchange.auth import principal_for_member
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import Member, Opinion, Organisation, Sighting
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow
from shieldwall.store.db import Database

DEMO_PASSWORD = "shieldwall-demo"

ORGANISATIONS = [
    # slug, name, kind, country, member?
    ("chirp", "Chirp (social platform)", "platform", "US", True),
    ("vidstream", "VidStream (video platform)", "platform", "BR", True),
    ("adnet", "AdNet Search & Ads", "platform", "US", True),
    ("us-esa", "US Election Security Agency (fictional)", "government", "US", True),
    ("br-electoral-court", "Electoral Court Cyber Unit (fictional, BR)", "election_authority", "BR", True),
    ("de-bsi-like", "Federal Office for Election Integrity (fictional, DE)", "government", "DE", True),
    ("disinfo-lab", "Disinfo Research Lab", "research", "DE", True),
    ("factcheck-fr", "FactCheck France (guest)", "civil_society", "FR", False),
]

PEOPLE = [
    # e-mail, org, role, name
    ("operator@hub.example", "hub", "admin", "Hub operator"),
    ("analyst@chirp.example", "chirp", "analyst", "Dana Chirp"),
    ("admin@chirp.example", "chirp", "admin", "Chirp admin"),
    ("analyst@vidstream.example", "vidstream", "analyst", "Rafa VidStream"),
    ("analyst@adnet.example", "adnet", "analyst", "Ada AdNet"),
    ("analyst@esa.example", "us-esa", "analyst", "Sam ESA"),
    ("analyst@tse.example", "br-electoral-court", "analyst", "Bia Electoral Court"),
    ("analyst@wahl.example", "de-bsi-like", "analyst", "Jonas Wahl"),
    ("researcher@lab.example", "disinfo-lab", "analyst", "Lena Lab"),
    ("reader@factcheck.example", "factcheck-fr", "reader", "Claire FactCheck"),
]


def is_empty(database: Database) -> bool:
    with database.session() as session:
        return not session.scalar(select(func.count()).select_from(Member))


def _sdo(kind: str, **props: Any) -> dict[str, Any]:
    stamp = props.pop("at", "2026-10-20T09:00:00.000Z")
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        **props,
    }


def _indicator(pattern: str, name: str, **props: Any) -> dict[str, Any]:
    return _sdo(
        "indicator",
        name=name,
        pattern=pattern,
        pattern_type="stix",
        valid_from="2026-10-01T00:00:00Z",
        indicator_types=["malicious-activity"],
        **props,
    )


def _rel(source: dict[str, Any], kind: str, target: dict[str, Any]) -> dict[str, Any]:
    return _sdo("relationship", relationship_type=kind, source_ref=source["id"], target_ref=target["id"])


def us_operation() -> list[dict[str, Any]]:
    """A fictional foreign influence operation aimed at the US midterms: campaign, actor, infrastructure."""
    actor = _sdo(
        "threat-actor",
        name="Storm Harbor (fictional)",
        threat_actor_types=["nation-state"],
        description="Fictional actor used in the Shieldwall demo.",
    )
    campaign = _sdo(
        "campaign",
        name="Operation Quiet Ballot (demo)",
        description="Coordinated accounts push fabricated claims about mail-in ballot destruction.",
        first_seen="2026-09-12T00:00:00Z",
    )
    domain = _indicator("[domain-name:value = 'ballot-truth-news.example']", "ballot-truth-news.example")
    url = _indicator("[url:value = 'https://ballot-truth-news.example/shredded-ballots']", "Shredded-ballots story")
    account = _indicator("[user-account:account_login = 'patriot_eagle_1776_x']", "chirp:patriot_eagle_1776_x")
    pdq = "f8f8f0cee0f4a84f06370a32038f67f0b36e2ed596623e1d33e6339c4e9c9b22"
    image = _indicator(f"[file:hashes.'SHA-256' = '{'ab' * 32}']", "Doctored ballot-box photo", x_shieldwall_pdq=pdq)
    return [
        actor,
        campaign,
        domain,
        url,
        account,
        image,
        _rel(campaign, "attributed-to", actor),
        _rel(domain, "indicates", campaign),
        _rel(url, "indicates", campaign),
        _rel(account, "indicates", campaign),
        _rel(image, "indicates", campaign),
    ]


def br_operation() -> list[dict[str, Any]]:
    campaign = _sdo(
        "campaign",
        name="Urna Fraudada network (demo)",
        description="Video channels recycle the same edited clip claiming voting-machine fraud.",
    )
    channel = _indicator("[user-account:account_login = 'verdade_urnas_br']", "vidstream:verdade_urnas_br")
    url = _indicator("[url:value = 'https://urnas-verdade.test/video/123']", "Edited clip landing page")
    return [campaign, channel, url, _rel(channel, "indicates", campaign), _rel(url, "indicates", campaign)]


def load(database: Database, settings: Settings, console: Console) -> None:
    with database.session() as session:
        hub = directory.ensure_hub(session, settings.hub_name)
        orgs = {"hub": hub}
        for slug, name, kind, country, member in ORGANISATIONS:
            existing = session.scalar(select(Organisation).where(Organisation.slug == slug))
            orgs[slug] = existing or directory.create_org(session, name, kind, country, is_member=member, slug=slug)
        members: dict[str, Member] = {}
        for email, org_slug, role, name in PEOPLE:
            found = session.scalar(select(Member).where(Member.email == email))
            members[email] = found or directory.create_member(
                session,
                orgs[org_slug],
                email,
                name,
                role,
                password=DEMO_PASSWORD,
                is_operator=email.startswith("operator@"),
            )
        us_group = directory.create_trust_group(
            session,
            "US 2026 midterms working group",
            "Platforms and the election-security agency working on the US midterm elections of 3 Nov 2026.",
            [orgs[s].id for s in ("chirp", "adnet", "us-esa", "disinfo-lab")],
            slug="us-2026-midterms",
        )
        br_group = directory.create_trust_group(
            session,
            "Brasil 2026 eleições",
            "Platforms and the electoral court on the Brazilian general election.",
            [orgs[s].id for s in ("vidstream", "chirp", "br-electoral-court")],
            slug="br-2026",
        )
        directory.create_collection(
            session, "us-2026-midterms", "US 2026 midterms (working group)", "", TLP.AMBER, us_group.id
        )
        directory.create_collection(session, "br-2026", "Brasil 2026 (grupo de trabalho)", "", TLP.AMBER, br_group.id)
        hub_wide = directory.collection_by_alias(session, directory.DEFAULT_COLLECTION_ALIAS)

        def share(who: Principal, items: list[dict[str, Any]], sharing: store.Sharing) -> None:
            result = store.ingest(session, who, hub_wide, items, sharing)
            if result.failures:  # the demo must show what it says it shares
                raise RuntimeError(f"demo object refused: {result.failures[0]}")

        chirp = principal_for_member(session, members["analyst@chirp.example"])
        vid = principal_for_member(session, members["analyst@vidstream.example"])
        esa = principal_for_member(session, members["analyst@esa.example"])
        lab = principal_for_member(session, members["researcher@lab.example"])

        voters = _sdo("identity", name="Voters in the affected counties (demo)", identity_class="group")
        advisory = _sdo(
            "report",
            name="Public advisory: fake polling-place change messages (demo)",
            description="SMS and posts claim polling places moved. Check official sources.",
            report_types=["threat-report"],
            published="2026-10-21T00:00:00Z",
            object_refs=[voters["id"]],
        )
        share(esa, [voters, advisory], store.Sharing(tlp=TLP.CLEAR))
        lab_note = _sdo(
            "note",
            content="Our crawl shows 240 lookalike local-news domains registered since August.",
            abstract="Lookalike local-news domains (demo)",
            object_refs=[advisory["id"]],
        )
        share(lab, [lab_note], store.Sharing(tlp=TLP.GREEN))
        us_objects = us_operation()
        share(chirp, us_objects, store.Sharing(tlp=TLP.AMBER, trust_group_ids=[us_group.id]))
        strict = _indicator("[ipv4-addr:value = '203.0.113.77']", "Botnet controller (AMBER+STRICT demo)")
        share(chirp, [strict], store.Sharing(tlp=TLP.AMBER_STRICT, org_ids=[orgs["us-esa"].id]))
        red = _indicator("[email-addr:value = 'recruiter@quiet-ballot.test']", "Insider recruiter (RED demo)")
        share(chirp, [red], store.Sharing(tlp=TLP.RED, member_ids=[members["analyst@esa.example"].id]))
        br_objects = br_operation()
        share(vid, br_objects, store.Sharing(tlp=TLP.AMBER, trust_group_ids=[br_group.id]))
        tip = _indicator("[domain-name:value = 'eleicao-segura-app.test']", "Fake voter app (anonymous tip)")
        share(vid, [tip], store.Sharing(tlp=TLP.AMBER, trust_group_ids=[br_group.id], anonymous=True))

        now = utcnow()
        for org_slug, count in (("adnet", 17), ("us-esa", 3)):
            session.add(
                Sighting(
                    sighting_id=f"sighting--{uuid.uuid4()}",
                    sighting_of=us_objects[2]["id"],
                    org_id=orgs[org_slug].id,
                    count=count,
                    first_seen=now - timedelta(days=6),
                    last_seen=now - timedelta(days=1),
                )
            )
        session.add(
            Opinion(
                object_id=us_objects[2]["id"],
                org_id=orgs["us-esa"].id,
                member_id=members["analyst@esa.example"].id,
                verdict="agree",
                explanation="Matches our own reporting.",
            )
        )
    console.print(
        f"demo: sign in at /login with e.g. analyst@chirp.example, analyst@esa.example, researcher@lab.example, "
        f"reader@factcheck.example or operator@hub.example; password [bold]{DEMO_PASSWORD}[/bold]"
    )


__all__ = ["DEMO_PASSWORD", "is_empty", "load"]
