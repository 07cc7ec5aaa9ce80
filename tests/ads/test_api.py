"""The JSON API over real HTTP: public reads, writer-only import, streaming exports, OpenAPI limits."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from tests.ads.conftest import meta_ad, snap_row, write_snap
from tests.support.live import LiveServer


@pytest.fixture
def loaded(live_server: LiveServer, writer_token: str) -> LiveServer:
    ads = [meta_ad(str(i), ad_creative_bodies=[f"Vote for parks, message {i}"]) for i in range(1, 13)]
    ads.append(meta_ad("eu1", ad_reached_countries=["IE"], currency="EUR", bylines="Irish Parks Trust"))
    body = json.dumps({"data": ads}).encode()
    response = httpx.post(
        live_server.url + "/api/v1/ads/import?format=meta",
        content=body,
        headers={"Authorization": f"Bearer {writer_token}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 13
    return live_server


def test_import_needs_an_authenticated_writer(live_server: LiveServer, reader_token: str, tmp_path: Path) -> None:
    csv_bytes = write_snap(tmp_path / "s.csv", [snap_row()]).read_bytes()
    url = live_server.url + "/api/v1/ads/import?format=snap"
    assert httpx.post(url, content=csv_bytes).status_code == 401
    forbidden = httpx.post(url, content=csv_bytes, headers={"Authorization": f"Bearer {reader_token}"})
    assert forbidden.status_code == 403


def test_import_reports_bad_rows(live_server: LiveServer, writer_token: str, tmp_path: Path) -> None:
    csv_bytes = write_snap(tmp_path / "s.csv", [snap_row(), snap_row(ADID="b", Impressions="many")]).read_bytes()
    response = httpx.post(
        live_server.url + "/api/v1/ads/import?format=snap",
        content=csv_bytes,
        headers={"Authorization": f"Bearer {writer_token}"},
    )
    assert response.status_code == 200
    result = response.json()
    assert result["created"] == 1 and result["rejected"] == 1
    assert result["problems"][0] == {
        "file": "upload",
        "line": 3,
        "field": "Impressions",
        "reason": "not a number from 0 to 1,000,000,000,000 ('many')",
    }


def test_search_pages_with_cursors_without_login(loaded: LiveServer) -> None:
    url = loaded.url + "/api/v1/ads"
    seen: list[str] = []
    params: dict[str, str | int] = {"q": "parks", "country": "US", "limit": 5}
    while True:
        page = httpx.get(url, params=params)
        assert page.status_code == 200
        body = page.json()
        seen += [ad["platform_ad_id"] for ad in body["data"]]
        if not body["next_cursor"]:
            break
        params["cursor"] = body["next_cursor"]
    assert sorted(seen, key=int) == [str(i) for i in range(1, 13)]
    first = httpx.get(url, params={"limit": 1}).json()["data"][0]
    assert first["spend"] == {"lower_bound": 100, "upper_bound": 199}
    assert httpx.get(url, params={"limit": 5000}).status_code == 422  # documented maximum is 1000
    assert httpx.get(url, params={"cursor": "nonsense"}).status_code == 400
    assert httpx.get(url, params={"compliance": "maybe"}).status_code == 400


def test_ad_sponsor_compliance_and_label(loaded: LiveServer) -> None:
    ad = httpx.get(loaded.url + "/api/v1/ads", params={"country": "IE"}).json()["data"][0]
    detail = httpx.get(f"{loaded.url}/api/v1/ads/{ad['id']}").json()
    assert detail["versions"][0]["kind"] == "created"
    assert detail["compliance"] == "non_compliant"
    assert {i["check"] for i in detail["compliance_issues"]} >= {"eu_controlling_entity", "eu_origin_of_funds"}
    sponsor = httpx.get(f"{loaded.url}/api/v1/ads/sponsors/{ad['sponsor_id']}").json()
    assert sponsor["name"] == "Irish Parks Trust" and sponsor["spend"][0]["currency"] == "EUR"
    share = sponsor["classifier"]
    assert share["ads"] == share["scored"] >= 1 and 0 <= share["political"] <= share["scored"]
    assert 0 <= share["mean_score"] <= 1
    compliance = httpx.get(loaded.url + "/api/v1/ads/compliance").json()["data"]
    assert compliance[0]["sponsor"] == "Irish Parks Trust" and compliance[0]["non_compliant_ads"] == 1
    by_sponsor = httpx.get(loaded.url + "/api/v1/ads/compliance.csv").text.splitlines()
    assert by_sponsor[0] == "sponsor_id,sponsor,non_compliant_ads,item,ads_missing_item"
    assert any(line.endswith("Irish Parks Trust,1,EU: origin of funds,1") for line in by_sponsor)
    label = httpx.get(
        loaded.url + "/api/v1/ads/label",
        params={"publisher": "Jane", "paid": "true", "paid_by": "Friends of Jane", "declared_political": "true"},
    ).json()
    assert label["label"] == "political_ad" and label["display"] == "Paid for by Friends of Jane"
    assert httpx.get(loaded.url + "/api/v1/ads/label", params={"publisher": "Daily"}).json()["label"] == "news"
    assert httpx.get(loaded.url + "/api/v1/ads/999999").status_code == 404


def test_bulk_exports_stream_every_format(loaded: LiveServer) -> None:
    base = loaded.url + "/api/v1/ads/export"
    with httpx.stream("GET", base + ".csv", params={"country": "US"}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        text = b"".join(response.iter_bytes()).decode()
    assert text.splitlines()[0].startswith("id,platform,platform_ad_id") and len(text.splitlines()) == 13
    lines = httpx.get(base + ".jsonl", params={"compliance": "non_compliant"}).text.splitlines()
    assert [json.loads(line)["platform_ad_id"] for line in lines] == ["eu1"]
    table = pq.read_table(io.BytesIO(httpx.get(base + ".parquet").content))
    assert table.num_rows == 13 and "spend_upper" in table.column_names
    assert httpx.get(base + ".xlsx").status_code == 400


def test_openapi_documents_the_ads_api(live_server: LiveServer) -> None:
    spec = httpx.get(live_server.url + "/openapi.json").json()
    assert "/api/v1/ads" in spec["paths"] and "/api/v1/ads/export.{fmt}" in spec["paths"]
    limit = next(p for p in spec["paths"]["/api/v1/ads"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 1000
