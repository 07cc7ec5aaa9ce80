"""The Ad Library pages in headless Chromium, as a reader uses them (no login needed)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from shieldwall.ads.maintenance import upsert_election
from shieldwall.store.db import Database
from tests.ads.conftest import meta_ad
from tests.support.live import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def library(live_server: LiveServer, writer_token: str) -> LiveServer:
    database: Database = live_server.app.state.database
    from datetime import UTC, datetime

    with database.session() as session:
        upsert_election(
            session, "us-2024", "US general election 2024", "US", "general", datetime(2024, 11, 5, tzinfo=UTC)
        )
    ads = [
        meta_ad(str(i), ad_creative_bodies=[f"Protect our rivers, part {i}"], eu_transparency={"election": "us-2024"})
        for i in range(1, 60)
    ]
    ads.append(meta_ad("nobyline", bylines=None, ad_creative_bodies=["Rivers need you"]))
    headers = {"Authorization": f"Bearer {writer_token}"}
    url = live_server.url + "/api/v1/ads/import?format=meta"
    assert httpx.post(url, content=json.dumps({"data": ads}), headers=headers).status_code == 200
    revised = [
        meta_ad("1", ad_creative_bodies=["Protect our rivers and lakes"], eu_transparency={"election": "us-2024"})
    ]
    assert httpx.post(url, content=json.dumps({"data": revised}), headers=headers).json()["changed"] == 1
    return live_server


def test_search_filters_and_cursor_paging(library: LiveServer, chromium) -> None:  # type: ignore[no-untyped-def]
    chromium.get(library.url + "/ads")
    box = chromium.find_element(By.NAME, "q")
    box.send_keys("rivers")
    chromium.find_element(By.NAME, "country").send_keys("US")
    chromium.find_element(By.CSS_SELECTOR, "#ad-filters button[type=submit]").click()
    WebDriverWait(chromium, 10).until(lambda d: "q=rivers" in d.current_url)
    first_page = [r.text for r in chromium.find_elements(By.CSS_SELECTOR, "tr.ad-row")]
    assert len(first_page) == 50
    chromium.find_element(By.ID, "next-page").click()
    WebDriverWait(chromium, 10).until(lambda d: "cursor=" in d.current_url)
    second_page = [r.text for r in chromium.find_elements(By.CSS_SELECTOR, "tr.ad-row")]
    assert len(second_page) == 10 and not set(first_page) & set(second_page)
    assert "6,000–11,940 USD" in chromium.find_element(By.ID, "totals").text  # 60 x [100, 199], as a range
    export = chromium.find_element(By.ID, "export-csv").get_attribute("href")
    assert "q=rivers" in export and "/api/v1/ads/export.csv" in export


def test_ad_page_shows_versions_and_disclosure(library: LiveServer, chromium) -> None:  # type: ignore[no-untyped-def]
    chromium.get(library.url + "/ads?q=" + quote("lakes"))
    chromium.find_element(By.CSS_SELECTOR, "tr.ad-row a").click()
    WebDriverWait(chromium, 10).until(lambda d: "/ads/ad/" in d.current_url)
    versions = chromium.find_elements(By.CSS_SELECTOR, "#versions tr.version")
    assert [v.text.split()[0] for v in versions] == ["v2", "v1"]
    diff = chromium.find_element(By.CSS_SELECTOR, ".diff").text
    assert "Protect our rivers, part 1" in diff and "Protect our rivers and lakes" in diff
    assert chromium.find_element(By.ID, "paid-for-by").text == "Committee to Elect Jane Roe"
    chromium.get(library.url + "/ads?q=" + quote("need you"))
    chromium.find_element(By.CSS_SELECTOR, "tr.ad-row a").click()
    WebDriverWait(chromium, 10).until(lambda d: "/ads/ad/" in d.current_url)
    assert chromium.find_element(By.ID, "compliance").text == "non compliant"
    assert "Paid for by" in chromium.find_element(By.ID, "issues").text


def test_sponsor_election_compliance_and_label_pages(library: LiveServer, chromium) -> None:  # type: ignore[no-untyped-def]
    chromium.get(library.url + "/ads/elections/us-2024")  # the ad library's old address: the one calendar's page
    WebDriverWait(chromium, 10).until(lambda d: "/elections/" in d.current_url and "/ads/" not in d.current_url)
    row = chromium.find_element(By.CSS_SELECTOR, "#election-top-sponsors tr.sponsor-row")
    assert "Committee to Elect Jane Roe" in row.text and "5,900–11,741 USD" in row.text
    row.find_element(By.TAG_NAME, "a").click()
    WebDriverWait(chromium, 10).until(lambda d: "/ads/sponsors/" in d.current_url)
    assert chromium.find_element(By.ID, "sponsor-name").text == "Committee to Elect Jane Roe"
    share = chromium.find_element(By.ID, "classifier-share").text  # the campaign's ads, scored by the bundled model
    assert re.search(r"Political-ad classifier: (\d+) of \1 scored ads political", share), share
    charts = chromium.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 3
    assert charts[1].find_elements(By.CSS_SELECTOR, "rect.range-lower")  # spend by region, drawn as ranges
    chromium.get(library.url + "/ads/compliance")
    assert "(no sponsor disclosed)" in chromium.find_element(By.ID, "noncompliant").text
    chromium.get(
        library.url + "/ads/label?publisher=Jane+Roe&paid=1&paid_by=Friends+of+Jane&declared_political=1&text=Vote"
    )
    assert chromium.find_element(By.ID, "post-label").text == "Paid for by Friends of Jane"
    chromium.get(library.url + "/ads/label?publisher=City+Gazette&text=Council+meets")
    assert chromium.find_element(By.ID, "post-label").text == "News"


def test_one_election_calendar_from_the_ad_to_its_election_and_back(library: LiveServer, chromium) -> None:  # type: ignore[no-untyped-def]
    chromium.get(library.url + "/ads?q=" + quote("lakes"))
    chromium.find_element(By.CSS_SELECTOR, "tr.ad-row a").click()
    WebDriverWait(chromium, 10).until(lambda d: "/ads/ad/" in d.current_url)
    link = chromium.find_element(By.ID, "election-link")
    assert link.text == "US general election 2024"
    link.click()
    WebDriverWait(chromium, 10).until(lambda d: "/elections/" in d.current_url and "/ads/" not in d.current_url)
    assert chromium.find_element(By.ID, "election-name").text == "US general election 2024"  # the threat model's page
    totals = chromium.find_element(By.ID, "election-ad-totals").text
    assert "5,900–11,741 USD (59 ads)" in totals  # spend by election, as a range
    assert "Committee to Elect Jane Roe" in chromium.find_element(By.ID, "election-top-sponsors").text
    chromium.find_element(By.ID, "election-ads-link").click()
    WebDriverWait(chromium, 10).until(lambda d: "election=us-2024" in d.current_url)
    assert len(chromium.find_elements(By.CSS_SELECTOR, "tr.ad-row")) == 50
    chosen = chromium.find_element(By.CSS_SELECTOR, "select[name=election] option[selected]")
    assert chosen.get_attribute("value") == "us-2024"
    chromium.get(library.url + "/ads/elections")  # the ad library's calendar is the threat model's
    WebDriverWait(chromium, 10).until(lambda d: d.current_url.endswith("/elections?show_past=true"))
    assert "US general election 2024" in chromium.find_element(By.TAG_NAME, "body").text
