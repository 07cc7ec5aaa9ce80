"""Hostile and odd TAXII/REST input: clear 4xx or per-object failures, the valid rest stored, never a 500."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from shieldwall.stix.tlp import TLP
from tests.exchange.test_ownership import taxii_post
from tests.exchange.test_sharing import TAXII, api
from tests.support.hub import Hub, indicator, seeded_sqlite
from tests.support.live import LiveServer
from tests.support.serve import Serve


def deep(levels: int) -> dict[str, Any]:
    obj: dict[str, Any] = indicator("http://deep.example/", TLP.CLEAR)
    cursor: dict[str, Any] = obj
    cursor["x_nested"] = {}
    cursor = cursor["x_nested"]
    for _ in range(levels):
        cursor["a"] = {}
        cursor = cursor["a"]
    return obj


def test_a_deeply_nested_object_fails_alone(live_server: LiveServer, hub: Hub) -> None:
    good = indicator("http://fine.example/", TLP.CLEAR)
    status = taxii_post(live_server, hub, "chirp", [deep(300), good])
    assert status.status_code == 202, status.text
    body = status.json()
    assert body["success_count"] == 1 and "nested" in body["failures"][0]["message"]


def test_taxii_refuses_other_versions_and_too_many_objects(live_server: LiveServer, hub: Hub) -> None:
    url = f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/"
    auth = ("x", hub.tokens["chirp"])
    old = httpx.post(url, auth=auth, headers={"Accept": TAXII, "Content-Type": "application/taxii+json;version=2.0"},
                     content=b'{"objects": []}')
    assert old.status_code == 415
    many = {"objects": [{"type": "x"}] * 10_001}
    too_many = httpx.post(url, auth=auth, headers={"Accept": TAXII, "Content-Type": TAXII}, json=many, timeout=60)
    assert too_many.status_code == 413 and "at most" in too_many.json()["description"]


def test_invalid_objects_cannot_hold_a_worker(live_server: LiveServer, hub: Hub) -> None:
    bad = [
        {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}", "created": "yesterday"}
        for _ in range(9_000)
    ]
    started = time.monotonic()
    status = taxii_post(live_server, hub, "chirp", bad)
    assert status.status_code == 202
    assert time.monotonic() - started < 15
    assert status.json()["failure_count"] == 9_000


def test_rest_post_with_nothing_valid_is_not_created(live_server: LiveServer, hub: Hub) -> None:
    response = api(live_server, hub, "chirp").post("/api/v1/objects", json={"objects": [{"type": "indicator"}]})
    assert response.status_code == 422
    assert response.json()["success_count"] == 0 and response.json()["failures"]


def test_a_type_name_built_to_stall_the_schema_regex_is_refused_at_once(tmp_path: Path) -> None:
    """stix2-validator's own type regex needs ~2^n steps to refuse n letters and a '!', holding the GIL. Served
    in a child process, so that a regression times the request out here instead of hanging the test run."""
    database_url, hub = seeded_sqlite(tmp_path)
    server = Serve(database_url, tmp_path / "data").start()
    try:
        stall = "a" * 60 + "!"
        good = indicator("http://still-stored.example/", TLP.CLEAR)
        objects = [{**indicator("http://x.example/"), "type": stall},
                   {**indicator("http://y.example/"), "extensions": {stall: {"abc": 1}}}, good]
        started = time.monotonic()
        response = httpx.post(
            f"{server.url}/taxii2/hub/collections/{hub.collection_id}/objects/",
            auth=("x", hub.tokens["chirp"]), headers={"Accept": TAXII, "Content-Type": TAXII},
            json={"objects": objects}, timeout=30,
        )
        assert time.monotonic() - started < 15
        assert response.status_code == 202, response.text
        status = response.json()
        assert status["success_count"] == 1 and status["failure_count"] == 2
        messages = sorted(f["message"] for f in status["failures"])
        assert messages[0].startswith("extensions: 'aaaa") and messages[1].startswith("type: 'aaaa"), messages
        stored = httpx.get(f"{server.url}/taxii2/hub/collections/{hub.collection_id}/objects/{good['id']}/",
                           auth=("x", hub.tokens["chirp"]), headers={"Accept": TAXII}, timeout=30)
        assert stored.status_code == 200
    finally:
        server.stop()


def test_a_huge_pattern_the_fast_check_cannot_accept_is_not_given_to_the_slow_parser(
    live_server: LiveServer, hub: Hub
) -> None:
    """stix2-validator's pattern parser takes ~22 us a character: a 10 MB pattern would hold a worker for minutes.
    A long pattern the fast check accepts is stored; one it cannot is refused without the parser, saying why."""
    terms = [f"[url:value = 'http://long-{i}.example/']" for i in range(5_000)]
    long_valid = indicator("http://unused.example/", TLP.CLEAR)
    long_valid["pattern"] = " OR ".join(terms)
    long_invalid = indicator("http://unused.example/", TLP.CLEAR)
    long_invalid["pattern"] = " OR ".join(terms) + " AND"
    short_invalid = indicator("http://unused.example/", TLP.CLEAR)
    short_invalid["pattern"] = "[url:value = 'x'] AND"
    started = time.monotonic()
    status = taxii_post(live_server, hub, "chirp", [long_valid, long_invalid, short_invalid])
    assert time.monotonic() - started < 10
    assert status.status_code == 202, status.text
    failures = {f["id"]: f["message"] for f in status.json()["failures"]}
    assert status.json()["success_count"] == 1 and set(failures) == {long_invalid["id"], short_invalid["id"]}
    assert failures[long_invalid["id"]].startswith("not validated: its patterns have 223,890 characters")
    assert "Pattern failed to validate" in failures[short_invalid["id"]]


def test_rest_bodies_must_be_strict_json(live_server: LiveServer, hub: Hub) -> None:
    """The standard library's parser (FastAPI's) takes NaN, Infinity and lone surrogates: an object with
    Infinity was stored with null in its place, one with a lone surrogate was a 500. Such a body is now a 400
    naming where, and nothing is stored, on the REST API and on match (TAXII's parser was strict already)."""
    before = api(live_server, hub, "chirp").get("/api/v1/objects", params={"limit": 1000}).json()["objects"]
    good = httpx.Request("POST", "/", json={"objects": [indicator("http://strict.example/", TLP.CLEAR)]}).content
    for bad, where in ((b'"x_score": Infinity, ', "line 1"), (b'"x_score": NaN, ', "line 1"),
                       (b'"name": "\\ud800", ', "no low surrogate"), (b'"x_n": ' + b"9" * 400 + b", ", "infinity")):
        body = good.replace(b'"type":"indicator",', b'"type":"indicator",' + bad, 1)
        assert body != good
        response = api(live_server, hub, "chirp").post(
            "/api/v1/objects", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (bad, response.status_code, response.text[:200])
        assert response.json()["detail"].startswith("the body is not JSON") and where in response.text, response.text
    after = api(live_server, hub, "chirp").get("/api/v1/objects", params={"limit": 1000}).json()["objects"]
    assert after == before
    match = httpx.post(f"{live_server.url}/api/match", content=b'{"urls": ["http://a.example/"], "x": NaN}',
                       headers={"Content-Type": "application/json; charset=utf-8"})
    assert match.status_code == 400 and "not JSON" in match.text
    fine = api(live_server, hub, "chirp").post("/api/v1/objects", content=good,
                                                headers={"Content-Type": "application/json"})
    assert fine.status_code == 201, fine.text
