"""The /match page in headless Chromium: upload an image through the file input, paste a URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.match.fixtures import plant_bank
from tests.match.images import encode, near_duplicate, picture
from tests.support.live import LiveServer


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_upload_an_image_and_paste_a_url_in_chromium(live_server: LiveServer, chromium, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plant_bank(live_server.app.state.database, tmp_path)
    image = tmp_path / "reupload.jpg"
    image.write_bytes(encode(near_duplicate(picture(11)), "JPEG"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(encode(picture(2))[:100])

    chromium.get(live_server.url + "/match")
    assert "Match" in chromium.title
    assert "io-2026" in chromium.find_element(By.ID, "banks").text
    chromium.find_element(By.ID, "file-input").send_keys(f"{image}\n{broken}")
    chromium.find_element(By.ID, "url-input").send_keys("https://www.fake-news.example/story?utm_source=tw")
    chromium.find_element(By.ID, "match-button").click()

    # The page posts and then renders the results; wait for them rather than racing the request.
    title = WebDriverWait(chromium, 30).until(lambda d: d.find_elements(By.ID, "results-title"))[0].text
    assert title == "2 of 3 items matched"
    cards = {c.find_element(By.CLASS_NAME, "item").text: c for c in chromium.find_elements(By.CSS_SELECTOR, ".result")}
    photo = cards["reupload.jpg"]
    assert "matched" in photo.get_attribute("class")
    assert "doctored ballot photo" in photo.text and "bits" in photo.text
    assert photo.find_element(By.CSS_SELECTOR, "img.preview").get_attribute("src").startswith("data:image/")
    assert "corrupt or truncated image" in cards["broken.png"].find_element(By.CLASS_NAME, "item-error").text
    url_card = cards["https://www.fake-news.example/story?utm_source=tw"]
    assert "fake-news.example/story" in url_card.text and "TLP:CLEAR" in url_card.text
    chromium.save_screenshot(str(tmp_path / "match.png"))
