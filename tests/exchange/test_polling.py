"""Incremental TAXII polling under concurrent writers: every acknowledged object is seen exactly once."""

from __future__ import annotations

import threading
import time
import uuid

import httpx

from tests.exchange.test_sharing import TAXII
from tests.support.hub import Hub, indicator
from tests.support.live import LiveServer

WRITERS = ("chirp", "chirp_colleague", "agency", "lab")


def test_pollers_following_date_added_miss_nothing(live_server: LiveServer, hub: Hub) -> None:
    url = f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/"
    acknowledged: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def write(who: str) -> None:
        with httpx.Client(auth=("x", hub.tokens[who]), headers={"Accept": TAXII, "Content-Type": TAXII}) as client:
            while not stop.is_set():
                batch = [indicator(f"http://{uuid.uuid4().hex}.example/", tlp=None) for _ in range(5)]
                for obj in batch:
                    obj["object_marking_refs"] = ["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]
                response = client.post(url, json={"objects": batch}, timeout=60)
                if response.status_code != 202 or response.json()["success_count"] != len(batch):
                    errors.append(response.text)
                    return
                with lock:
                    acknowledged.update(obj["id"] for obj in batch)

    seen: list[str] = []
    added_after: str | None = None

    def poll_once(client: httpx.Client) -> None:
        nonlocal added_after
        more = True
        while more:
            params = {"limit": "50"}
            if added_after:
                params["added_after"] = added_after
            response = client.get(url, params=params, timeout=60)
            assert response.status_code == 200, response.text
            body = response.json()
            seen.extend(obj["id"] for obj in body.get("objects", []))
            added_after = response.headers.get("X-TAXII-Date-Added-Last", added_after)
            more = bool(body.get("more"))

    threads = [threading.Thread(target=write, args=(who,)) for who in WRITERS]
    for thread in threads:
        thread.start()
    with httpx.Client(headers={"Accept": TAXII}) as poller:
        deadline = time.time() + 6
        while time.time() < deadline:
            poll_once(poller)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        poll_once(poller)
    assert not errors, errors[:3]
    assert len(acknowledged) > 50
    assert len(seen) == len(set(seen)), "an object was delivered twice"
    missed = acknowledged - set(seen)
    assert not missed, f"the poller missed {len(missed)} of {len(acknowledged)} acknowledged objects"
