"""Webhooks from the attacker's side: no internal address is ever called, at registration or delivery, and
delivery results say nothing about the network; only the organisation's own admins touch its webhooks.

Every refused target here is refused before any connection is made (nothing leaves this machine); the
receivers run on 127.0.0.1, which the server allowlists only where a test says so."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from shieldwall.exchange import directory, outbound
from shieldwall.exchange.tables import AuditEntry, Webhook, WebhookDelivery
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from tests.support.dripping import dripping_server
from tests.support.hub import Hub, indicator, seed_hub
from tests.support.live import LiveServer


class Receiver:
    """A local HTTP endpoint answering every POST with `status` (and `location`, `body` if given)."""

    def __init__(self, status: int = 204, location: str = "", body: bytes = b"") -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.hits.append(self.headers.get("Host", ""))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def add_person(database: Database, hub: Hub, who: str, org_slug: str, role: str) -> None:
    with database.session() as session:
        org = directory.org_by_slug(session, org_slug)
        member = directory.create_member(session, org, f"{who}@example.org", who, role, password="pw-" + who * 2)
        hub.tokens[who], _ = directory.create_token(session, member, "tests")
        hub.member_ids[who] = member.id


def client(live: LiveServer, hub: Hub, who: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {hub.tokens[who]}"} if who else {}
    return httpx.Client(base_url=live.url, headers=headers, timeout=30)


INTERNAL_TARGETS = [
    "http://127.0.0.1:{port}/hook",
    "http://localhost:{port}/hook",  # a DNS name resolving to loopback
    "http://127.1:{port}/hook",
    "http://2130706433:{port}/hook",  # 127.0.0.1 as one number
    "http://0x7f.0.0.1:{port}/hook",
    "http://[::1]:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]:{port}/hook",
    "http://0.0.0.0:{port}/hook",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://224.0.0.1/hook",
    "http://[ff02::1]/hook",
    "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 wrapping 169.254.169.254
    "http://[2002:a9fe:a9fe::1]/hook",  # 6to4 wrapping 169.254.169.254
]


def test_internal_targets_are_refused_at_registration(live_server: LiveServer, hub: Hub, receiver: Receiver) -> None:
    admin = client(live_server, hub, "agency_admin")
    for template in INTERNAL_TARGETS:
        url = template.format(port=receiver.port)
        refused = admin.post("/api/v1/webhooks", json={"url": url})
        assert refused.status_code == 422, (url, refused.text)
        assert "not a public address" in refused.text, url
    for url, why in [
        ("ftp://files.example/hook", "http"),
        ("file:///etc/passwd", "http"),
        ("gopher://127.0.0.1:70/", "http"),
        ("http://user:secret@hooks.example/", "user name"),
        ("http://exa mple.example/", "spaces"),
        ("http:///nohost", "host"),
    ]:
        refused = admin.post("/api/v1/webhooks", json={"url": url})
        assert refused.status_code == 422 and why in refused.text, (url, refused.text)
    with live_server.app.state.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Webhook)) == 0
    assert admin.get("/api/v1/webhooks").json() == []
    assert receiver.hits == []


def _hook(database: Database, hub: Hub, url: str) -> int:
    """A webhook row as if registered when its name still resolved elsewhere (DNS changes after the check)."""
    with database.session() as session:
        hook = Webhook(org_id=hub.org_ids["agency"], url=url, secret="s" * 32)
        session.add(hook)
        session.flush()
        return hook.id


def _publish_green(live: LiveServer, hub: Hub) -> None:
    response = client(live, hub, "chirp").post(
        "/api/v1/objects", json={"objects": [indicator("http://green.example/", TLP.GREEN)]}
    )
    assert response.status_code == 201, response.text
    live.app.state.notify_new_objects.wait()


def test_delivery_checks_the_target_again(live_server: LiveServer, hub: Hub, receiver: Receiver) -> None:
    database = live_server.app.state.database
    ids = {
        url: _hook(database, hub, url)
        for url in (
            f"http://localhost:{receiver.port}/hook",
            f"http://127.0.0.1:{receiver.port}/hook",
            f"http://[::ffff:127.0.0.1]:{receiver.port}/hook",
            "http://169.254.169.254/latest/meta-data/",
        )
    }
    _publish_green(live_server, hub)
    assert receiver.hits == []  # nothing reached the loopback receiver
    admin = client(live_server, hub, "agency_admin")
    for url, hook_id in ids.items():
        shown = admin.get(f"/api/v1/webhooks/{hook_id}/deliveries").json()
        assert len(shown) == 1, url
        assert shown[0]["status_code"] is None and shown[0]["error"] == outbound.REFUSED, (url, shown)
        assert shown[0]["attempts"] == 1  # a refusal is not retried


@pytest.fixture
def allowing_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """The operator allowlists loopback, so the local receivers stand in for public endpoints."""
    server = LiveServer(database_url, tmp_path / "data", webhook_allow="127.0.0.1/32").start()
    server.app.state.notify_new_objects.backoff = 0.01
    yield server
    server.stop()


def test_redirects_are_not_followed_and_results_carry_no_internal_detail(allowing_server: LiveServer) -> None:
    live = allowing_server
    hub = seed_hub(live.app.state.database)
    elsewhere = Receiver()
    redirecting = Receiver(status=302, location=elsewhere.url)
    to_metadata = Receiver(status=307, location="http://169.254.169.254/latest/meta-data/iam/")
    failing = Receiver(status=500, body=b"Traceback: internal stack at 10.1.2.3 db=secret")
    closed = Receiver()
    closed.close()  # nothing listens on its port any more
    try:
        admin = client(live, hub, "agency_admin")
        hooks = {}
        for name, target in [("redirect", redirecting), ("metadata", to_metadata), ("failing", failing)]:
            created = admin.post("/api/v1/webhooks", json={"url": target.url})
            assert created.status_code == 201, created.text
            hooks[name] = created.json()["id"]
        created = admin.post("/api/v1/webhooks", json={"url": closed.url})
        assert created.status_code == 201
        hooks["closed"] = created.json()["id"]
        # Allowlisting 127.0.0.1 does not open the rest of the internal network.
        assert admin.post("/api/v1/webhooks", json={"url": "http://10.0.0.5/hook"}).status_code == 422
        assert admin.post("/api/v1/webhooks", json={"url": "http://[::1]/hook"}).status_code == 422

        _publish_green(live, hub)
        assert len(redirecting.hits) == 1 and len(to_metadata.hits) == 1
        assert elsewhere.hits == []  # the redirect was not followed
        shown = {name: admin.get(f"/api/v1/webhooks/{hook_id}/deliveries").json()[0] for name, hook_id in hooks.items()}
        assert shown["redirect"]["status_code"] == 302 and "not followed" in shown["redirect"]["error"]
        assert shown["metadata"]["status_code"] == 307 and "not followed" in shown["metadata"]["error"]
        assert shown["failing"] == {**shown["failing"], "status_code": 500, "error": "HTTP 500"}
        assert shown["failing"]["attempts"] == 3  # server errors are retried
        assert shown["closed"]["status_code"] is None and shown["closed"]["error"] == outbound.UNREACHABLE
        text = str(shown)
        for leak in ("Traceback", "10.1.2.3", "secret", "Errno", "refused", "ConnectError", "169.254"):
            assert leak not in text.replace(outbound.REFUSED, ""), leak
    finally:
        for r in (elsewhere, redirecting, to_metadata, failing):
            r.close()


def test_older_delivery_errors_are_shown_without_their_detail(live_server: LiveServer, hub: Hub) -> None:
    database = live_server.app.state.database
    hook_id = _hook(database, hub, "http://hooks.example/")
    with database.session() as session:
        session.add(
            WebhookDelivery(
                webhook_id=hook_id, object_ids=[], attempts=3, error="ConnectError: [Errno 111] Connection refused"
            )
        )
    shown = client(live_server, hub, "agency_admin").get(f"/api/v1/webhooks/{hook_id}/deliveries").json()
    assert shown[0]["error"] == outbound.FAILED


def test_only_the_organisations_admins_touch_its_webhooks(live_server: LiveServer, hub: Hub) -> None:
    database = live_server.app.state.database
    add_person(database, hub, "lab_admin", "lab", "admin")
    add_person(database, hub, "guest_admin", "newsroom", "admin")
    hook_id = _hook(database, hub, "http://hooks.example/agency")

    def state() -> tuple[int, list[tuple[str, bool]], int]:
        with database.session() as session:
            hooks = [(h.url, h.is_active) for h in session.scalars(select(Webhook).order_by(Webhook.id))]
            audit = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
            return len(hooks), hooks, audit

    before = state()
    url = {"url": "http://hooks.example/other"}
    for who, expected in [("lab_admin", 404), ("guest_admin", 403), ("agency", 403), ("chirp", 403), (None, 401)]:
        caller = client(live_server, hub, who)
        assert caller.delete(f"/api/v1/webhooks/{hook_id}").status_code == expected, who
        assert caller.get(f"/api/v1/webhooks/{hook_id}/deliveries").status_code == expected, who
        listed = caller.get("/api/v1/webhooks")
        assert listed.status_code in (200, 401, 403), who
        assert "hooks.example/agency" not in listed.text, who
    # Registering needs the admin role of a member organisation: guests, analysts and visitors are refused.
    for who, expected in [("guest_admin", 403), ("agency", 403), ("chirp_reader", 403), (None, 401)]:
        assert client(live_server, hub, who).post("/api/v1/webhooks", json=url).status_code == expected, who
    assert client(live_server, hub, "lab_admin").delete("/api/v1/webhooks/999999").status_code == 404
    assert state() == before
    # The owner's admin may.
    assert client(live_server, hub, "agency_admin").delete(f"/api/v1/webhooks/{hook_id}").status_code == 200
    assert state()[1] == [("http://hooks.example/agency", False)]


def test_address_rules() -> None:
    public = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]
    internal = [
        "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.31.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "255.255.255.255", "224.0.0.251", "192.0.0.192", "198.18.0.1", "::", "::1", "fe80::1",
        "fc00::1", "fd00:ec2::254", "fec0::1", "ff02::1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
        "64:ff9b::a00:1", "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ]  # fmt: skip
    assert all(outbound.is_public(ipaddress.ip_address(a)) for a in public)
    assert not any(outbound.is_public(ipaddress.ip_address(a)) for a in internal)

    allow = outbound.Allowlist.parse(" hooks.internal , 10.0.5.0/24; 127.0.0.1 ,[::1]")
    assert allow.hosts == {"hooks.internal"}
    assert allow.permits(ipaddress.ip_address("10.0.5.7")) and allow.permits(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not allow.permits(ipaddress.ip_address("10.0.6.1"))
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        outbound.Allowlist.parse("10.0.0.0/33")

    def resolver(answers: list[str]) -> outbound.Resolver:
        return lambda host, port: answers

    target = "http://hooks.example/"
    assert outbound.check_url(target, outbound.Allowlist(), resolver(["93.184.216.34"])).host == "hooks.example"
    # One internal answer among public ones is enough to refuse (the address used cannot be steered).
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url(target, outbound.Allowlist(), resolver(["93.184.216.34", "10.0.0.1"]))
    # An allowlisted name may resolve anywhere; an allowlisted network only admits its own addresses.
    named = outbound.Allowlist.parse("hooks.example")
    assert outbound.check_url(target, named, resolver(["10.0.0.1"]))
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url(target, outbound.Allowlist.parse("10.9.0.0/16"), resolver(["10.0.0.1"]))
    # Delivery rechecks and never connects to what it refuses.
    outcome = outbound.post(target, b"{}", {}, outbound.Allowlist(), resolve=resolver(["169.254.169.254"]))
    assert outcome == outbound.Outcome(None, outbound.REFUSED)


def test_a_dns_server_that_never_answers_stalls_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """getaddrinfo has no timeout; a silent DNS server must not hold a delivery or a registration."""
    release = threading.Event()

    def silent(*args: object, **kwargs: object) -> list[object]:
        release.wait(30)
        return []

    monkeypatch.setattr(outbound.socket, "getaddrinfo", silent)
    monkeypatch.setattr(outbound, "RESOLVE_SECONDS", 0.2)
    started = time.monotonic()
    with pytest.raises(outbound.OutboundRefused, match=outbound.UNRESOLVED):
        outbound.check_url("http://hooks.example/", outbound.Allowlist())
    assert time.monotonic() - started < 5
    release.set()


@pytest.fixture
def dripping_receiver() -> Iterator[str]:
    with dripping_server() as base:
        yield base + "/hook"


def test_a_receiver_dripping_its_answer_cannot_hold_a_delivery(dripping_receiver: str) -> None:
    """httpx's timeout bounds each read: a byte every half second kept a delivery (and its thread) waiting for
    hours. The whole delivery is now bounded by its timeout."""
    outcomes: list[outbound.Outcome] = []
    started = time.monotonic()
    worker = threading.Thread(
        target=lambda: outcomes.append(
            outbound.post(dripping_receiver, b"{}", {}, outbound.Allowlist.parse("127.0.0.1"), timeout=2.0)
        ),
        daemon=True,
    )
    worker.start()
    worker.join(30)  # a regression fails here instead of hanging the run
    assert outcomes == [outbound.Outcome(None, outbound.TIMED_OUT)]
    assert time.monotonic() - started < 5
