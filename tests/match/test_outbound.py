"""Match's outbound requests go through the exchange's outbound checks, and a bank of this hub syncs in process.

- Webhooks and TAXII pulls never reach loopback, private, link-local or metadata addresses unless the operator
  allowlists them (`webhook_allow`), and never follow a redirect; refusals are told in fixed words.
- A bank whose collection is one of this hub's reads it through `exchange.objects` as its owner: no HTTP
  request (which the outbound check would refuse), and exactly what the owner may read.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

import httpx
import pytest
from sqlalchemy import select

from shieldwall.exchange import outbound
from shieldwall.match import taxii
from shieldwall.match.actions import run_actions
from shieldwall.match.banks import BankError, create_bank, get_bank
from shieldwall.match.service import load_matcher, match_value
from shieldwall.match.sync import sync_bank
from shieldwall.match.tables import ActionDelivery, BankSignal
from shieldwall.match.taxii import TaxiiError
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from shieldwall.store.migrate import upgrade
from tests.match.fixtures import plant_bank, principal_of
from tests.match.receiver import Receiver
from tests.match.stixdata import indicator
from tests.support.dripping import dripping_server
from tests.support.hub import Hub, seed_hub
from tests.support.live import LiveServer

INTERNAL = [
    "http://127.0.0.1:9/hook",
    "http://localhost:9/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:9/hook",
    "http://[::ffff:127.0.0.1]:9/hook",
    "http://100.100.100.200/",  # carrier-grade NAT range (a cloud metadata address)
]


class Counter:
    """A loopback HTTP server that counts every request and answers each with a redirect."""

    def __init__(self) -> None:
        self.hits = 0
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                counter.hits += 1
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()

            do_GET = do_POST = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Counter:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()


def _match_and_act(database: Database, hub: Hub, allow: outbound.Allowlist | None, secret_key: str) -> ActionDelivery:
    chirp = principal_of(database, hub.member_ids["chirp"])
    with database.session() as session:
        matcher = load_matcher(session)
    result = match_value(matcher, "url", "https://fake-news.example/story")
    assert result.matches
    run_actions(database, [result], chirp, secret_key=secret_key, allow=allow)
    with database.session() as session:
        return session.scalars(select(ActionDelivery).order_by(ActionDelivery.id.desc())).first()  # type: ignore[return-value]


@pytest.mark.parametrize("url", INTERNAL)
def test_webhook_to_an_internal_address_is_refused_without_a_request(
    database: Database, tmp_path: Path, url: str
) -> None:
    hub = seed_hub(database)
    plant_bank(database, tmp_path, owner=principal_of(database, hub.member_ids["chirp"]), webhook_url=url)
    delivery = _match_and_act(database, hub, None, "k" * 32)
    assert not delivery.ok and delivery.status_code is None
    assert delivery.error in (outbound.REFUSED, outbound.UNRESOLVED)


def test_webhook_reaches_loopback_only_when_allowlisted_and_never_follows_a_redirect(
    database: Database, tmp_path: Path
) -> None:
    hub = seed_hub(database)
    chirp = principal_of(database, hub.member_ids["chirp"])
    with Receiver() as receiver, Counter() as redirecting:
        plant_bank(database, tmp_path, owner=chirp, webhook_url=receiver.url)
        refused = _match_and_act(database, hub, None, "k" * 32)
        assert refused.error == outbound.REFUSED and receiver.calls == []
        delivered = _match_and_act(database, hub, outbound.Allowlist.parse("127.0.0.1"), "k" * 32)
        assert delivered.ok and len(receiver.calls) == 1
        with database.session() as session:
            get_bank(session, "io-2026").webhook_url = redirecting.url + "/hook"
        redirected = _match_and_act(database, hub, outbound.Allowlist.parse("127.0.0.1"), "k" * 32)
        assert redirected.error == "HTTP 302: redirects are not followed" and redirecting.hits == 1


def test_a_webhook_url_with_credentials_or_another_scheme_is_refused_at_registration(database: Database) -> None:
    with database.session() as session:
        for url in ("ftp://example.com/x", "http://user:pw@example.com/", "http://exa mple.com/"):
            with pytest.raises(BankError, match="webhook url"):
                create_bank(session, "b", webhook_url=url)


@pytest.mark.parametrize(
    "root", ["http://127.0.0.1:{port}/taxii2/hub/", "http://169.254.169.254/taxii2/", "http://10.0.0.7/taxii2/"]
)
def test_taxii_pull_from_an_internal_address_is_refused_without_a_request(database: Database, root: str) -> None:
    with Counter() as server:
        port = server.url.rsplit(":", 1)[1]
        with database.session() as session:
            # Not a collection of this hub: it would have to be fetched over HTTP.
            create_bank(session, "remote", taxii_api_root=root.format(port=port), taxii_collection="elsewhere")
        with pytest.raises(TaxiiError, match="not a public address"):
            sync_bank(database, "remote", secret_key="k" * 32)
        assert server.hits == 0
        # Allowlisted, the request goes out, and the server's redirect is not followed.
        if "127.0.0.1" in root:
            with pytest.raises(TaxiiError, match="redirects are not followed"):
                sync_bank(database, "remote", secret_key="k" * 32, allow=outbound.Allowlist.parse("127.0.0.1"))
            assert server.hits == 1


def _publish(live_server: LiveServer, hub: Hub, who: str, objects: list[dict[str, object]], **sharing: object) -> None:
    response = httpx.post(
        f"{live_server.url}/api/v1/objects",
        json={"objects": objects, **sharing},
        headers={"Authorization": f"Bearer {hub.tokens[who]}"},
    )
    assert response.status_code == 201, response.text


def test_a_bank_of_this_hub_syncs_in_process_as_its_owner(live_server: LiveServer) -> None:
    database: Database = live_server.app.state.database
    hub = seed_hub(database)
    clear = indicator("[url:value = 'http://clear.example/']", TLP.CLEAR)
    green = indicator("[url:value = 'http://green.example/']", TLP.GREEN)
    amber_group = indicator("[url:value = 'http://amber-group.example/']", TLP.AMBER)
    _publish(live_server, hub, "chirp", [clear, green])
    _publish(live_server, hub, "chirp", [amber_group], tlp="amber", share_with={"trust_groups": ["us-2026"]})
    lab = principal_of(database, hub.member_ids["lab"])
    agency = principal_of(database, hub.member_ids["agency"])
    with database.session() as session:
        # A closed loopback port: any HTTP request would fail (and be refused by the outbound check first).
        create_bank(
            session,
            "lab-hub",
            owner=lab,
            taxii_api_root="http://127.0.0.1:9/taxii2/hub/",
            taxii_collection=hub.collection_id,
        )
        create_bank(session, "agency-hub", owner=agency, taxii_collection="election-intel")  # no API root: this hub
    lab_report = sync_bank(database, "lab-hub", secret_key=live_server.settings.secret_key, principal=lab)
    agency_report = sync_bank(database, "agency-hub", secret_key=live_server.settings.secret_key)
    assert lab_report.report.added == 2 and agency_report.report.added == 3
    with database.session() as session:
        rows = session.execute(select(BankSignal.bank_id, BankSignal.value, BankSignal.on_hub)).all()
        by_bank: dict[int, set[str]] = {}
        for bank_id, value, on_hub in rows:
            assert on_hub
            by_bank.setdefault(bank_id, set()).add(value)
        lab_bank, agency_bank = get_bank(session, "lab-hub").id, get_bank(session, "agency-hub").id
    # Lab is not in the trust group: the group's AMBER indicator is not read for its bank.
    assert by_bank[lab_bank] == {"clear.example", "green.example"}
    assert by_bank[agency_bank] == {"clear.example", "green.example", "amber-group.example"}
    # A hub bank (made at the console) without a token reads as a visitor: TLP:CLEAR only.
    with database.session() as session:
        create_bank(session, "hub-own", taxii_collection=hub.collection_id)
    assert sync_bank(database, "hub-own", secret_key=live_server.settings.secret_key).report.added == 1


def test_a_bank_of_another_hub_syncs_over_http_only_when_allowlisted(live_server: LiveServer, tmp_path: Path) -> None:
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade(other_url)
    other = LiveServer(other_url, tmp_path / "other-data").start()
    try:
        other_db: Database = other.app.state.database
        other_hub = seed_hub(other_db)
        published = indicator("[url:value = 'http://from-the-other-hub.example/']", TLP.GREEN)
        _publish(other, other_hub, "chirp", [published])
        database: Database = live_server.app.state.database
        with database.session() as session:
            create_bank(
                session,
                "other",
                taxii_api_root=f"{other.url}/taxii2/hub/",
                taxii_collection="election-intel",
                taxii_token=other_hub.tokens["lab"],
                secret_key=live_server.settings.secret_key,
            )
        with pytest.raises(TaxiiError, match="not a public address"):
            sync_bank(database, "other", secret_key=live_server.settings.secret_key)
        report = sync_bank(
            database, "other", secret_key=live_server.settings.secret_key, allow=outbound.Allowlist.parse("127.0.0.1")
        )
        assert report.report.added == 1 and report.cursor
        with database.session() as session:
            signal = session.scalars(select(BankSignal)).one()
            assert signal.value == "from-the-other-hub.example" and not signal.on_hub
    finally:
        other.stop()


def test_a_taxii_server_dripping_its_answer_cannot_hold_a_sync(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read of a partner's answer had a timeout, the whole answer none: a byte every half second held a
    sync for as long as the partner liked. Now each answer has REQUEST_SECONDS in all."""
    monkeypatch.setattr(taxii, "REQUEST_SECONDS", 2.0)
    failures: list[BaseException] = []

    def sync() -> None:
        try:
            sync_bank(database, "dripping", secret_key="k" * 32, allow=outbound.Allowlist.parse("127.0.0.1"))
        except BaseException as error:  # handed to the test's thread
            failures.append(error)

    with dripping_server() as base:
        with database.session() as session:
            create_bank(session, "dripping", taxii_api_root=f"{base}/taxii2/hub/", taxii_collection="elsewhere")
        started = time.monotonic()
        worker = threading.Thread(target=sync, daemon=True)
        worker.start()
        worker.join(30)  # a regression fails here instead of hanging the run
    assert len(failures) == 1 and isinstance(failures[0], TaxiiError), failures
    assert "timed out" in str(failures[0]) and time.monotonic() - started < 6
