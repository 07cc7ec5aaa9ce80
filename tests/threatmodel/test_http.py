"""The threat model's API and pages through real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid

import httpx

from shieldwall.store.db import Database
from shieldwall.threatmodel import disarm
from tests.support.hub import Hub
from tests.support.live import LiveServer
from tests.threatmodel import scenario as sc


def client(live_server: LiveServer, hub: Hub | None = None, who: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {hub.tokens[who]}"} if hub and who else {}
    return httpx.Client(base_url=live_server.url, headers=headers, timeout=30)


def test_elections_api_calendar_and_errors(live_server: LiveServer, live_hub: Hub) -> None:
    chirp = client(live_server, live_hub, "chirp")
    body = {
        "country": "BR",
        "level": "municipal",
        "name": "Municipal elections",
        "date": "2032-10-03",
        "trust_group_id": live_hub.group_id,
    }
    created = chirp.post("/api/threatmodel/elections", json=body)
    assert created.status_code == 201, created.text
    election = created.json()
    assert election["country"] == "BR" and election["stix_id"].startswith("x-shieldwall-election--")
    assert election["trust_group"] == "US 2026 working group"
    past = chirp.post("/api/threatmodel/elections", json={**body, "name": "Old one", "date": "2001-10-07"})
    assert past.status_code == 201

    bad = chirp.post("/api/threatmodel/elections", json={**body, "country": "Brazil"})
    assert bad.status_code == 400 and "ISO 3166-1" in bad.json()["detail"]
    bad_level = chirp.post("/api/threatmodel/elections", json={**body, "level": "galactic"})
    assert bad_level.status_code == 400 and "level" in bad_level.json()["detail"]
    assert (
        client(live_server, live_hub, "chirp_reader").post("/api/threatmodel/elections", json=body).status_code == 403
    )
    assert client(live_server).post("/api/threatmodel/elections", json=body).status_code == 401

    changed = chirp.patch(f"/api/threatmodel/elections/{election['id']}", json={"status": "campaigning"})
    assert changed.status_code == 200 and changed.json()["status"] == "campaigning"
    assert chirp.patch(f"/api/threatmodel/elections/{election['id']}", json={"status": "won"}).status_code == 400
    listed = client(live_server).get("/api/threatmodel/elections", params={"upcoming": "true"}).json()
    assert [e["name"] for e in listed] == ["Municipal elections"]
    page = client(live_server).get("/elections")
    assert page.status_code == 200 and "Municipal elections" in page.text and "Old one" not in page.text
    assert "Old one" in client(live_server).get("/elections", params={"show_past": "true"}).text
    # The election's STIX object is public (TLP:CLEAR) in the exchange, for campaigns to point at.
    taxii = httpx.get(
        f"{live_server.url}/taxii2/hub/collections/{live_hub.collection_id}/objects/{election['stix_id']}/",
        auth=("lab", live_hub.tokens["lab"]),
        headers={"Accept": "application/taxii+json;version=2.1"},
    )
    assert taxii.status_code == 200 and taxii.json()["objects"][0]["x_country"] == "BR"
    assert taxii.json()["objects"][0]["x_status"] == "campaigning"  # the newest version
    assert client(live_server).get("/elections/999999").status_code == 404


def test_campaign_page_mapping_heat_map_navigator_and_briefing(live_server: LiveServer, live_hub: Hub) -> None:
    database: Database = live_server.app.state.database
    picture = sc.build(database, live_hub)
    eid = picture.election_id
    chirp, lab = client(live_server, live_hub, "chirp"), client(live_server, live_hub, "lab")

    # An analyst writes a campaign through the API.
    made = chirp.post(
        "/api/threatmodel/campaigns",
        json={
            "name": "Robocall wave",
            "election_id": eid,
            "tlp": "amber",
            "techniques": ["T0086.002", "T0124"],
            "actors": ["Robo Group"],
            "narratives": ["Polls moved"],
            "evidence": "Call recordings",
            "evidence_urls": ["https://evidence.example/calls"],
        },
    )
    assert made.status_code == 201, made.text
    campaign_id = made.json()["id"]
    bad = chirp.post("/api/threatmodel/campaigns", json={"name": "x", "election_id": eid, "techniques": ["T9999"]})
    assert bad.status_code == 400 and "T9999" in bad.json()["detail"]

    # The campaign page shows its techniques (tactic, id, name), election, actors, narratives and evidence.
    page = chirp.get(f"/campaigns/{campaign_id}")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="technique-row" data-technique="([^"]+)">(.*?)</tr>', page.text, re.S)
    assert [r[0] for r in rows] == ["T0086.002", "T0124"]
    assert "TA06 Develop Content" in rows[0][1] and "Develop AI-Generated Images (Deepfakes)" in rows[0][1]
    assert "TA18 Drive Online Harms" in rows[1][1] and "Suppress Opposition" in rows[1][1]
    assert "Call recordings" in page.text and "https://evidence.example/calls" in page.text
    assert "Robo Group" in page.text and "Polls moved" in page.text and "Midterm test election" in page.text
    listing = lab.get("/campaigns").text
    assert "Bot amplification of fraud claims" in listing and "Robocall wave" not in listing
    assert "Robocall wave" in chirp.get("/campaigns").text
    # Outside the campaign's audience it does not exist.
    assert lab.get(f"/campaigns/{campaign_id}").status_code == 404
    assert lab.get(f"/api/threatmodel/campaigns/{campaign_id}").status_code == 404

    # Mapping a technique from the API creates a relationship shared like the campaign.
    mapped = chirp.post(f"/api/threatmodel/campaigns/{campaign_id}/techniques", json={"technique": "T0048"})
    assert mapped.status_code == 201, mapped.text
    assert (
        lab.post(f"/api/threatmodel/campaigns/{campaign_id}/techniques", json={"technique": "T0048"}).status_code == 404
    )
    seen = client(live_server, live_hub, "agency").get(f"/api/threatmodel/campaigns/{campaign_id}").json()
    assert sorted(t["id"] for t in seen["techniques"]) == ["T0048", "T0086.002", "T0124"]
    assert {t["tlp"] for t in seen["techniques"]} == {"TLP:AMBER"}

    # Heat map page and coverage API agree, per reader.
    for who, reader in (("chirp", chirp), ("lab", lab)):
        api = reader.get(f"/api/threatmodel/elections/{eid}/coverage").json()
        counts = {t["id"]: (t["campaigns"], t["organisations"]) for t in api["techniques"] if t["campaigns"]}
        html = reader.get(f"/elections/{eid}").text
        cells = {
            m[0]: (int(m[1]), int(m[2]))
            for m in re.findall(r'data-technique="([^"]+)" data-campaigns="(\d+)"\s+data-organisations="(\d+)"', html)
        }
        assert {k: v for k, v in cells.items() if v[0]} == counts, who
    assert counts == sc.EXPECTED["lab"]  # the new AMBER campaign is invisible to lab
    chirp_counts = {
        t["id"]: t["campaigns"] for t in chirp.get(f"/api/threatmodel/elections/{eid}/coverage").json()["techniques"]
    }
    assert chirp_counts["T0086.002"] == 3 and chirp_counts["T0124"] == 1 and chirp_counts["T0048"] == 2
    assert "The full DISARM framework is not imported yet" in chirp.get(f"/elections/{eid}").text

    # Countermeasures: recorded by analysts, shown to members, in the layer's comments.
    cm = chirp.post(
        f"/api/threatmodel/elections/{eid}/countermeasures",
        json={"technique": "T0048", "name": "Poll-worker hotline", "status": "in place"},
    )
    assert cm.status_code == 201, cm.text
    planned = chirp.post(
        f"/api/threatmodel/elections/{eid}/countermeasures",
        json={"technique": "T0124", "name": "Takedown playbook", "status": "planned"},
    )
    assert planned.status_code == 201
    election_page = chirp.get(f"/elections/{eid}").text
    assert "Poll-worker hotline" in election_page
    assert re.search(r'data-technique="T0048"[^>]*data-countermeasures="1" data-in-place="1"', election_page)
    assert re.search(r'data-technique="T0124"[^>]*data-countermeasures="1" data-in-place="0"', election_page)
    assert "Poll-worker hotline" not in client(live_server).get(f"/elections/{eid}").text
    assert "Poll-worker hotline" not in lab.get(f"/elections/{eid}").text  # outside the working group

    layer = chirp.get(f"/elections/{eid}/navigator.json")
    assert layer.status_code == 200 and "attachment" in layer.headers["content-disposition"]
    data = layer.json()
    assert data["versions"]["layer"].startswith("4.")
    entries = {t["techniqueID"]: t for t in data["techniques"]}
    assert entries["T0086.002"]["score"] == 3 and entries["T0086.002"]["tactic"] == "develop-content"
    assert "Poll-worker hotline" in entries["T0048"]["comment"]
    assert {t["techniqueID"] for t in lab.get(f"/elections/{eid}/navigator.json").json()["techniques"]} == set(
        sc.EXPECTED["lab"]
    )

    # Briefing: a reader of lower clearance gets fewer rows; the PDF is a PDF.
    rows_for = {}
    for who in ("anonymous", "lab", "chirp", "agency"):
        reader = client(live_server) if who == "anonymous" else client(live_server, live_hub, who)
        html = reader.get(f"/elections/{eid}/briefing")
        assert html.status_code == 200
        rows_for[who] = html.text.count('<tr class="row">')
    assert rows_for["anonymous"] < rows_for["lab"] < rows_for["chirp"] < rows_for["agency"]
    chirp_brief = chirp.get(f"/elections/{eid}/briefing").text
    assert "Harassment site" in chirp_brief and "Robo Group" in chirp_brief
    lab_brief = lab.get(f"/elections/{eid}/briefing").text
    assert "Harassment site" not in lab_brief and "Robocall wave" not in lab_brief
    assert "Ad-spend anomalies" in lab_brief
    pdf = chirp.get(f"/elections/{eid}/briefing.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 5000


def test_forms_need_the_pages_csrf_token(live_server: LiveServer, live_hub: Hub) -> None:
    from shieldwall.exchange.auth import start_session

    with live_server.app.state.database.session() as session:
        disarm.ensure_tactics(session)
        cookie = start_session(session, live_hub.member_ids["chirp"])
    browser = httpx.Client(base_url=live_server.url, cookies={"shieldwall_session": cookie}, timeout=30)
    form = {"country": "FR", "level": "presidential", "name": "Présidentielle", "date": "2032-04-11"}
    assert browser.post("/elections", data=form, follow_redirects=False).status_code == 403
    page = browser.get("/elections")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    done = browser.post("/elections", data={**form, "csrf": token.group(1)}, follow_redirects=False)
    assert done.status_code == 303 and re.match(r"/elections/\d+", done.headers["location"])
    shown = browser.get(done.headers["location"])
    assert "Présidentielle" in shown.text


def test_a_detect_style_bundle_shared_over_taxii_joins_the_threat_model(live_server: LiveServer, live_hub: Hub) -> None:
    """A campaign from detect (no election, evidence as observed-data and notes) plus a third party's own
    attack-pattern object carrying a DISARM id: linked and mapped through the API, counted in the heat map."""
    picture = sc.build(live_server.app.state.database, live_hub)
    stamp = "2026-10-05T10:00:00.000Z"
    green = ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]

    def sdo(kind: str, **props: object) -> dict[str, object]:
        return {
            "type": kind,
            "spec_version": "2.1",
            "id": f"{kind}--{uuid.uuid4()}",
            "created": stamp,
            "modified": stamp,
            "object_marking_refs": green,
            **props,
        }

    campaign = sdo("campaign", name="Cluster 7: synchronized reposting")
    observed = sdo(
        "observed-data",
        first_observed=stamp,
        last_observed=stamp,
        number_observed=12,
        object_refs=["user-account--0b1b1a8e-7f07-5b5e-9a2b-0c3f0e0e0e0e"],
    )
    account = {
        "type": "user-account",
        "spec_version": "2.1",
        "id": observed["object_refs"][0],  # type: ignore[index]
        "account_login": "bot_0001",
    }
    related = sdo("relationship", relationship_type="related-to", source_ref=observed["id"], target_ref=campaign["id"])
    note = sdo(
        "note", abstract="sync_timing evidence", content="12 accounts reposted within 3 s", object_refs=[observed["id"]]
    )
    pattern = sdo(
        "attack-pattern",
        name="Bot amplification",
        external_references=[{"source_name": "DISARM", "external_id": "T0049.003"}],
    )
    uses = sdo(
        "relationship",
        relationship_type="uses",
        source_ref=campaign["id"],
        target_ref=pattern["id"],
        external_references=[{"source_name": "evil", "url": "javascript:alert(1)"}],
    )
    posted = httpx.post(
        f"{live_server.url}/taxii2/hub/collections/{live_hub.collection_id}/objects/",
        auth=("agency", live_hub.tokens["agency"]),
        headers={"Accept": "application/taxii+json;version=2.1", "Content-Type": "application/taxii+json;version=2.1"},
        json={"objects": [campaign, account, observed, related, note, pattern, uses]},
    )
    assert posted.status_code == 202 and posted.json()["failure_count"] == 0, posted.text

    lab, agency = client(live_server, live_hub, "lab"), client(live_server, live_hub, "agency")
    link = {"election_id": picture.election_id}
    # Only the publisher's organisation links its campaign; lab may read it but not change it.
    assert lab.post(f"/api/threatmodel/campaigns/{campaign['id']}/elections", json=link).status_code == 403
    linked = agency.post(f"/api/threatmodel/campaigns/{campaign['id']}/elections", json=link)
    assert linked.status_code == 201, linked.text
    view = lab.get(f"/api/threatmodel/campaigns/{campaign['id']}").json()
    assert [t["id"] for t in view["techniques"]] == ["T0049.003"]  # resolved from the third party's object
    assert [n["content"] for n in view["notes"]] == ["12 accounts reposted within 3 s"]
    page = lab.get(f"/campaigns/{campaign['id']}").text
    assert "12 observation(s)" in page and "Midterm test election" in page
    assert "javascript:" not in page  # a hostile evidence URL never becomes a link
    counts = {
        t["id"]: (t["campaigns"], t["organisations"])
        for t in lab.get(f"/api/threatmodel/elections/{picture.election_id}/coverage").json()["techniques"]
    }
    assert counts["T0049.003"] == (3, 3)  # C1, C2 and the detect campaign; chirp, lab and agency
