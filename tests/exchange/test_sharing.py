"""TLP 2.0 from each side: who sees what, through REST and TAXII, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shieldwall.exchange.tables import ApiToken
from shieldwall.stix.tlp import TLP
from tests.support.hub import Hub, indicator
from tests.support.live import LiveServer

TAXII = "application/taxii+json;version=2.1"
EVERYONE = ("chirp", "chirp_colleague", "agency", "lab", "guest", "operator", None)


def api(live: LiveServer, hub: Hub, who: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {hub.tokens[who]}"} if who else {}
    return httpx.Client(base_url=live.url, headers=headers, timeout=30)


def share(live: LiveServer, hub: Hub, who: str, obj: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = api(live, hub, who).post("/api/v1/objects", json={"objects": [obj], **body})
    assert response.status_code == 201, response.text
    assert response.json()["success_count"] == 1, response.text
    return response.json()


def sees(live: LiveServer, hub: Hub, who: str | None, stix_id: str) -> bool:
    """Whether `who` can read the object over TAXII (anonymous too) and, for members, over REST."""
    auth = ("x", hub.tokens[who]) if who else None
    taxii = httpx.get(
        f"{live.url}/taxii2/hub/collections/{hub.collection_id}/objects/{stix_id}/",
        auth=auth,
        headers={"Accept": TAXII},
    )
    assert taxii.status_code in (200, 404), taxii.text
    if who is None:
        return taxii.status_code == 200
    rest = api(live, hub, who).get(f"/api/v1/objects/{stix_id}")
    assert rest.status_code in (200, 404), rest.text
    assert (rest.status_code == 200) == (taxii.status_code == 200), f"REST and TAXII disagree for {who}"
    return rest.status_code == 200


def visible_set(live: LiveServer, hub: Hub, stix_id: str) -> set[str | None]:
    return {who for who in EVERYONE if sees(live, hub, who, stix_id)}


def test_each_tlp_level_from_each_side(live_server: LiveServer, hub: Hub) -> None:
    clear = indicator("http://clear.example/", TLP.CLEAR)
    green = indicator("http://green.example/", TLP.GREEN)
    amber_group = indicator("http://amber-group.example/")
    amber_lab = indicator("http://amber-lab.example/")
    strict = indicator("http://strict.example/")
    red = indicator("http://red.example/")
    share(live_server, hub, "chirp", clear)
    share(live_server, hub, "chirp", green)
    share(live_server, hub, "chirp", amber_group, tlp="amber", share_with={"trust_groups": ["us-2026"]})
    share(live_server, hub, "chirp", amber_lab, tlp="amber", share_with={"organisations": ["lab"]})
    share(live_server, hub, "chirp", strict, tlp="amber+strict", share_with={"trust_groups": ["us-2026"]})
    share(live_server, hub, "chirp", red, tlp="red", share_with={"members": ["agency@example.org"]})

    assert visible_set(live_server, hub, clear["id"]) == set(EVERYONE)
    assert visible_set(live_server, hub, green["id"]) == {"chirp", "chirp_colleague", "agency", "lab", "operator"}
    assert visible_set(live_server, hub, amber_group["id"]) == {"chirp", "chirp_colleague", "agency"}
    assert visible_set(live_server, hub, amber_lab["id"]) == {"chirp", "chirp_colleague", "lab"}
    assert visible_set(live_server, hub, strict["id"]) == {"chirp", "chirp_colleague", "agency"}
    # RED: the named people only (the sharer and the named recipient), not even the sharer's colleagues.
    assert visible_set(live_server, hub, red["id"]) == {"chirp", "agency"}

    # An organisation joining the trust group later sees group AMBER but not AMBER+STRICT (frozen at sharing).
    joined = api(live_server, hub, "operator").put("/api/v1/trust-groups/us-2026/organisations/lab")
    assert joined.status_code == 200, joined.text
    assert sees(live_server, hub, "lab", amber_group["id"])
    assert not sees(live_server, hub, "lab", strict["id"])

    # Listing and search obey the same rule.
    listed = api(live_server, hub, "guest").get("/api/v1/objects").json()["objects"]
    assert {o["id"] for o in listed} == {clear["id"]}
    # The stored object carries its TLP marking.
    body = api(live_server, hub, "agency").get(f"/api/v1/objects/{amber_group['id']}").json()["object"]
    assert body["object_marking_refs"] == [TLP.AMBER.marking_id]


def test_a_stricter_marking_on_the_object_wins_over_a_looser_sharing_choice(live_server: LiveServer, hub: Hub) -> None:
    red_marked = indicator("http://marked-red.example/", TLP.RED)
    share(live_server, hub, "chirp", red_marked, tlp="green")
    assert visible_set(live_server, hub, red_marked["id"]) == {"chirp"}


def test_anonymous_submission_seals_the_source(live_server: LiveServer, hub: Hub) -> None:
    chirp_identity = api(live_server, hub, "chirp").get("/api/v1/organisations").json()
    chirp_identity_id = next(o["identity"] for o in chirp_identity if o["slug"] == "chirp")
    obj = indicator("http://anon.example/", created_by_ref=chirp_identity_id)
    identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": chirp_identity_id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": "Chirp",
        "identity_class": "organization",
    }
    response = api(live_server, hub, "chirp").post(
        "/api/v1/objects",
        json={
            "objects": [identity, obj],
            "tlp": "amber",
            "share_with": {"trust_groups": ["us-2026"]},
            "anonymous": True,
        },
    )
    assert response.status_code == 201, response.text
    seen = api(live_server, hub, "agency").get(f"/api/v1/objects/{obj['id']}").json()
    assert seen["publisher"] is None and seen["anonymous"] is True
    assert chirp_identity_id not in str(seen["object"])
    assert seen["object"]["created_by_ref"] != chirp_identity_id
    # The source's identity object was not shared either.
    assert api(live_server, hub, "agency").get(f"/api/v1/objects/{chirp_identity_id}").status_code == 404
    # No member's audit view reveals the source, not even the source organisation's own admin view...
    agency_audit = api(live_server, hub, "agency_admin").get("/api/v1/audit").json()
    assert all(not e["sealed"] for e in agency_audit)
    # ...but the hub operator's audit has the sealed entry naming the true source.
    sealed = [e for e in api(live_server, hub, "operator").get("/api/v1/audit").json() if e["sealed"]]
    assert sealed and sealed[0]["org_id"] == hub.org_ids["chirp"]


def test_sightings_and_opinions_reach_the_publisher_as_aggregates(live_server: LiveServer, hub: Hub) -> None:
    obj = indicator("http://seen.example/", TLP.GREEN)
    share(live_server, hub, "chirp", obj)
    sighting = api(live_server, hub, "agency").post(
        f"/api/v1/objects/{obj['id']}/sightings",
        json={"count": 40, "first_seen": "2026-10-01T00:00:00Z", "last_seen": "2026-10-03T00:00:00Z"},
    )
    assert sighting.status_code == 201 and sighting.json()["type"] == "sighting"
    api(live_server, hub, "lab").post(f"/api/v1/objects/{obj['id']}/sightings", json={"count": 2})
    assert (
        api(live_server, hub, "lab").put(f"/api/v1/objects/{obj['id']}/opinion", json={"verdict": "false_positive"})
    ).status_code == 200
    api(live_server, hub, "agency").put(f"/api/v1/objects/{obj['id']}/opinion", json={"verdict": "agree"})
    mine = api(live_server, hub, "chirp").get(f"/api/v1/objects/{obj['id']}").json()
    assert mine["sightings"]["aggregate"]["count"] == 42
    assert mine["sightings"]["aggregate"]["organisations"] == 2
    assert mine["opinions"]["aggregate"] == {"agree": 1, "disagree": 0, "false_positive": 1}
    theirs = api(live_server, hub, "lab").get(f"/api/v1/objects/{obj['id']}").json()
    assert "aggregate" not in theirs["sightings"] and theirs["sightings"]["ours"][0]["count"] == 2
    # Feedback on an object one may not see is a 404, never a hint that it exists.
    hidden = indicator("http://hidden.example/")
    share(live_server, hub, "chirp", hidden, tlp="amber", share_with={"organisations": ["agency"]})
    assert api(live_server, hub, "lab").post(f"/api/v1/objects/{hidden['id']}/sightings", json={}).status_code == 404
    bad = api(live_server, hub, "agency").put(f"/api/v1/objects/{obj['id']}/opinion", json={"verdict": "maybe"})
    assert bad.status_code == 422


def test_tokens_are_hashed_expire_and_can_be_revoked(live_server: LiveServer, hub: Hub) -> None:
    client = api(live_server, hub, "lab")
    issued = client.post("/api/v1/tokens", json={"name": "short", "expires_at": "2099-01-01T00:00:00Z"}).json()
    token = issued["token"]
    assert httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with live_server.app.state.database.session() as session:
        stored = [(t.token_hash, t.prefix) for t in session.query(ApiToken).all()]
    assert all(token != h and token not in h for h, _ in stored)
    assert client.delete(f"/api/v1/tokens/{issued['id']}").status_code == 200
    revoked = httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert client.post("/api/v1/tokens", json={"expires_at": "2001-01-01T00:00:00Z"}).status_code == 422
    wrong = httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": "Bearer swt_wrong"})
    assert wrong.status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rate_limit_per_token(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.hub import seed_hub

    server = LiveServer(database_url, tmp_path / "data", rate_limit_per_minute=5).start()
    try:
        hub = seed_hub(server.app.state.database)
        client = api(server, hub, "lab")
        codes = [client.get("/api/v1/me").status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and codes[-1] == 429
        limited = client.get("/api/v1/me")
        assert int(limited.headers["Retry-After"]) >= 1
        # Another token is not affected.
        assert api(server, hub, "agency").get("/api/v1/me").status_code == 200
    finally:
        server.stop()


def test_invalid_objects_are_named_and_nothing_half_written(live_server: LiveServer, hub: Hub) -> None:
    good = indicator("http://ok.example/", TLP.GREEN)
    broken = {"type": "indicator", "id": "indicator--not-a-uuid", "spec_version": "2.1"}
    response = api(live_server, hub, "chirp").post("/api/v1/objects", json={"objects": [good, broken]})
    assert response.status_code == 201
    body = response.json()
    assert body["success_count"] == 1 and body["failures"][0]["id"] == "indicator--not-a-uuid"
    impossible = api(live_server, hub, "chirp").post(
        "/api/v1/objects", json={"objects": [indicator("http://x.example/")], "tlp": "purple"}
    )
    assert impossible.status_code == 422 and "purple" in impossible.text
    unknown_org = api(live_server, hub, "chirp").post(
        "/api/v1/objects",
        json={"objects": [indicator("http://y.example/")], "tlp": "amber", "share_with": {"organisations": ["nope"]}},
    )
    assert unknown_org.status_code == 422 and "nope" in unknown_org.text
    assert api(live_server, hub, "chirp_reader").post("/api/v1/objects", json={"objects": [good]}).status_code == 403
    listed = {o["name"] for o in api(live_server, hub, "chirp").get("/api/v1/objects").json()["objects"]}
    assert listed == {good["name"]}


def test_export_is_a_valid_bundle_of_what_the_reader_may_see(live_server: LiveServer, hub: Hub) -> None:
    from shieldwall.stix.validate import validate_objects

    green = indicator("http://export-green.example/", TLP.GREEN)
    amber = indicator("http://export-amber.example/")
    share(live_server, hub, "chirp", green)
    share(live_server, hub, "chirp", amber, tlp="amber", share_with={"organisations": ["agency"]})
    for who, expected in (("agency", {green["id"], amber["id"]}), ("lab", {green["id"]})):
        response = api(live_server, hub, who).get("/api/v1/export", params={"q": "export"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/stix+json")
        bundle = response.json()
        assert bundle["type"] == "bundle"
        assert {o["id"] for o in bundle["objects"]} == expected
        _, invalid = validate_objects(bundle["objects"])
        assert not invalid


def test_related_many_and_audience_of_follow_the_sharing_rule(live_server: LiveServer, hub: Hub) -> None:
    from shieldwall.exchange import objects as store
    from shieldwall.exchange.auth import principal_for_member
    from shieldwall.exchange.tables import Member

    campaign = {
        "type": "campaign",
        "spec_version": "2.1",
        "id": "campaign--0b5f4a6e-8c3f-4f4e-9b1a-2f4c7f6a9d10",
        "created": "2026-10-01T00:00:00.000Z",
        "modified": "2026-10-01T00:00:00.000Z",
        "name": "Linked campaign",
    }
    ind = indicator("http://linked.example/")
    uses = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--6a0f6a51-6d4c-4b9e-9a39-3f0a1c2b7e11",
        "created": "2026-10-01T00:00:00.000Z",
        "modified": "2026-10-01T00:00:00.000Z",
        "relationship_type": "indicates",
        "source_ref": ind["id"],
        "target_ref": campaign["id"],
    }
    note = {
        "type": "note",
        "spec_version": "2.1",
        "id": "note--5b1c3d2e-1f4a-4c6b-8d9e-0a1b2c3d4e5f",
        "created": "2026-10-01T00:00:00.000Z",
        "modified": "2026-10-01T00:00:00.000Z",
        "content": "Seen again today.",
        "object_refs": [campaign["id"]],
    }
    body = {"objects": [campaign, ind, uses, note], "tlp": "amber", "share_with": {"trust_groups": ["us-2026"]}}
    assert api(live_server, hub, "chirp").post("/api/v1/objects", json=body).status_code == 201
    with live_server.app.state.database.session() as session:
        agency = principal_for_member(session, session.get(Member, hub.member_ids["agency"]))
        lab = principal_for_member(session, session.get(Member, hub.member_ids["lab"]))
        found = store.related_many(session, agency, [campaign["id"]], relationship_types=["indicates"], end="target")
        assert [r.stix_id for r in found] == [uses["id"]]
        assert store.related_many(session, agency, [campaign["id"]], relationship_types=["uses"]) == []
        assert store.related_many(session, lab, [campaign["id"]]) == []
        assert [r.stix_id for r in store.referring_many(session, agency, [campaign["id"]], types=["note"])] == [
            note["id"]
        ]
        assert store.referring_many(session, lab, [campaign["id"]]) == []
        sharing = store.audience_of(session, agency, campaign["id"])
        assert sharing is not None and sharing.tlp == TLP.AMBER and sharing.trust_group_ids == [hub.group_id]
        assert store.audience_of(session, lab, campaign["id"]) is None


def test_a_search_word_longer_than_sqlite_takes_as_a_pattern_is_a_422(live_server: LiveServer, hub: Hub) -> None:
    """Each word of q is a LIKE pattern; SQLite refuses one over 50,000 bytes, which answered 503 'database
    busy or unavailable' on the API and the page. q is bounded and named instead, on both databases."""
    word = "x" * 60_000
    for path in ("/api/v1/objects", "/api/v1/export"):
        got = api(live_server, hub, "chirp").get(path, params={"q": word})
        assert got.status_code == 422 and "q: at most 1,000 characters (got 60,000)" in got.text, (path, got.text[:200])
    page = httpx.get(f"{live_server.url}/objects", params={"q": word}, headers={"Accept": "text/html"})
    assert page.status_code != 503 and "q: at most 1,000 characters" in page.text
    assert api(live_server, hub, "chirp").get("/api/v1/objects", params={"q": "x" * 1_000}).status_code == 200
