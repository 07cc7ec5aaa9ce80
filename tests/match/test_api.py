"""POST /api/match over real HTTP: JSON batches, multipart uploads, per-item errors, TLP for anonymous callers."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.match.fixtures import plant_bank
from tests.match.images import encode, near_duplicate, picture
from tests.support.hub import seed_hub
from tests.support.live import LiveServer


def test_json_batch_with_every_kind_and_bad_items(live_server: LiveServer, tmp_path: Path) -> None:
    database = live_server.app.state.database
    planted = plant_bank(database, tmp_path)
    hub = seed_hub(database)
    body = {
        "urls": ["http://www.fake-news.example/story/?utm_campaign=z", "https://clean.example/", "ftp://nope"],
        "domains": ["cdn.disinfo.example"],
        "accounts": ["x:@Troll_1", "twitter:id:notanumber"],
        "texts": ["POLLING stations in Springfield are closed today!! vote tomorrow"],
        "hashes": [{"type": "pdq", "value": planted.image_pdq}, {"type": "pdq", "value": "zz"}],
        "actions": False,
    }
    anonymous = httpx.post(f"{live_server.url}/api/match", json=body)
    assert anonymous.status_code == 200, anonymous.text
    data = anonymous.json()
    assert data["items"] == 9 and data["errors"] == 3 and data["visible_tlp"] == "TLP:CLEAR"
    by_item = {r["item"]: r for r in data["results"]}
    story = by_item["http://www.fake-news.example/story/?utm_campaign=z"]
    assert story["value"] == "fake-news.example/story"
    match = story["matches"][0]
    assert match["how"] == "exact" and match["provenance"] == {
        "bank": "io-2026",
        "source_id": planted.url_id,
        "tlp": "TLP:CLEAR",
    }
    assert by_item["https://clean.example/"]["matches"] == []
    assert "only http and https" in by_item["ftp://nope"]["error"]
    assert by_item["cdn.disinfo.example"]["matches"][0]["how"] == "domain"
    assert by_item["x:@Troll_1"]["matches"] == []  # TLP:GREEN signal hidden from an anonymous caller
    assert "not numeric" in by_item["twitter:id:notanumber"]["error"]
    assert by_item[planted.image_pdq]["matches"][0]["distance"] == 0
    assert "64 hex digits" in by_item["zz"]["error"]
    text = by_item["POLLING stations in Springfield are closed today!! vote tomorrow"]["matches"][0]
    assert text["signal"]["type"] == "text" and text["similarity"] == 1.0

    member = httpx.post(
        f"{live_server.url}/api/match",
        json={"accounts": ["x:@Troll_1"], "urls": ["secret-ops.example/leak"], "actions": False},
        headers={"Authorization": f"Bearer {hub.tokens['lab']}"},
    ).json()
    assert member["visible_tlp"] == "TLP:RED"
    # The hub's own bank shows members its GREEN signals; its AMBER one has no audience on the web.
    assert [(r["kind"], len(r["matches"])) for r in member["results"]] == [("url", 0), ("account", 1)]
    banks = httpx.get(f"{live_server.url}/api/match/banks", headers={"Authorization": f"Bearer {hub.tokens['lab']}"})
    assert banks.json()["banks"] == [
        {
            "name": "io-2026",
            "description": "",
            "signals": {"url": 1, "pdq": 1, "domain": 1, "account": 1, "text": 1},  # hidden ones are not counted
        }
    ]
    assert httpx.get(f"{live_server.url}/api/match/banks").status_code == 401


def test_multipart_upload_matches_a_near_duplicate_and_reports_bad_files(
    live_server: LiveServer, tmp_path: Path
) -> None:
    plant_bank(live_server.app.state.database, tmp_path)
    copy = encode(near_duplicate(picture(11)), "WEBP")
    files = [
        ("files", ("reupload.webp", copy, "image/webp")),
        ("files", ("other.png", encode(picture(99)), "image/png")),
        ("files", ("empty.jpg", b"", "image/jpeg")),
        ("files", ("broken.jpg", encode(picture(1), "JPEG")[:300], "image/jpeg")),
        ("files", ("huge.png", b"\x89PNG\r\n\x1a\n" + bytes(9 * 1024 * 1024), "image/png")),
        ("files", ("blob.bin", bytes(range(256)), "application/octet-stream")),
    ]
    response = httpx.post(
        f"{live_server.url}/api/match", files=files, data={"url": "https://fake-news.example/story"}, timeout=60
    )
    assert response.status_code == 200, response.text
    results = {r["item"]: r for r in response.json()["results"]}
    near = results["reupload.webp"]
    assert near["ok"] and near["matches"][0]["how"] == "near"
    assert 0 < near["matches"][0]["distance"] <= 31
    assert near["detail"]["type"] == "webp" and near["detail"]["pdq_quality"] >= 50
    assert results["other.png"]["ok"] and results["other.png"]["matches"] == []
    assert results["empty.jpg"]["error"] == "file is empty"
    assert "corrupt or truncated image" in results["broken.jpg"]["error"]
    assert "over the limit" in results["huge.png"]["error"]
    assert "unsupported file type" in results["blob.bin"]["error"]
    assert results["https://fake-news.example/story"]["matches"]


def test_requests_that_are_wrong_as_a_whole(live_server: LiveServer) -> None:
    url = f"{live_server.url}/api/match"
    spec = httpx.get(f"{live_server.url}/openapi.json").json()
    assert "multipart/form-data" in spec["paths"]["/api/match"]["post"]["requestBody"]["content"]
    assert httpx.post(url, json={}).status_code == 422
    assert "unknown fields" in httpx.post(url, json={"urlz": ["a"]}).text
    assert httpx.post(url, json=["x"]).status_code == 422
    assert httpx.post(url, content=b"not json", headers={"content-type": "application/json"}).status_code == 400
    assert httpx.post(url, json={"urls": ["http://a.example/"] * 1001}).status_code == 413
    unknown = httpx.post(url, json={"urls": ["http://a.example/"], "banks": ["nope"]})
    assert unknown.status_code == 422 and "no bank named nope" in unknown.text


def test_hosts_longer_than_a_domain_name_are_refused_at_once(live_server: LiveServer, tmp_path: Path) -> None:
    """Each parent domain is looked up as its own string: 'a.a.a...' of 0.8 MB took 27 s of a worker, from any
    visitor. A host over DNS's 253 characters is an item error; the real hits beside it are still found."""
    plant_bank(live_server.app.state.database, tmp_path)
    labels = "a." * 400_000 + "disinfo.example"
    body = {"domains": [labels, "cdn.disinfo.example"], "urls": [f"http://{labels}/x", f"http://{'é.' * 300}com/"],
            "actions": False}
    response = httpx.post(f"{live_server.url}/api/match", json=body, timeout=30)
    assert response.status_code == 200, response.text[:300]
    assert response.elapsed.total_seconds() < 5
    results = response.json()["results"]
    errors = [r["error"] for r in results if r["error"]]
    assert len(errors) == 3 and all("over the 253 of a domain name" in e for e in errors), errors
    hit = next(r for r in results if r["item"] == "cdn.disinfo.example")
    assert hit["matches"] and hit["matches"][0]["how"] == "domain"


def test_a_text_too_long_to_match_is_an_item_error_and_costs_nothing(live_server: LiveServer, tmp_path: Path) -> None:
    """3 million U+FDFA (9 MB of JSON) normalise (NFKC) to 54 million characters: it took 15 s and 3.3 GB of the
    server's memory, from any visitor. Texts over 100,000 characters are refused by name; the rest still match."""
    plant_bank(live_server.app.state.database, tmp_path)
    planted = "POLLING stations in Springfield are closed today!! vote tomorrow"
    body = {"texts": ["\ufdfa" * 3_000_000, planted], "actions": False}
    response = httpx.post(f"{live_server.url}/api/match", json=body, timeout=60)
    assert response.status_code == 200, response.text[:300]
    assert response.elapsed.total_seconds() < 5
    long_one, short_one = response.json()["results"]
    assert long_one["error"] == "a text is matched up to 100,000 characters (this has 3,000,000)"
    assert short_one["error"] is None and short_one["matches"][0]["similarity"] == 1.0
