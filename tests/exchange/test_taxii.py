"""TAXII 2.1 through the unchanged OASIS taxii2-client, over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy

import httpx
import pytest
import requests
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from shieldwall.stix.tlp import TLP
from tests.support.hub import Hub, indicator
from tests.support.live import LiveServer

TAXII = "application/taxii+json;version=2.1"


def collection(live_server: LiveServer, hub: Hub, who: str = "chirp", cid: str | None = None) -> Collection:
    url = f"{live_server.url}/taxii2/hub/collections/{cid or hub.collection_id}/"
    return Collection(url, user=who, password=hub.tokens[who])


def test_discovery_api_root_and_collections(live_server: LiveServer, hub: Hub) -> None:
    server = Server(f"{live_server.url}/taxii2/", user="chirp", password=hub.tokens["chirp"])
    assert server.title
    assert [r.url for r in server.api_roots] == [f"{live_server.url}/taxii2/hub/"]
    root = ApiRoot(server.api_roots[0].url, user="chirp", password=hub.tokens["chirp"])
    assert "application/taxii+json;version=2.1" in root.versions
    ids = {c.id for c in root.collections}
    assert {hub.collection_id, hub.group_collection_id} <= ids
    # An organisation outside the trust group does not even see the group's collection.
    lab_root = ApiRoot(server.api_roots[0].url, user="lab", password=hub.tokens["lab"])
    assert hub.group_collection_id not in {c.id for c in lab_root.collections}


def test_add_objects_reports_each_failure_and_stores_the_valid_rest(live_server: LiveServer, hub: Hub) -> None:
    col = collection(live_server, hub)
    good = [indicator(f"http://fake-news.example/{i}", TLP.GREEN) for i in range(3)]
    bad = indicator("http://x.example/", TLP.GREEN)
    bad["pattern"] = "[url:value = "  # unterminated pattern
    status = col.add_objects({"objects": [*good, bad]})
    assert status.status == "complete"
    assert status.success_count == 3 and status.failure_count == 1
    assert status.failures[0]["id"] == bad["id"]
    assert "Pattern" in status.failures[0]["message"] or "pattern" in status.failures[0]["message"]
    got = col.get_objects()
    assert sorted(o["id"] for o in got["objects"]) == sorted(o["id"] for o in good)
    # The status resource can be fetched again.
    again = httpx.get(
        f"{live_server.url}/taxii2/hub/status/{status.id}/", auth=("x", hub.tokens["chirp"]), headers={"Accept": TAXII}
    )
    assert again.status_code == 200 and again.json()["success_count"] == 3


def test_paging_filters_versions_manifest_and_delete(live_server: LiveServer, hub: Hub) -> None:
    col = collection(live_server, hub)
    objects = [indicator(f"http://site.example/{i}", TLP.GREEN) for i in range(7)]
    col.add_objects({"objects": objects})
    first_batch_last = col.get_objects()
    assert len(first_batch_last["objects"]) == 7

    pages = list(as_pages(col.get_objects, per_request=3))
    assert [len(p.get("objects", [])) for p in pages] == [3, 3, 1]
    assert [o["id"] for p in pages for o in p["objects"]] == [o["id"] for o in objects]

    # A new version: "last" shows it, "all" shows both, versions endpoint lists both.
    v2 = copy.deepcopy(objects[0])
    v2["modified"] = "2026-10-02T10:00:00.000Z"
    v2["name"] = "updated"
    col.add_objects({"objects": [v2]})
    last = col.get_object(v2["id"])["objects"]
    assert [o["name"] for o in last] == ["updated"]
    every = col.get_object(v2["id"], version="all")["objects"]
    assert len(every) == 2
    versions = col.object_versions(v2["id"])["versions"]
    assert versions == ["2026-10-01T10:00:00.000Z", "2026-10-02T10:00:00.000Z"]
    first = col.get_object(v2["id"], version="first")["objects"]
    assert first[0]["modified"] == "2026-10-01T10:00:00.000Z"

    # Filters.
    by_id = col.get_objects(id=objects[3]["id"])["objects"]
    assert [o["id"] for o in by_id] == [objects[3]["id"]]
    assert col.get_objects(type="campaign").get("objects", []) == []
    response = httpx.get(
        f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/",
        params={"limit": 2},
        auth=("x", hub.tokens["chirp"]),
        headers={"Accept": TAXII},
    )
    assert response.headers["content-type"] == TAXII
    first_added = response.headers["X-TAXII-Date-Added-First"]
    later = httpx.get(
        f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/",
        params={"added_after": first_added},
        auth=("x", hub.tokens["chirp"]),
        headers={"Accept": TAXII},
    ).json()
    # Latest versions in date_added order: objects[1..6] then v2; added_after the first drops objects[1] only.
    assert response.json()["objects"][0]["id"] == objects[1]["id"]
    assert [o["id"] for o in later["objects"]] == [o["id"] for o in objects[2:]] + [v2["id"]]

    manifest = col.get_manifest()["objects"]
    assert {m["id"] for m in manifest} == {o["id"] for o in objects}
    assert all(m["media_type"] == "application/stix+json;version=2.1" for m in manifest)

    col.delete_object(objects[1]["id"])
    with pytest.raises(requests.HTTPError) as gone:
        col.get_object(objects[1]["id"])
    assert gone.value.response.status_code == 404
    assert objects[1]["id"] not in {o["id"] for o in col.get_objects()["objects"]}


def test_errors_are_taxii_error_messages(live_server: LiveServer, hub: Hub) -> None:
    base = f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/"
    token = hub.tokens["chirp"]
    wrong = httpx.get(base, headers={"Authorization": "Bearer nope", "Accept": TAXII})
    assert wrong.status_code == 401 and wrong.headers["content-type"] == TAXII
    assert wrong.json()["http_status"] == "401"
    unknown = httpx.get(
        f"{live_server.url}/taxii2/hub/collections/no-such/objects/", auth=("x", token), headers={"Accept": TAXII}
    )
    assert unknown.status_code == 404 and "no-such" in unknown.json()["description"]
    not_acceptable = httpx.get(base, auth=("x", token), headers={"Accept": "text/html"})
    assert not_acceptable.status_code == 406
    wrong_type = httpx.post(base, auth=("x", token), content=b"{}", headers={"Content-Type": "application/json"})
    assert wrong_type.status_code == 415
    malformed = httpx.post(base, auth=("x", token), content=b"{not json", headers={"Content-Type": TAXII})
    assert malformed.status_code == 400 and "JSON" in malformed.json()["title"]
    not_envelope = httpx.post(base, auth=("x", token), content=b"[1]", headers={"Content-Type": TAXII})
    assert not_envelope.status_code == 400
    huge = b'{"objects": [' + b" " * (live_server.settings.max_body_bytes + 10) + b"]}"
    too_big = httpx.post(base, auth=("x", token), content=huge, headers={"Content-Type": TAXII})
    assert too_big.status_code == 413
    reader = httpx.post(
        base,
        auth=("x", hub.tokens["chirp_reader"]),
        content=b'{"objects": []}',
        headers={"Content-Type": TAXII},
    )
    assert reader.status_code == 403
    # Nothing was stored by any of those.
    assert "objects" not in httpx.get(base, auth=("x", token), headers={"Accept": TAXII}).json()


def test_unmarked_objects_get_the_collection_default_and_its_group_audience(live_server: LiveServer, hub: Hub) -> None:
    col = collection(live_server, hub, cid=hub.group_collection_id)
    unmarked = indicator("http://unmarked.example/")
    status = col.add_objects({"objects": [unmarked]})
    assert status.success_count == 1
    stored = col.get_object(unmarked["id"])["objects"][0]
    assert stored["object_marking_refs"] == [TLP.AMBER.marking_id]
    # The group's other organisation reads it; an organisation outside the group cannot reach the collection.
    assert collection(live_server, hub, "agency", hub.group_collection_id).get_object(unmarked["id"])["objects"]
    outside = httpx.get(
        f"{live_server.url}/taxii2/hub/collections/{hub.group_collection_id}/objects/",
        auth=("x", hub.tokens["lab"]),
        headers={"Accept": TAXII},
    )
    assert outside.status_code == 404
