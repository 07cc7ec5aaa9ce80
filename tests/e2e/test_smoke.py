"""The served app answers over real HTTP and renders in a real browser."""

from __future__ import annotations

import httpx
import pytest

from tests.support.live import LiveServer


def test_home_page_over_http(live_server: LiveServer) -> None:
    response = httpx.get(live_server.url + "/")
    assert response.status_code == 200
    assert "Shieldwall" in response.text
    assert httpx.get(live_server.url + "/static/style.css").status_code == 200


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_home_page_in_chromium(live_server: LiveServer, chromium) -> None:  # type: ignore[no-untyped-def]
    chromium.get(live_server.url + "/")
    assert "Shieldwall" in chromium.title
    assert chromium.find_element("css selector", ".topbar .brand").text.endswith("Shieldwall")
