"""Writes from the attacker's side: another organisation, a guest and a visitor try to rewrite, resurrect,
spoof, inject into and read around what an organisation published. REST and TAXII, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shieldwall.exchange.tables import Organisation
from shieldwall.stix.tlp import TLP, marking_definition
from tests.exchange.test_sharing import TAXII, api, share
from tests.support.hub import Hub, indicator
from tests.support.live import LiveServer


def taxii_post(live: LiveServer, hub: Hub, who: str | None, objects: list[dict[str, Any]]) -> httpx.Response:
    auth = ("x", hub.tokens[who]) if who else None
    return httpx.post(
        f"{live.url}/taxii2/hub/collections/{hub.collection_id}/objects/",
        auth=auth,
        headers={"Accept": TAXII, "Content-Type": TAXII},
        content=httpx.Request("POST", "/", json={"objects": objects}).content,
        timeout=30,
    )


def rest_post(live: LiveServer, hub: Hub, who: str, objects: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    response = api(live, hub, who).post("/api/v1/objects", json={"objects": objects, **body})
    assert response.status_code in (201, 422), response.text
    return response.json()


def newer(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**obj, "modified": "2026-10-02T10:00:00.000Z", **changes}


def latest_name(live: LiveServer, hub: Hub, who: str, stix_id: str) -> str | None:
    response = api(live, hub, who).get(f"/api/v1/objects/{stix_id}")
    return response.json()["object"]["name"] if response.status_code == 200 else None


def identity_of(live: LiveServer, slug: str) -> str:
    with live.app.state.database.session() as session:
        org = session.query(Organisation).filter_by(slug=slug).one()
        return org.identity_id


def test_another_organisation_cannot_version_revoke_or_delete_an_object(live_server: LiveServer, hub: Hub) -> None:
    green = indicator("http://owned.example/", TLP.GREEN)
    share(live_server, hub, "chirp", green)
    hijack = newer(green, name="HIJACKED-by-lab")
    for attacker in ("lab", "agency"):
        rest = rest_post(live_server, hub, attacker, [hijack])
        assert rest["success_count"] == 0 and "belongs to another publisher" in rest["failures"][0]["message"]
        status = taxii_post(live_server, hub, attacker, [newer(green, revoked=True)]).json()
        assert status["success_count"] == 0 and status["failure_count"] == 1
        gone = httpx.delete(
            f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/{green['id']}/",
            auth=("x", hub.tokens[attacker]),
            headers={"Accept": TAXII},
        )
        assert gone.status_code == 403
    # A guest and a visitor may not write at all.
    assert taxii_post(live_server, hub, "guest", [hijack]).status_code == 403
    assert taxii_post(live_server, hub, None, [hijack]).status_code == 401
    assert api(live_server, hub, "guest").post("/api/v1/objects", json={"objects": [hijack]}).status_code == 403
    assert api(live_server, hub, None).post("/api/v1/objects", json={"objects": [hijack]}).status_code == 401
    for reader in ("chirp", "lab", "agency"):
        assert latest_name(live_server, hub, reader, green["id"]) == green["name"]
    # Its owner's colleagues may version it.
    assert rest_post(live_server, hub, "chirp_colleague", [newer(green, name="updated")])["success_count"] == 1
    assert latest_name(live_server, hub, "lab", green["id"]) == "updated"


def test_a_red_object_cannot_be_hidden_from_its_owner_by_a_stricter_version(live_server: LiveServer, hub: Hub) -> None:
    red = indicator("http://red-owned.example/")
    share(live_server, hub, "chirp", red, tlp="red", share_with={"members": ["agency@example.org"]})
    attempt = rest_post(live_server, hub, "agency", [newer(red, name="mine now")], tlp="red")
    assert attempt["success_count"] == 0
    # A visitor-like attacker who never saw it gets the same answer as for an id it knows (no oracle).
    blind = rest_post(live_server, hub, "lab", [newer(red)], tlp="red")
    assert blind["failures"][0]["message"] == attempt["failures"][0]["message"]
    assert latest_name(live_server, hub, "chirp", red["id"]) == red["name"]
    taxii = httpx.get(
        f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/",
        params={"match[id]": red["id"]},
        auth=("x", hub.tokens["chirp"]),
        headers={"Accept": TAXII},
    )
    assert [o["name"] for o in taxii.json()["objects"]] == [red["name"]]


def test_deleted_objects_stay_deleted_for_everyone_but_their_owner(live_server: LiveServer, hub: Hub) -> None:
    obj = indicator("http://deleted.example/", TLP.GREEN)
    share(live_server, hub, "chirp", obj)
    gone = httpx.delete(
        f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/{obj['id']}/",
        auth=("x", hub.tokens["chirp"]),
        headers={"Accept": TAXII},
    )
    assert gone.status_code == 200
    again = rest_post(live_server, hub, "lab", [obj])
    assert again["success_count"] == 0
    assert latest_name(live_server, hub, "lab", obj["id"]) is None
    # The owner may bring it back; it then counts as newly added, so pollers see it again.
    assert rest_post(live_server, hub, "chirp", [obj])["success_count"] == 1
    assert latest_name(live_server, hub, "lab", obj["id"]) == obj["name"]


def test_sightings_and_references_to_hidden_objects_are_not_found(live_server: LiveServer, hub: Hub) -> None:
    amber = indicator("http://amber-owned.example/")
    share(live_server, hub, "chirp", amber, tlp="amber", share_with={"organisations": ["agency"]})
    lab_identity = identity_of(live_server, "lab")
    sighting = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": "2026-10-03T00:00:00.000Z",
        "modified": "2026-10-03T00:00:00.000Z",
        "sighting_of_ref": amber["id"],
        "count": 999_999,
        "where_sighted_refs": [lab_identity],
    }
    relationship = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--{uuid.uuid4()}",
        "created": "2026-10-03T00:00:00.000Z",
        "modified": "2026-10-03T00:00:00.000Z",
        "relationship_type": "related-to",
        "source_ref": f"indicator--{uuid.uuid4()}",
        "target_ref": amber["id"],
    }
    note = {
        "type": "note",
        "spec_version": "2.1",
        "id": f"note--{uuid.uuid4()}",
        "created": "2026-10-03T00:00:00.000Z",
        "modified": "2026-10-03T00:00:00.000Z",
        "content": "we saw this too",
        "object_refs": [amber["id"]],
    }
    result = rest_post(live_server, hub, "lab", [sighting, relationship, note])
    assert result["success_count"] == 0
    assert {f["id"] for f in result["failures"]} == {sighting["id"], relationship["id"], note["id"]}
    assert all(f["message"].startswith("not found") for f in result["failures"])
    # The same answer as for an id nobody ever shared: nothing leaks.
    unknown = rest_post(live_server, hub, "lab", [{**note, "id": f"note--{uuid.uuid4()}",
                                                   "object_refs": [f"indicator--{uuid.uuid4()}"]}])
    assert unknown["failures"][0]["message"].startswith("not found")
    assert api(live_server, hub, "lab").post(f"/api/v1/objects/{amber['id']}/sightings", json={}).status_code == 404
    owner_view = api(live_server, hub, "chirp").get(f"/api/v1/objects/{amber['id']}").json()
    assert owner_view["sightings"]["aggregate"]["count"] == 0
    # A reader of the object may sight it, from its own organisation only.
    agency_sighting = {**sighting, "id": f"sighting--{uuid.uuid4()}", "count": 3,
                       "where_sighted_refs": [identity_of(live_server, "agency")]}
    assert rest_post(live_server, hub, "agency", [agency_sighting])["success_count"] == 1
    spoofed = {**sighting, "id": f"sighting--{uuid.uuid4()}", "where_sighted_refs": [lab_identity]}
    assert rest_post(live_server, hub, "agency", [spoofed])["success_count"] == 0
    owner_view = api(live_server, hub, "chirp").get(f"/api/v1/objects/{amber['id']}").json()
    assert owner_view["sightings"]["aggregate"]["count"] == 3


def test_attribution_cannot_name_another_organisation(live_server: LiveServer, hub: Hub) -> None:
    chirp_identity = identity_of(live_server, "chirp")
    spoof = indicator("http://spoof.example/", TLP.GREEN, created_by_ref=chirp_identity)
    result = rest_post(live_server, hub, "lab", [spoof])
    assert result["success_count"] == 0 and "created_by_ref" in result["failures"][0]["message"]
    status = taxii_post(live_server, hub, "lab", [spoof]).json()
    assert status["success_count"] == 0
    own = indicator("http://own.example/", TLP.GREEN, created_by_ref=identity_of(live_server, "lab"))
    assert rest_post(live_server, hub, "lab", [own])["success_count"] == 1
    third_party = indicator("http://relay.example/", TLP.GREEN, created_by_ref=f"identity--{uuid.uuid4()}")
    assert rest_post(live_server, hub, "lab", [third_party])["success_count"] == 1
    # Organisation identities are the hub's to manage.
    fake_identity = {"type": "identity", "spec_version": "2.1", "id": chirp_identity, "name": "Chirp (fake)",
                     "created": "2026-10-03T00:00:00.000Z", "modified": "2026-10-03T00:00:00.000Z"}
    assert rest_post(live_server, hub, "lab", [fake_identity])["success_count"] == 0


def test_official_tlp_marking_definitions_cannot_be_replaced(live_server: LiveServer, hub: Hub) -> None:
    official = marking_definition(TLP.RED)
    forged = {**official, "extensions": {k: {**v, "tlp_2_0": "clear"} for k, v in official["extensions"].items()}}
    result = taxii_post(live_server, hub, "lab", [forged]).json()
    assert result["success_count"] == 0 and "reserved" in result["failures"][0]["message"]
    # The official definition itself, as many bundles carry it, is acknowledged and changes nothing.
    assert taxii_post(live_server, hub, "lab", [official]).json()["success_count"] == 1
    found = httpx.get(
        f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/{official['id']}/",
        headers={"Accept": TAXII},
    )
    assert found.status_code == 404


def test_a_granular_red_marking_withholds_the_object(live_server: LiveServer, hub: Hub) -> None:
    obj = indicator(
        "http://granular.example/",
        TLP.GREEN,
        description="the source is a named employee",
        granular_markings=[{"marking_ref": TLP.RED.marking_id, "selectors": ["description"]}],
    )
    share(live_server, hub, "chirp", obj, share_with={"members": ["chirp@example.org"]})
    for reader in ("lab", "agency", "chirp_colleague", "guest"):
        assert api(live_server, hub, reader).get(f"/api/v1/objects/{obj['id']}").status_code == 404
    mine = api(live_server, hub, "chirp").get(f"/api/v1/objects/{obj['id']}").json()
    assert mine["tlp"] == "TLP:RED"


def test_anonymous_amber_is_not_readable_by_its_source(live_server: LiveServer, hub: Hub) -> None:
    obj = indicator("http://anon.example/")
    result = rest_post(live_server, hub, "chirp", [obj], tlp="amber", anonymous=True,
                       share_with={"organisations": ["lab"]})
    assert result["success_count"] == 1
    assert api(live_server, hub, "lab").get(f"/api/v1/objects/{obj['id']}").status_code == 200
    for other in ("chirp", "chirp_colleague", "agency"):
        assert api(live_server, hub, other).get(f"/api/v1/objects/{obj['id']}").status_code == 404
    # Only the sealed source, still anonymous, may version it; not even its own name can be put on it.
    assert rest_post(live_server, hub, "chirp", [newer(obj)], tlp="amber",
                     share_with={"organisations": ["lab"]})["success_count"] == 0
    assert rest_post(live_server, hub, "lab", [newer(obj)], tlp="amber", anonymous=True,
                     share_with={"organisations": ["lab"]})["success_count"] == 0
    assert rest_post(live_server, hub, "chirp", [newer(obj, name="v2")], tlp="amber", anonymous=True,
                     share_with={"organisations": ["lab"]})["success_count"] == 1
    assert latest_name(live_server, hub, "lab", obj["id"]) == "v2"
    # Anonymous AMBER with no audience is refused rather than stored unreadable.
    nobody = api(live_server, hub, "chirp").post(
        "/api/v1/objects", json={"objects": [indicator("http://x.example/")], "tlp": "amber", "anonymous": True}
    )
    assert nobody.status_code == 422


def test_guest_organisations_read_clear_only_whatever_a_sharer_names(live_server: LiveServer, hub: Hub) -> None:
    obj = indicator("http://named-guest.example/")
    refused = api(live_server, hub, "chirp").post(
        "/api/v1/objects", json={"objects": [obj], "tlp": "amber", "share_with": {"organisations": ["newsroom"]}}
    )
    assert refused.status_code == 422 and "guest" in refused.json()["detail"]
    red = api(live_server, hub, "chirp").post(
        "/api/v1/objects", json={"objects": [obj], "tlp": "red", "share_with": {"members": ["guest@example.org"]}}
    )
    assert red.status_code == 422
    assert api(live_server, hub, "guest").get(f"/api/v1/objects/{obj['id']}").status_code == 404
