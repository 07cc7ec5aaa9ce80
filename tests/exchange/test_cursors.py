"""Paging cursors are opaque and tamper-proof: they reveal no row numbers, and a bad one is a clear 4xx."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from shieldwall.stix.tlp import TLP
from tests.exchange.test_sharing import TAXII, api, share
from tests.support.hub import Hub, indicator
from tests.support.live import LiveServer


def test_cursors_are_opaque_and_bad_ones_are_refused(live_server: LiveServer, hub: Hub) -> None:
    for n in range(3):
        share(live_server, hub, "chirp", indicator(f"http://page-{n}.example/", TLP.CLEAR))
    url = f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/"
    first = httpx.get(url, params={"limit": "1"}, headers={"Accept": TAXII}).json()
    cursor = first["next"]
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert not re.fullmatch(rb"\d+:\d+", decoded) and len(decoded) == 26  # no "date_added:row" in clear
    second = httpx.get(url, params={"limit": "1", "next": cursor}, headers={"Accept": TAXII})
    assert second.status_code == 200 and second.json()["objects"][0]["id"] != first["objects"][0]["id"]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    for bad in (tampered, "x" * 5000, "MTIzOjQ1Ng", "%%%", "99999999999999999999:1"):
        for path in ("objects/", "manifest/"):
            response = httpx.get(
                f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/{path}",
                params={"next": bad},
                headers={"Accept": TAXII},
            )
            assert response.status_code == 400, (bad[:20], path, response.text)
        rest = api(live_server, hub, "chirp").get("/api/v1/objects", params={"cursor": bad})
        assert rest.status_code == 422, rest.text
        page = httpx.get(f"{live_server.url}/objects", params={"cursor": bad})
        assert page.status_code in (200, 400, 422), page.status_code


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "99999999999999999999"])
def test_odd_limits_are_clear_errors_or_capped(live_server: LiveServer, hub: Hub, limit: str) -> None:
    response = httpx.get(
        f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/",
        params={"limit": limit},
        headers={"Accept": TAXII},
    )
    assert response.status_code in (200, 400), response.text
