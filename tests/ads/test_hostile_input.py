"""Odd and hostile input to the ad library over real HTTP, on both databases: numbers beyond any column
(404 or 422 naming the parameter, never a 500), queries with too many words, forged cursors, and links
that are not http(s) (shown as text, never as a link)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from selenium.webdriver.common.by import By

from shieldwall.web.templating import _web_link
from tests.ads.conftest import meta_ad
from tests.support.live import LiveServer

HUGE = "99999999999999999999"
BAD_LINKS = {
    "js": "javascript:alert(document.domain)",
    "js-case": "JaVaScRiPt:alert(1)",
    "js-tab": "java\tscript:alert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "vbscript": "vbscript:msgbox(1)",
    "relative": "//evil.example/x",
}
GOOD_LINK = "https://www.facebook.com/ads/library/?id=42"


@pytest.fixture
def loaded(live_server: LiveServer, writer_token: str) -> tuple[LiveServer, dict[str, int]]:
    ads = [meta_ad(f"bad-{key}", ad_snapshot_url=url) for key, url in BAD_LINKS.items()]
    ads.append(meta_ad("good", ad_snapshot_url=GOOD_LINK, payer_name="Friends of Parks"))
    long_url = "https://vote.example.org/" + "x" * 300
    ads.append(meta_ad("long", ad_creative_bodies=[f"Register now web_view_url:{long_url}"], page_name="P" * 60))
    imported = httpx.post(
        live_server.url + "/api/v1/ads/import?format=meta",
        content=json.dumps({"data": ads}),
        headers={"Authorization": f"Bearer {writer_token}"},
    )
    assert imported.status_code == 200 and imported.json()["created"] == len(ads), imported.text
    listed = httpx.get(live_server.url + "/api/v1/ads", params={"limit": 100}).json()["data"]
    return live_server, {ad["platform_ad_id"]: ad["id"] for ad in listed}


def _cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def test_numbers_beyond_any_column_answer_404_or_422(loaded: tuple[LiveServer, dict[str, int]]) -> None:
    server, _ = loaded
    for path in (
        f"/api/v1/ads/{HUGE}",
        "/api/v1/ads/9223372036854775808",
        "/api/v1/ads/9223372036854775807",
        f"/api/v1/ads/sponsors/{HUGE}",
        "/api/v1/ads/sponsors/2147483648",
        f"/ads/ad/{HUGE}",
        f"/ads/sponsors/{HUGE}",
        "/ads/sponsors/2147483648",
    ):
        got = httpx.get(server.url + path)
        assert got.status_code == 404, (path, got.status_code, got.text[:200])
    assert "no ad 99999999999999999999" in httpx.get(f"{server.url}/api/v1/ads/{HUGE}").json()["detail"]
    for endpoint in ("", "/export.csv", "/aggregates", "/compliance", "/compliance.csv"):
        for name in ("spend_min", "spend_max", "sponsor_id"):
            got = httpx.get(f"{server.url}/api/v1/ads{endpoint}", params={name: HUGE})
            assert got.status_code == 422 and name in got.text, (endpoint, name, got.text[:200])
    for name in ("spend_min", "spend_max", "sponsor_id"):
        page = httpx.get(server.url + "/ads", params={name: HUGE})
        assert page.status_code == 422 and f"{name}: a whole number from" in page.text
        assert httpx.get(server.url + "/ads/compliance", params={name: HUGE}).status_code == 200
    at_limit = httpx.get(server.url + "/api/v1/ads", params={"spend_min": 2**63 - 1, "sponsor_id": 2**31 - 1})
    assert at_limit.status_code == 200 and at_limit.json()["data"] == []


def test_queries_with_too_many_words_get_a_clear_422(loaded: tuple[LiveServer, dict[str, int]]) -> None:
    server, _ = loaded
    words = " ".join(f"word{i}" for i in range(1200))
    for endpoint in ("", "/export.csv", "/aggregates", "/compliance"):
        got = httpx.get(f"{server.url}/api/v1/ads{endpoint}", params={"q": words})
        assert got.status_code == 422, (endpoint, got.status_code)
        assert "q: at most 50 words (got 1,200)" in got.json()["detail"]
    page = httpx.get(server.url + "/ads", params={"q": words})
    assert page.status_code == 422 and "at most 50 words" in page.text and "Expression tree" not in page.text
    fifty = " ".join(["register"] * 49 + ["now"])
    assert httpx.get(server.url + "/api/v1/ads", params={"q": fifty}).status_code == 200
    assert httpx.get(server.url + "/api/v1/ads", params={"q": "x" * 5000}).status_code == 422


def test_filters_longer_than_any_value_get_a_clear_422(loaded: tuple[LiveServer, dict[str, int]]) -> None:
    """A 60,000-character language filter reached SQLite as a LIKE pattern, which it refuses over 50,000 bytes:
    the answer was 503 'database busy or unavailable'. Now each filter is bounded and named."""
    server, _ = loaded
    for name in ("language", "region", "country", "platform", "currency", "election", "status"):
        for endpoint in ("", "/export.csv", "/aggregates", "/compliance", "/compliance.csv"):
            got = httpx.get(f"{server.url}/api/v1/ads{endpoint}", params={name: "x" * 60_000})
            assert got.status_code == 422, (name, endpoint, got.status_code, got.text[:200])
            assert f"{name}: at most 200 characters (got 60,000)" in got.json()["detail"]
    page = httpx.get(server.url + "/ads", params={"language": "x" * 60_000})
    assert page.status_code == 422 and "language: at most 200 characters" in page.text
    assert httpx.get(server.url + "/api/v1/ads", params={"language": "en"}).status_code == 200


def test_forged_cursors_are_refused_with_400(loaded: tuple[LiveServer, dict[str, int]]) -> None:
    server, _ = loaded
    for sort, cursor in (
        ("newest", _cursor("newest", "2024-09-01T00:00:00+00:00", 2**70)),
        ("newest", _cursor("newest", "2024-09-01T00:00:00+00:00", 2**63)),
        ("newest", _cursor("newest", "2024-09-01T00:00:00+00:00", -1)),
        ("newest", _cursor("newest", "2024-09-01T00:00:00", 5)),
        ("newest", _cursor("newest", "0001-01-01T00:00:00+05:00", 5)),
        ("newest", _cursor("newest", 12, 5)),
        ("spend", _cursor("spend", "lots", 5)),
        ("spend", _cursor("spend", 2**64 - 1, 5)),
        ("newest", "A" * 5000),
    ):
        got = httpx.get(server.url + "/api/v1/ads", params={"sort": sort, "cursor": cursor})
        assert got.status_code == 400 and "cursor" in got.json()["detail"], (cursor[:40], got.text[:200])
        assert httpx.get(server.url + "/ads", params={"sort": sort, "cursor": cursor}).status_code == 400


def test_web_link_keeps_only_http_links() -> None:
    for url in BAD_LINKS.values():
        assert _web_link(url) == ""
    for url in (" https://a.example/", "https://a.example/\n", "http:/no-host", "mailto:x@example.org", None, ""):
        assert _web_link(url) == ""
    assert _web_link(GOOD_LINK) == GOOD_LINK and _web_link("HTTP://A.example/x y") == "HTTP://A.example/x y"


@pytest.mark.browser
def test_only_http_links_are_rendered_as_links(loaded: tuple[LiveServer, dict[str, int]], chromium) -> None:  # type: ignore[no-untyped-def]
    server, ids = loaded
    for key, url in BAD_LINKS.items():
        chromium.get(f"{server.url}/ads/ad/{ids[f'bad-{key}']}")
        creative = chromium.find_element(By.ID, "creative")
        assert not creative.find_elements(By.TAG_NAME, "a"), key
        assert creative.text.replace(" ", "") == url[:80].replace("\t", "").replace(" ", ""), key
        schemes = chromium.execute_script("return Array.from(document.links).map(a => a.protocol)")
        assert set(schemes) <= {"http:", "https:"}, (key, schemes)
    chromium.get(f"{server.url}/ads/ad/{ids['good']}")
    link = chromium.find_element(By.CSS_SELECTOR, "#creative a")
    assert link.get_attribute("href") == GOOD_LINK
    # The payer appears once, linked to its sponsor entity.
    payer_rows = [r for r in chromium.find_elements(By.CSS_SELECTOR, "table th") if r.text == "Payer"]
    assert len(payer_rows) == 1
    assert chromium.find_element(By.CSS_SELECTOR, "#payer td").text.startswith("Friends of Parks")


@pytest.mark.browser
def test_library_table_fits_a_1400_pixel_window(loaded: tuple[LiveServer, dict[str, int]], chromium) -> None:  # type: ignore[no-untyped-def]
    server, ids = loaded
    size = chromium.get_window_size()
    try:
        chromium.set_window_size(1400, 900)
        for path in ("/ads", f"/ads/ad/{ids['long']}"):
            chromium.get(server.url + path)
            page, view = chromium.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert page <= view, (path, page, view)
            right, main = chromium.execute_script(
                "return [document.querySelector('main table').getBoundingClientRect().right,"
                " document.querySelector('main').getBoundingClientRect().right]"
            )
            assert right <= main + 1, (path, right, main)
    finally:
        chromium.set_window_size(size["width"], size["height"])
