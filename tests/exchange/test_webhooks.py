"""Webhooks: signed notices of new objects reach only organisations that may see them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

from shieldwall.exchange.webhooks import SIGNATURE_HEADER, verify
from shieldwall.stix.tlp import TLP
from tests.support.hub import Hub, indicator
from tests.support.live import LiveServer


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """The receivers run on loopback, which the operator must allowlist for webhooks to reach it."""
    server = LiveServer(database_url, tmp_path / "data", webhook_allow="127.0.0.1").start()
    yield server
    server.stop()


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((body, self.headers[SIGNATURE_HEADER]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_signed_notices_follow_the_sharing_rule(live_server: LiveServer, hub: Hub) -> None:
    receiver = Receiver()
    try:
        admin = httpx.Client(
            base_url=live_server.url, headers={"Authorization": f"Bearer {hub.tokens['agency_admin']}"}
        )
        created = admin.post("/api/v1/webhooks", json={"url": receiver.url})
        assert created.status_code == 201
        secret = created.json()["secret"]
        assert admin.post("/api/v1/webhooks", json={"url": "ftp://nope"}).status_code == 422
        chirp = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {hub.tokens['chirp']}"})

        for_group = indicator("http://for-group.example/")
        chirp.post(
            "/api/v1/objects",
            json={"objects": [for_group], "tlp": "amber", "share_with": {"trust_groups": ["us-2026"]}},
        )
        live_server.app.state.notify_new_objects.wait()
        assert len(receiver.received) == 1
        body, signature = receiver.received[0]
        assert verify(secret, body, signature)
        assert not verify("another secret", body, signature)
        notice = httpx.Response(200, content=body).json()
        assert notice["objects"][0]["id"] == for_group["id"] and notice["objects"][0]["tlp"] == "TLP:AMBER"
        assert "pattern" not in body.decode()  # a notice names objects; it carries no content

        for_lab = indicator("http://for-lab.example/")
        chirp.post(
            "/api/v1/objects", json={"objects": [for_lab], "tlp": "amber", "share_with": {"organisations": ["lab"]}}
        )
        green = indicator("http://green-for-all.example/", TLP.GREEN)
        chirp.post("/api/v1/objects", json={"objects": [green]})
        live_server.app.state.notify_new_objects.wait()
        ids = [o["id"] for b, _ in receiver.received for o in httpx.Response(200, content=b).json()["objects"]]
        assert ids == [for_group["id"], green["id"]]
        hook_id = created.json()["id"]
        deliveries = admin.get(f"/api/v1/webhooks/{hook_id}/deliveries").json()
        assert len(deliveries) == 2 and all(d["status_code"] == 204 for d in deliveries)
    finally:
        receiver.close()
