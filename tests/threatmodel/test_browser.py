"""The threat model's pages in headless Chromium: calendar, heat map, campaign page, mapping and sharing forms."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.hub import Hub
from tests.support.live import LiveServer
from tests.threatmodel import scenario as sc

pytestmark = pytest.mark.browser


def sign_in(driver, live: LiveServer, hub: Hub, who: str) -> None:  # type: ignore[no-untyped-def]
    driver.delete_all_cookies()
    driver.get(live.url + "/login")
    driver.find_element(By.NAME, "email").send_keys(f"{who}@example.org")
    driver.find_element(By.NAME, "password").send_keys(hub.passwords[who])
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 10).until(lambda d: d.get_cookie("shieldwall_session") is not None)


def wait_for(driver, element_id: str):  # type: ignore[no-untyped-def]
    """After a form posts, wait for the next page rather than reading the old one."""
    return WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, element_id))[0]


def cell_counts(driver) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    counts = {}
    for cell in driver.find_elements(By.CSS_SELECTOR, "#heatmap .cell"):
        campaigns = int(cell.get_attribute("data-campaigns"))
        if campaigns:
            counts[cell.get_attribute("data-technique")] = (campaigns, int(cell.get_attribute("data-organisations")))
    return counts


def test_calendar_heat_map_campaign_page_and_forms(live_server: LiveServer, live_hub: Hub, chromium) -> None:  # type: ignore[no-untyped-def]
    driver = chromium
    picture = sc.build(live_server.app.state.database, live_hub)

    # A first visitor sees the calendar and a heat map of what is TLP:CLEAR.
    driver.delete_all_cookies()
    driver.get(live_server.url + "/elections")
    driver.find_element(By.LINK_TEXT, "Midterm test election").click()
    assert driver.find_element(By.ID, "election-name").text == "Midterm test election"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#heatmap .tactic-col")) == 16
    assert cell_counts(driver) == sc.EXPECTED["anonymous"]
    assert "not imported yet" in driver.find_element(By.ID, "framework-missing").text

    # A member of the election's trust group sees more, and opens a campaign.
    sign_in(driver, live_server, live_hub, "chirp")
    driver.get(f"{live_server.url}/elections/{picture.election_id}")
    assert cell_counts(driver) == sc.EXPECTED["chirp"]
    driver.find_element(By.LINK_TEXT, "Harassment of poll workers").click()
    rows = driver.find_elements(By.CSS_SELECTOR, "#techniques tr.technique-row")
    assert [r.get_attribute("data-technique") for r in rows] == ["T0086.002", "T0048"]
    assert "TA18 Drive Online Harms" in rows[1].text and "Harass" in rows[1].text
    assert "Reports from 40 poll workers" in rows[0].text
    assert "Midterm test election" in driver.find_element(By.ID, "elections").text
    assert "Poll workers cheat" in driver.find_element(By.ID, "narratives").text
    assert "harass.example" in driver.find_element(By.ID, "evidence").text

    # Map a technique from the page.
    form = driver.find_element(By.ID, "map-technique")
    Select(form.find_element(By.NAME, "technique")).select_by_value("T0124")
    form.find_element(By.NAME, "evidence").send_keys("Coordinated reports against opposition accounts")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert wait_for(driver, "ok").text == "technique mapped"
    rows = driver.find_elements(By.CSS_SELECTOR, "#techniques tr.technique-row")
    assert "T0124" in [r.get_attribute("data-technique") for r in rows]
    assert "TLP:AMBER" in rows[-1].text or any("TLP:AMBER" in r.text for r in rows)

    # Share a new campaign from the election page; the heat map counts it.
    driver.get(f"{live_server.url}/elections/{picture.election_id}")
    form = driver.find_element(By.ID, "new-campaign")
    form.find_element(By.NAME, "name").send_keys("Clickbait polls")
    Select(form.find_element(By.NAME, "tlp")).select_by_value("clear")
    form.find_element(By.NAME, "techniques").send_keys("T0022.001")
    form.find_element(By.NAME, "narratives").send_keys("The result is decided")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 15).until(lambda d: "Clickbait polls" in d.title)
    assert "Clickbait polls" in driver.find_element(By.ID, "campaign-name").text
    driver.get(f"{live_server.url}/elections/{picture.election_id}")
    counts = cell_counts(driver)
    assert counts["T0022.001"] == (2, 1) and counts["T0124"] == (1, 1)  # C4 (RED) is not for chirp

    # Briefing for this reader, then a reader outside the group does not get the AMBER campaign.
    driver.get(f"{live_server.url}/elections/{picture.election_id}/briefing")
    assert "Harassment of poll workers" in driver.find_element(By.ID, "b-campaigns").text
    sign_in(driver, live_server, live_hub, "lab")
    driver.get(f"{live_server.url}/elections/{picture.election_id}/briefing")
    assert "Harassment of poll workers" not in driver.find_element(By.ID, "b-campaigns").text
    driver.get(f"{live_server.url}/campaigns/{picture.campaigns['C3']}")
    assert "Harass" not in driver.find_element(By.TAG_NAME, "body").text
