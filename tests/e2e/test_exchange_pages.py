"""The exchange's pages in headless Chromium: sign in, dashboard, share a bundle, browse, one object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.hub import Hub, indicator, seed_hub
from tests.support.live import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def hub(live_server: LiveServer) -> Hub:
    return seed_hub(live_server.app.state.database)


def sign_in(driver, live: LiveServer, hub: Hub, who: str) -> None:  # type: ignore[no-untyped-def]
    driver.delete_all_cookies()
    driver.get(live.url + "/login")
    driver.find_element(By.NAME, "email").send_keys(f"{who}@example.org")
    driver.find_element(By.NAME, "password").send_keys(hub.passwords[who])
    driver.find_element(By.ID, "sign-in").click()
    # The form posts and redirects; wait for it, or the next get() races the session cookie.
    WebDriverWait(driver, 15).until(lambda d: "/login" not in d.current_url)


def wait_for(driver, element_id: str):  # type: ignore[no-untyped-def]
    """After a form posts, wait for the next page rather than reading the old one."""
    return WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, element_id))[0]


def test_sign_in_share_browse_and_give_feedback(live_server: LiveServer, hub: Hub, chromium, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    driver = chromium
    driver.delete_all_cookies()
    driver.get(live_server.url + "/login")
    driver.find_element(By.NAME, "email").send_keys("chirp@example.org")
    driver.find_element(By.NAME, "password").send_keys("wrong password")
    driver.find_element(By.ID, "sign-in").click()
    assert "Wrong e-mail or password" in wait_for(driver, "login-error").text

    sign_in(driver, live_server, hub, "chirp")
    assert "What is new for Chirp" in driver.find_element(By.TAG_NAME, "h1").text

    good = indicator("http://shared-in-browser.example/")
    bad = indicator("http://broken.example/")
    bad["pattern"] = "[url:value = 'unterminated"
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [good, bad]}))
    driver.get(live_server.url + "/upload")
    driver.find_element(By.NAME, "bundle").send_keys(str(bundle))
    Select(driver.find_element(By.NAME, "tlp")).select_by_value("amber")
    driver.find_element(By.CSS_SELECTOR, "input[name=trust_groups][value=us-2026]").click()
    driver.find_element(By.ID, "share-button").click()
    assert "1 stored, 1 rejected" in wait_for(driver, "upload-result").text
    assert bad["id"] in driver.find_element(By.ID, "failures").text

    # A member of the trust group finds it in the browser and opens it.
    sign_in(driver, live_server, hub, "agency")
    driver.get(live_server.url + "/objects?q=shared-in-browser")
    results = driver.find_elements(By.CSS_SELECTOR, "#results tr.result")
    assert len(results) == 1 and "TLP:AMBER" in results[0].text
    results[0].find_element(By.TAG_NAME, "a").click()
    assert good["id"] in wait_for(driver, "stix").text
    Select(driver.find_element(By.NAME, "verdict")).select_by_value("agree")
    driver.find_element(By.CSS_SELECTOR, "#feedback button").click()
    assert wait_for(driver, "my-opinion").text == "agree"

    # An organisation outside the group does not find it, and its page is a 404.
    sign_in(driver, live_server, hub, "lab")
    driver.get(live_server.url + "/objects?q=shared-in-browser")
    assert driver.find_elements(By.CSS_SELECTOR, "#results tr.result") == []
    driver.get(live_server.url + f"/objects/{good['id']}")
    assert "404" in driver.find_element(By.TAG_NAME, "h1").text

    # The publisher sees the aggregate of opinions.
    sign_in(driver, live_server, hub, "chirp")
    driver.get(live_server.url + f"/objects/{good['id']}")
    assert "agree 1" in driver.find_element(By.ID, "opinion-aggregate").text


def test_relationship_picture_and_anonymous_view(live_server: LiveServer, hub: Hub, chromium) -> None:  # type: ignore[no-untyped-def]
    from shieldwall.exchange import objects as store
    from shieldwall.exchange.auth import principal_for_member
    from shieldwall.exchange.demo import us_operation
    from shieldwall.exchange.tables import Collection, Member
    from shieldwall.stix.tlp import TLP

    objects = us_operation()
    with live_server.app.state.database.session() as session:
        principal = principal_for_member(session, session.get(Member, hub.member_ids["chirp"]))
        collection = session.get(Collection, hub.collection_id)
        result = store.ingest(session, principal, collection, objects, store.Sharing(tlp=TLP.GREEN))
        assert not result.failures
    campaign = next(o for o in objects if o["type"] == "campaign")
    sign_in(chromium, live_server, hub, "lab")
    chromium.get(live_server.url + f"/objects/{campaign['id']}")
    svg = chromium.find_element(By.ID, "relationship-graph")
    assert len(svg.find_elements(By.TAG_NAME, "circle")) == 6  # the campaign and five related objects
    assert "Storm Harbor" in svg.text
    # Signed out: only TLP:CLEAR, so the GREEN campaign is not there.
    chromium.delete_all_cookies()
    chromium.get(live_server.url + f"/objects/{campaign['id']}")
    assert "404" in chromium.find_element(By.TAG_NAME, "h1").text
