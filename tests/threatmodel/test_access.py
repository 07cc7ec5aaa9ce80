"""Who may change what in the threat model, tried from the attacker's side through real HTTP (SQLite and
PostgreSQL): every write route refuses another member organisation's analyst, a guest organisation's analyst,
a visitor (and a reader of the owner's own organisation), and the stored thing is unchanged afterwards.

Cast (tests/support/hub.py): chirp owns the scenario's election and campaigns C1 (CLEAR) and C3 (AMBER, us-2026
trust group); chirp_colleague is another chirp analyst; agency is in the trust group; lab is a member
organisation outside it; guest is a guest organisation's analyst; chirp_reader is chirp's reader.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shieldwall.exchange import directory
from shieldwall.exchange.access import route_table
from shieldwall.exchange.auth import csrf_token
from shieldwall.exchange.tables import StixObject
from shieldwall.threatmodel.tables import Countermeasure, Election
from tests.support.hub import Hub
from tests.support.live import LiveServer
from tests.threatmodel import scenario as sc

HUGE = "99999999999999999999"
OUTSIDERS = ("lab", "guest", "visitor", "chirp_reader")


def client(live: LiveServer, hub: Hub, who: str) -> httpx.Client:
    headers = {} if who == "visitor" else {"Authorization": f"Bearer {hub.tokens[who]}"}
    return httpx.Client(base_url=live.url, headers=headers, timeout=30)


def browser(live: LiveServer, hub: Hub, who: str) -> tuple[httpx.Client, str]:
    """A signed-in browser (session cookie) and the CSRF token its forms carry; a visitor has neither."""
    web = httpx.Client(base_url=live.url, timeout=30)
    if who == "visitor":
        return web, ""
    signed = web.post("/login", data={"email": f"{who}@example.org", "password": hub.passwords[who]})
    assert signed.status_code in (200, 303), signed.text
    cookie = web.cookies.get("shieldwall_session")
    assert cookie
    return web, csrf_token(live.settings.secret_key, cookie)


def stored(live: LiveServer) -> dict[str, Any]:
    """Everything a refused write could have changed: election and countermeasure rows, STIX versions."""
    with live.app.state.database.session() as session:
        elections = [
            (e.id, e.status, e.election_date, e.trust_group_id, e.description, e.org_id)
            for e in session.scalars(select(Election).order_by(Election.id))
        ]
        measures = [
            (m.id, m.name, m.status, m.description, m.org_id, m.audience, m.trust_group_id)
            for m in session.scalars(select(Countermeasure).order_by(Countermeasure.id))
        ]
        versions = session.scalar(select(func.count()).select_from(StixObject))
    return {"elections": elections, "countermeasures": measures, "stix_versions": versions}


def refused(response: httpx.Response, *allowed: int) -> None:
    assert response.status_code in allowed, (response.status_code, response.text[:300])


def test_every_threatmodel_route_declares_its_access_rule(live_server: LiveServer) -> None:
    rules = {
        (methods, path): rule
        for methods, path, rule in route_table(live_server.app)
        if path.startswith(("/api/threatmodel", "/elections", "/campaigns"))
    }
    assert len(rules) >= 20
    assert all(rule is not None for rule in rules.values()), [k for k, r in rules.items() if r is None]
    for (methods, path), rule in rules.items():
        assert rule is not None
        if methods != "GET":
            assert rule.caller == "writer", (methods, path)
    for path in (
        "/api/threatmodel/elections/{election_id}",
        "/api/threatmodel/countermeasures/{measure_id}",
        "/api/threatmodel/campaigns/{campaign_id}/techniques",
        "/campaigns/{campaign_id}/elections",
    ):
        assert any(p == path and r is not None and r.check == "owner" for (_, p), r in rules.items()), path


def test_only_the_owner_changes_an_election(live_server: LiveServer, live_hub: Hub) -> None:
    picture = sc.build(live_server.app.state.database, live_hub)
    url = f"/api/threatmodel/elections/{picture.election_id}"
    with live_server.app.state.database.session() as session:
        lab_group = directory.create_trust_group(session, "Lab group", "", [live_hub.org_ids["lab"]], slug="lab-g")
        lab_group_id = lab_group.id
    before = stored(live_server)
    hostile = {"status": "cancelled", "date": "2031-01-01", "description": "hijacked", "trust_group_id": lab_group_id}
    for who in (*OUTSIDERS, "agency", "agency_admin", "operator"):
        answer = client(live_server, live_hub, who).patch(url, json=hostile)
        refused(answer, 401 if who == "visitor" else 403)
        assert stored(live_server) == before, who

    owner = client(live_server, live_hub, "chirp_colleague")  # any writer of the owner organisation
    # Not even the owner may hand the election to a trust group its organisation is not in.
    answer = owner.patch(url, json={"trust_group_id": lab_group_id})
    refused(answer, 422)
    assert "trust_group_id" in answer.json()["detail"]
    refused(owner.patch(url, json={"trust_group_id": 424242}), 422)
    refused(owner.patch(url, json={"trust_group_id": int(HUGE)}), 422)
    refused(owner.patch(url, json={"status": "won"}), 400)
    assert stored(live_server) == before

    changed = owner.patch(url, json={"status": "campaigning", "description": "Early voting opens"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "campaigning" and changed.json()["may_change"] is True
    listed = {e["id"]: e for e in client(live_server, live_hub, "lab").get("/api/threatmodel/elections").json()}
    # lab reads the public calendar, but neither the trust group's name nor its id, and may not change it.
    assert listed[picture.election_id]["status"] == "campaigning"
    assert listed[picture.election_id]["trust_group"] is None and listed[picture.election_id]["trust_group_id"] is None
    assert listed[picture.election_id]["may_change"] is False
    page = client(live_server, live_hub, "lab").get("/elections")
    assert "US 2026 working group" not in page.text and "Lab group" in page.text  # its own group only

    # Ids that no row can have answer 404, never a database error.
    for path in (f"/api/threatmodel/elections/{HUGE}", "/api/threatmodel/elections/424242"):
        refused(owner.patch(path, json={"status": "voting"}), 404)
    refused(owner.patch("/api/threatmodel/elections/abc", json={"status": "voting"}), 422)


def test_a_trust_group_change_never_widens_reads(live_server: LiveServer, live_hub: Hub) -> None:
    database = live_server.app.state.database
    picture = sc.build(database, live_hub)
    eid = picture.election_id
    chirp, lab = client(live_server, live_hub, "chirp"), client(live_server, live_hub, "lab")
    with database.session() as session:
        lab_group = directory.create_trust_group(session, "Lab group", "", [live_hub.org_ids["lab"]], slug="lab-g")
        lab_group_id = lab_group.id
    countermeasure = chirp.post(
        f"/api/threatmodel/elections/{eid}/countermeasures", json={"technique": "T0048", "name": "Hotline"}
    )
    assert countermeasure.status_code == 201 and countermeasure.json()["audience"] == "trust-group"

    def lab_sees() -> dict[str, Any]:
        coverage = lab.get(f"/api/threatmodel/elections/{eid}/coverage").json()
        return {
            "campaigns": sorted(coverage["campaigns"]),
            "cells": {
                t["id"]: (t["campaigns"], t["organisations"], len(t["countermeasures"])) for t in coverage["techniques"]
            },
            "briefing_rows": lab.get(f"/elections/{eid}/briefing").text.count('<tr class="row">'),
            "layer": sorted(t["techniqueID"] for t in lab.get(f"/elections/{eid}/navigator.json").json()["techniques"]),
        }

    before = lab_sees()
    assert picture.campaigns["C3"] not in before["campaigns"]
    # The reported attack: lab points the election at its own group. Refused, and nothing changes.
    refused(lab.patch(f"/api/threatmodel/elections/{eid}", json={"trust_group_id": lab_group_id}), 403)

    # Even if the election's group did change (a legacy row, or an operator's edit in the database), what was
    # shared before keeps its audience, and new AMBER material by authors outside that group does not go there.
    with database.session() as session:
        election = session.get(Election, eid)
        assert election is not None
        election.trust_group_id = lab_group_id
    assert lab_sees() == before
    assert lab.get(f"/api/threatmodel/campaigns/{picture.campaigns['C3']}").status_code == 404
    assert "Harassment of poll workers" not in lab.get(f"/elections/{eid}").text
    assert "Hotline" not in lab.get(f"/elections/{eid}").text

    fresh = chirp.post(
        "/api/threatmodel/campaigns",
        json={"name": "Fresh AMBER campaign", "election_id": eid, "tlp": "amber", "techniques": ["T0124"]},
    )
    assert fresh.status_code == 201, fresh.text
    later = chirp.post(
        f"/api/threatmodel/elections/{eid}/countermeasures", json={"technique": "T0124", "name": "Playbook"}
    )
    assert later.status_code == 201 and later.json()["audience"] == "organisation"
    assert lab.get(f"/api/threatmodel/campaigns/{fresh.json()['id']}").status_code == 404
    assert lab_sees() == before
    pdf = lab.get(f"/elections/{eid}/briefing.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    # chirp's own reads do include them.
    mine = chirp.get(f"/api/threatmodel/elections/{eid}/coverage").json()
    assert fresh.json()["id"] in mine["campaigns"]


@pytest.mark.parametrize("route", ["techniques", "elections"])
def test_only_the_publisher_changes_a_campaign(live_server: LiveServer, live_hub: Hub, route: str) -> None:
    picture = sc.build(live_server.app.state.database, live_hub)
    body = {"technique": "T0124"} if route == "techniques" else {"election_id": picture.election_id}
    before = stored(live_server)
    for campaign in ("C1", "C3"):
        cid = picture.campaigns[campaign]
        url = f"/api/threatmodel/campaigns/{cid}/{route}"
        for who in (*OUTSIDERS, "agency", "operator"):
            expected = {"visitor": 401, "guest": 403, "chirp_reader": 403, "agency": 403, "operator": 403}
            # lab may read C1 (CLEAR) but not C3 (AMBER): hidden answers 404, never 403.
            expected["lab"] = expected["operator"] = 403 if campaign == "C1" else 404
            refused(client(live_server, live_hub, who).post(url, json=body), expected[who])
            web, csrf = browser(live_server, live_hub, who)
            form = {"csrf": csrf, "technique": "T0124", "election_id": str(picture.election_id)}
            answer = web.post(f"/campaigns/{cid}/{route}", data=form, follow_redirects=False)
            if who == "visitor":
                assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), who
            else:
                refused(answer, expected[who])
            assert stored(live_server) == before, (campaign, who)
        # The owner's other analysts may.
        done = client(live_server, live_hub, "chirp_colleague").post(url, json=body)
        assert done.status_code == 201, done.text
        assert stored(live_server) != before
        before = stored(live_server)
    # Only the owner's page shows the forms.
    c1 = f"/campaigns/{picture.campaigns['C1']}"
    assert 'id="map-technique"' in client(live_server, live_hub, "chirp").get(c1).text
    assert 'id="map-technique"' not in client(live_server, live_hub, "lab").get(c1).text


def test_only_the_recording_organisation_changes_a_countermeasure(live_server: LiveServer, live_hub: Hub) -> None:
    picture = sc.build(live_server.app.state.database, live_hub)
    eid = picture.election_id
    chirp = client(live_server, live_hub, "chirp")
    made = chirp.post(
        f"/api/threatmodel/elections/{eid}/countermeasures",
        json={"technique": "T0048", "name": "Poll-worker hotline", "status": "planned"},
    )
    assert made.status_code == 201, made.text
    mid = made.json()["id"]
    before = stored(live_server)
    # agency (trust group) reads it, so it is refused with 403; lab and the guest may not read it: 404 / role 403.
    expected = {"lab": 404, "guest": 403, "visitor": 401, "chirp_reader": 403, "agency": 403, "agency_admin": 403}
    for who, status in expected.items():
        reader = client(live_server, live_hub, who)
        refused(reader.patch(f"/api/threatmodel/countermeasures/{mid}", json={"status": "retired"}), status)
        refused(reader.delete(f"/api/threatmodel/countermeasures/{mid}"), status)
        assert stored(live_server) == before, who
    # Recording "the same" countermeasure elsewhere makes that organisation's own row, never touches chirp's.
    lab_own = client(live_server, live_hub, "lab").post(
        f"/api/threatmodel/elections/{eid}/countermeasures", json={"technique": "T0048", "name": "Poll-worker hotline"}
    )
    assert lab_own.status_code == 201 and lab_own.json()["id"] != mid
    for who in ("guest", "visitor", "chirp_reader"):
        answer = client(live_server, live_hub, who).post(
            f"/api/threatmodel/elections/{eid}/countermeasures", json={"technique": "T0048", "name": "x"}
        )
        refused(answer, 401 if who == "visitor" else 403)
    after = stored(live_server)
    assert [m for m in after["countermeasures"] if m[0] == mid] == [m for m in before["countermeasures"] if m[0] == mid]
    assert len(after["countermeasures"]) == len(before["countermeasures"]) + 1

    # Who reads what: agency (trust group) yes, lab and the guest no.
    names = {
        who: [
            m["name"]
            for m in client(live_server, live_hub, who).get(f"/api/threatmodel/elections/{eid}/countermeasures").json()
            if m["id"] == mid
        ]
        for who in ("agency", "lab", "guest", "visitor")
    }
    assert names == {"agency": ["Poll-worker hotline"], "lab": [], "guest": [], "visitor": []}

    colleague = client(live_server, live_hub, "chirp_colleague")
    for path in (f"/api/threatmodel/countermeasures/{HUGE}", "/api/threatmodel/countermeasures/424242"):
        refused(colleague.patch(path, json={"status": "retired"}), 404)
        refused(colleague.delete(path), 404)
    refused(colleague.patch(f"/api/threatmodel/countermeasures/{mid}", json={"status": "gone"}), 400)
    changed = colleague.patch(f"/api/threatmodel/countermeasures/{mid}", json={"status": "in place"})
    assert changed.status_code == 200 and changed.json()["status"] == "in place"
    assert colleague.delete(f"/api/threatmodel/countermeasures/{mid}").status_code == 204
    assert colleague.delete(f"/api/threatmodel/countermeasures/{mid}").status_code == 404


def test_creating_needs_a_member_organisations_writer(live_server: LiveServer, live_hub: Hub) -> None:
    picture = sc.build(live_server.app.state.database, live_hub)
    before = stored(live_server)
    election = {"country": "BR", "level": "municipal", "name": "Municipal elections", "date": "2032-10-03"}
    campaign = {"name": "Guest campaign", "election_id": picture.election_id, "tlp": "clear"}
    for who in ("guest", "visitor", "chirp_reader"):
        status = 401 if who == "visitor" else 403
        refused(client(live_server, live_hub, who).post("/api/threatmodel/elections", json=election), status)
        refused(client(live_server, live_hub, who).post("/api/threatmodel/campaigns", json=campaign), status)
        web, csrf = browser(live_server, live_hub, who)
        for path, form in (("/elections", election), (f"/elections/{picture.election_id}/campaigns", campaign)):
            answer = web.post(path, data={**form, "csrf": csrf}, follow_redirects=False)
            if who == "visitor":
                assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
            else:
                refused(answer, 403)
        assert stored(live_server) == before, who


def test_overflowing_ids_and_dangling_references_answer_4xx(live_server: LiveServer, live_hub: Hub) -> None:
    picture = sc.build(live_server.app.state.database, live_hub)
    eid = picture.election_id
    chirp = client(live_server, live_hub, "chirp")
    with live_server.app.state.database.session() as session:
        lab_group_id = directory.create_trust_group(
            session, "Lab group", "", [live_hub.org_ids["lab"]], slug="lab-g"
        ).id
    before = stored(live_server)
    for path in (
        f"/api/threatmodel/elections/{HUGE}/coverage",
        f"/api/threatmodel/elections/{HUGE}/countermeasures",
        f"/api/threatmodel/elections/-{HUGE}/coverage",
        f"/elections/{HUGE}",
        f"/elections/{HUGE}/briefing",
        f"/elections/{HUGE}/briefing.pdf",
        f"/elections/{HUGE}/navigator.json",
        f"/campaigns/campaign--{'9' * 500}",
        f"/api/threatmodel/campaigns/{'x' * 5000}",
    ):
        refused(chirp.get(path), 404)
    refused(chirp.get(f"/api/threatmodel/elections/{eid}/coverage", params={"all_techniques": "maybe"}), 422)
    refused(
        chirp.post(f"/api/threatmodel/elections/{HUGE}/countermeasures", json={"technique": "T0048", "name": "x"}), 404
    )

    base = {"name": "Dangling", "election_id": eid, "tlp": "amber"}
    cases = [
        ({"trust_group_ids": [int(HUGE)]}, "trust_group_ids"),
        ({"trust_group_ids": [424242]}, "trust_group_ids"),
        ({"trust_group_ids": [lab_group_id]}, "trust_group_ids"),  # exists, but not chirp's
        ({"org_ids": [424242]}, "org_ids"),
        ({"org_ids": [int(HUGE)]}, "org_ids"),
        ({"org_ids": [0]}, "org_ids"),
        ({"tlp": "red", "member_ids": [424242]}, "member_ids"),
        ({"tlp": "red", "member_ids": [int(HUGE)]}, "member_ids"),
        ({"tlp": "red", "org_ids": [live_hub.org_ids["lab"]]}, "org_ids"),
        ({"election_id": 424242}, "election_id"),
        ({"election_id": int(HUGE)}, "election_id"),
        ({"election_id": "two"}, "election_id"),
    ]
    for extra, field in cases:
        answer = chirp.post("/api/threatmodel/campaigns", json={**base, **extra})
        refused(answer, 422)
        assert field in answer.text, (extra, answer.text)
    for election_id in (424242, int(HUGE), -1):
        answer = chirp.post(
            f"/api/threatmodel/campaigns/{picture.campaigns['C1']}/elections", json={"election_id": election_id}
        )
        refused(answer, 422)
        assert "election_id" in answer.text
    for group in (int(HUGE), 424242, lab_group_id):
        answer = chirp.post(
            "/api/threatmodel/elections",
            json={"country": "BR", "level": "municipal", "name": "E", "date": "2032-10-03", "trust_group_id": group},
        )
        refused(answer, 422)
        assert "trust_group_id" in answer.text
    web, csrf = browser(live_server, live_hub, "chirp")
    form = web.post(
        f"/campaigns/{picture.campaigns['C1']}/elections",
        data={"csrf": csrf, "election_id": HUGE},
        follow_redirects=False,
    )
    assert form.status_code == 303 and "error=" in form.headers["location"]
    form = web.post(
        "/elections",
        data={
            "csrf": csrf,
            "country": "BR",
            "level": "municipal",
            "name": "E",
            "date": "2032-10-03",
            "trust_group_id": HUGE,
        },
        follow_redirects=False,
    )
    assert form.status_code == 303 and "trust_group_id" in form.headers["location"]
    assert stored(live_server) == before


def test_hidden_corroboration_changes_no_count_for_those_who_cannot_read_it(
    live_server: LiveServer, live_hub: Hub
) -> None:
    """agency corroborates chirp's public campaign C1 with an AMBER relationship for its trust group: the group
    counts one more organisation; lab, the guest and a visitor see exactly what they saw before."""
    database = live_server.app.state.database
    picture = sc.build(database, live_hub)
    eid = picture.election_id

    def cells(who: str) -> dict[str, tuple[int, int]]:
        coverage = client(live_server, live_hub, who).get(f"/api/threatmodel/elections/{eid}/coverage").json()
        return {t["id"]: (t["campaigns"], t["organisations"]) for t in coverage["techniques"] if t["campaigns"]}

    before = {who: cells(who) for who in ("lab", "guest", "visitor", "chirp")}
    with database.session() as session:
        pattern = sc.disarm_stix_id(session, "T0022.001")
    rel = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--6f1c1a7e-0000-4000-8000-000000000001",
        "created": "2026-10-02T10:00:00.000Z",
        "modified": "2026-10-02T10:00:00.000Z",
        "relationship_type": "uses",
        "source_ref": picture.campaigns["C1"],
        "target_ref": pattern,
    }
    shared = client(live_server, live_hub, "agency").post(
        "/api/v1/objects", json={"objects": [rel], "tlp": "amber", "share_with": {"trust_groups": ["us-2026"]}}
    )
    assert shared.status_code in (200, 201, 202), shared.text
    for who in ("lab", "guest", "visitor"):
        assert cells(who) == before[who], who
        assert client(live_server, live_hub, who).get(f"/elections/{eid}/briefing").status_code == 200
    assert cells("chirp")["T0022.001"] == (1, before["chirp"]["T0022.001"][1] + 1)
