"""/docs works offline: Swagger UI comes from the hub itself and renders the API in Chromium."""

from __future__ import annotations

import re

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.live import LiveServer


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_docs_page_loads_nothing_from_elsewhere(live_server: LiveServer) -> None:
    page = httpx.get(live_server.url + "/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        assert httpx.get(live_server.url + source).status_code == 200, source
    assert httpx.get(live_server.url + "/redoc").status_code == 404


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_docs_render_in_chromium(live_server: LiveServer, chromium) -> None:  # type: ignore[no-untyped-def]
    chromium.get(live_server.url + "/docs")
    WebDriverWait(chromium, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"))
    assert "TAXII" in chromium.find_element(By.CSS_SELECTOR, ".swagger-ui").text
