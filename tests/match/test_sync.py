"""Banks synced from the exchange over TAXII 2.1 (taxii2-client against the real hub), and sightings sent back."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select
from taxii2client.v21 import Collection
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.match.banks import create_bank, get_bank
from shieldwall.match.sync import sync_bank
from shieldwall.match.tables import ActionDelivery, BankSignal
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from tests.match.fixtures import principal_of
from tests.match.stixdata import indicator
from tests.support.hub import Hub, seed_hub
from tests.support.live import LiveServer


def values(database: Database) -> set[str]:
    with database.session() as session:
        return set(session.scalars(select(BankSignal.value)))


def hub_collection(live_server: LiveServer, hub: Hub, who: str) -> Collection:
    url = f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/"
    return Collection(url, user=who, password=hub.tokens[who])


def test_incremental_resumable_sync_with_revocation_and_deletion(live_server: LiveServer, tmp_path: Path) -> None:
    database: Database = live_server.app.state.database
    hub = seed_hub(database)
    publisher = hub_collection(live_server, hub, "chirp")
    first = [indicator(f"[url:value = 'http://wave-one.example/{i}']", TLP.GREEN) for i in range(3)]
    amber_elsewhere = indicator("[url:value = 'http://not-for-lab.example/']", TLP.RED)
    publisher.add_objects({"objects": [*first, amber_elsewhere]})
    with database.session() as session:
        create_bank(
            session,
            "hub",
            taxii_api_root=f"{live_server.url}/taxii2/hub/",
            taxii_collection=hub.collection_id,
            taxii_token=hub.tokens["lab"],
            secret_key=live_server.settings.secret_key,
        )

    report = sync_bank(database, "hub", secret_key=live_server.settings.secret_key)
    assert report.report.added == 3 and report.cursor
    assert values(database) == {f"wave-one.example/{i}" for i in range(3)}  # the RED one is not shared with lab

    # Next sync asks only for what was added after the cursor.
    second = [indicator(f"[domain-name:value = 'wave-two-{i}.example']", TLP.GREEN) for i in range(2)]
    revoked = {**first[0], "modified": "2026-10-05T10:00:00.000Z", "revoked": True}
    publisher.add_objects({"objects": [*second, revoked]})
    cursors: list[str] = []

    def saved_cursor(pages: int, indicators: int) -> None:
        with database.session() as session:
            cursors.append(get_bank(session, "hub").taxii_cursor)

    report = sync_bank(database, "hub", secret_key=live_server.settings.secret_key, page_size=1, on_page=saved_cursor)
    assert report.report.indicators == 3  # two new, one new version; the old ones are not fetched again
    # Each page's cursor is committed with the page: an interrupted sync resumes after the last full page.
    assert report.pages == 3 and cursors == sorted(set(cursors)) and len(cursors) == 3
    assert report.report.revoked == 1 and report.report.added == 2
    assert values(database) == {"wave-one.example/1", "wave-one.example/2", "wave-two-0.example", "wave-two-1.example"}
    assert sync_bank(database, "hub", secret_key=live_server.settings.secret_key).report.indicators == 0

    # A deleted indicator vanishes from the collection: the manifest reconciliation removes its signals.
    deleted = httpx.delete(
        f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/{first[1]['id']}/",
        headers={"Authorization": f"Bearer {hub.tokens['chirp']}", "Accept": "application/taxii+json;version=2.1"},
    )
    assert deleted.status_code == 200, deleted.text
    assert sync_bank(database, "hub", secret_key=live_server.settings.secret_key).removed_missing == 1
    assert "wave-one.example/1" not in values(database)

    # The scheduled loop (two runs) from the CLI, starting over with --full.
    env = {"SHIELDWALL_DATABASE_URL": database.url, "SHIELDWALL_DATA_DIR": str(live_server.settings.data_dir)}
    result = CliRunner().invoke(
        app, ["match", "bank", "sync", "hub", "--full", "--every", "0.1s", "--runs", "2"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("bank hub:") == 2
    # A wrong token is a clear error, not a traceback.
    bad = CliRunner().invoke(app, ["match", "bank", "sync", "hub", "--token", "swt_wrong"], env=env)
    assert bad.exit_code == 2 and "hub" in bad.output
    with database.session() as session:
        assert get_bank(session, "hub").last_synced_at is not None
    publisher.close()


def test_sighting_reported_to_the_exchange(live_server: LiveServer) -> None:
    database: Database = live_server.app.state.database
    hub = seed_hub(database)
    shared = indicator("[url:value = 'http://sighted.example/x']", TLP.GREEN)
    publisher = hub_collection(live_server, hub, "chirp")
    publisher.add_objects({"objects": [shared]})
    with database.session() as session:
        create_bank(
            session,
            "hub",
            taxii_api_root=f"{live_server.url}/taxii2/hub/",
            taxii_collection=hub.collection_id,
            taxii_token=hub.tokens["lab"],
            secret_key=live_server.settings.secret_key,
            report_sightings=True,
            owner=principal_of(database, hub.member_ids["lab"]),  # sightings speak for the bank's owner
        )
    sync_bank(database, "hub", secret_key=live_server.settings.secret_key)
    response = httpx.post(
        f"{live_server.url}/api/match",
        json={"urls": ["https://sighted.example/x/"]},
        headers={"Authorization": f"Bearer {hub.tokens['lab']}"},
    )
    assert response.json()["actions"]["sightings_ok"] == 1, response.text
    sightings = publisher.get_objects(type="sighting").get("objects", [])
    assert [s["sighting_of_ref"] for s in sightings] == [shared["id"]]
    assert sightings[0]["object_marking_refs"] == [TLP.GREEN.marking_id]
    publisher.close()
    with database.session() as session:
        delivery = session.scalars(select(ActionDelivery)).one()
        assert delivery.kind == "sighting" and delivery.ok
