"""A signal shared on the hub becomes matchable by itself: the hub's new-object notice syncs the banks of this
hub's collections in the server, in process, as each bank's owner."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from shieldwall.match.banks import create_bank
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from tests.match.fixtures import principal_of
from tests.match.stixdata import indicator
from tests.support.hub import seed_hub
from tests.support.live import LiveServer


def test_a_shared_indicator_is_matchable_within_seconds_without_a_sync_command(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIELDWALL_MATCH_HUB_SYNC_SECONDS", "0")  # notices only: no polling to help
    server = LiveServer(database_url, tmp_path / "data").start()
    try:
        database: Database = server.app.state.database
        hub = seed_hub(database)
        lab = principal_of(database, hub.member_ids["lab"])
        with database.session() as session:
            create_bank(session, "lab-hub", owner=lab, taxii_collection=hub.collection_id, label="io")
        chirp = {"Authorization": f"Bearer {hub.tokens['chirp']}"}
        lab_auth = {"Authorization": f"Bearer {hub.tokens['lab']}"}
        shared = indicator("[url:value = 'http://fresh.example/story']", TLP.GREEN)
        hidden = indicator("[url:value = 'http://group-only.example/']", TLP.AMBER)
        published = time.monotonic()
        response = httpx.post(f"{server.url}/api/v1/objects", json={"objects": [shared]}, headers=chirp)
        assert response.status_code == 201, response.text
        response = httpx.post(
            f"{server.url}/api/v1/objects",
            json={"objects": [hidden], "tlp": "amber", "share_with": {"trust_groups": ["us-2026"]}},
            headers=chirp,
        )
        assert response.status_code == 201, response.text
        body = {"urls": ["https://fresh.example/story", "https://group-only.example/"], "actions": False}
        while True:
            answer = httpx.post(f"{server.url}/api/match", json=body, headers=lab_auth).json()
            if answer["results"][0]["matches"]:
                break
            assert time.monotonic() - published < 30, "not matchable after 30 s"
            time.sleep(0.1)
        assert answer["results"][0]["matches"][0]["bank"] == "lab-hub"
        # Synced as the bank's owner: lab is not in the trust group, so the group's indicator never arrives.
        assert answer["results"][1]["matches"] == []
        assert server.app.state.match_hub_sync.rounds >= 1
    finally:
        server.stop()
