"""Smoke test of the TAXII benchmark's code on tiny sizes, against the real app on SQLite and PostgreSQL.

The benchmark's figures are only as good as its checks, so this proves the helpers move the objects they
claim to move (POST, paged GET, cursors for the middle and the end, the load loop, growth by ingest and
by bulk insert) through the real HTTP interface.
"""

from __future__ import annotations

from bench.exchange_taxii import (
    get_page,
    grow,
    http_client,
    indicators,
    load_test,
    page_latencies,
    taxii_get_all,
    taxii_post,
    walk,
)
from sqlalchemy import func, select
from taxii2client.v21 import Collection

from shieldwall.exchange.tables import StixObject
from shieldwall.stix.tlp import TLP, tlp_of
from shieldwall.stix.validate import validate_objects
from shieldwall.store.db import Database
from tests.support.hub import seed_hub
from tests.support.live import LiveServer


def test_indicators_are_distinct_valid_and_marked() -> None:
    objects = indicators(50, start=7)
    valid, invalid = validate_objects(objects)
    assert not invalid and len(valid) == 50
    assert len({o["id"] for o in objects}) == len({o["pattern"] for o in objects}) == 50
    assert {tlp_of(o) for o in objects} == {TLP.GREEN}


def test_post_page_walk_grow_and_load_through_real_http(live_server: LiveServer) -> None:
    database: Database = live_server.app.state.database
    hub = seed_hub(database)
    url = f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/"
    auth = ("chirp", hub.tokens["chirp"])
    objects = indicators(120)

    collection = Collection(url, user=auth[0], password=auth[1])
    assert taxii_post(collection, objects, bundle=50) > 0
    assert taxii_get_all(collection, 50, {o["id"] for o in objects}) > 0

    with http_client(auth) as client:
        w = walk(client, url, 50)
        assert (w.objects, len(w.page_ms)) == (120, 3)
        middle = get_page(client, url, 10, w.middle)["objects"]
        assert middle[0]["id"] == objects[50]["id"]  # the middle cursor starts after the first page of 50
        assert get_page(client, url, 100, w.end)["objects"][0]["id"] == objects[100]["id"]
        times = page_latencies(client, url, w, limits=(10,), repeats=2)
        assert set(times) == {(10, "start"), (10, "middle"), (10, "end")} and min(times.values()) > 0

    # Growth: one validated ingest batch, then (budget spent) the rest by bulk insert.
    growth = grow(database.url, hub.tokens["chirp"], hub.collection_id, 300, 1_000, budget_s=0.0, batch=40)
    assert (growth.ingested, growth.bulk) == (40, 140)
    with database.session() as session:
        count = session.scalar(select(func.count()).where(StixObject.collection_id == hub.collection_id))
    assert count == 300
    with http_client(auth) as client:
        grown = walk(client, url, 1000)
        assert grown.objects == 300 and len({o["id"] for o in get_page(client, url, 300)["objects"]}) == 300

    result = load_test(url, auth, clients=2, seconds=0.5)
    assert result.errors == 0 and len(result.latencies_ms) >= 2
    assert 0 < result.percentile(0.5) <= result.percentile(0.99)
