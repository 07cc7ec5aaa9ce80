"""Bank actions: labels recorded, reviews queued and decided on the page, webhooks signed with HMAC-SHA256."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from sqlalchemy import select

from shieldwall.exchange.outbound import Allowlist
from shieldwall.match.actions import SIGNATURE_HEADER, sign, verify
from shieldwall.match.tables import ActionDelivery, MatchRecord, ReviewItem
from tests.match.fixtures import plant_bank, principal_of
from tests.match.receiver import Receiver
from tests.support.hub import seed_hub
from tests.support.live import LiveServer


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"a": 1}'
    header = sign("s3cret", body)
    assert verify("s3cret", header, body)
    assert not verify("s3cret", header, body + b" ")
    assert not verify("other", header, body)
    assert not verify("s3cret", sign("s3cret", body, timestamp=1_000_000_000), body)  # too old: a replay


def test_match_runs_label_review_and_signed_webhook(live_server: LiveServer, tmp_path: Path) -> None:
    database = live_server.app.state.database
    hub = seed_hub(database)
    chirp = principal_of(database, hub.member_ids["chirp"])
    # The receivers listen on loopback, which webhooks reach only when the operator allowlists it.
    live_server.app.state.webhook_allow = Allowlist.parse("127.0.0.1")
    with Receiver() as receiver, Receiver(status=500) as failing:
        # Chirp's own banks: webhooks speak for the bank's owner, so only its own matches call them.
        plant_bank(
            database,
            tmp_path,
            owner=chirp,
            label="known IO",
            review=True,
            webhook_url=receiver.url,
            webhook_secret="k1",
            secret_key=live_server.settings.secret_key,
        )
        plant_bank(database, tmp_path, name="second", owner=chirp, webhook_url=failing.url)
        auth = {"Authorization": f"Bearer {hub.tokens['chirp']}"}
        response = httpx.post(
            f"{live_server.url}/api/match", json={"urls": ["https://fake-news.example/story"]}, headers=auth
        )
        assert response.status_code == 200, response.text
        actions = response.json()["actions"]
        assert actions["recorded"] == 2 and actions["reviews"] == 1
        assert actions["webhooks_ok"] == 1 and actions["webhooks_failed"] == 1
        assert "HTTP 500" in actions["errors"][0]
        headers, body = receiver.calls[0]
        assert verify("k1", headers[SIGNATURE_HEADER.lower()], body)
        payload = json.loads(body)
        assert payload["event"] == "match" and payload["label"] == "known IO"
        assert payload["provenance"]["bank"] == "io-2026" and payload["signal"]["type"] == "url"
        assert SIGNATURE_HEADER.lower() not in failing.calls[0][0]  # no secret configured, no signature
        # Anonymous callers see matches but trigger nothing.
        anonymous = httpx.post(f"{live_server.url}/api/match", json={"urls": ["https://fake-news.example/story"]})
        assert anonymous.json()["actions"] is None and len(receiver.calls) == 1
    with database.session() as session:
        records = session.scalars(select(MatchRecord).order_by(MatchRecord.id)).all()
        assert {(r.label, r.matched_by, r.signal_value) for r in records} == {
            ("known IO", "chirp@example.org", "fake-news.example/story"),
            ("", "chirp@example.org", "fake-news.example/story"),
        }
        deliveries = session.scalars(select(ActionDelivery)).all()
        assert sorted(d.ok for d in deliveries) == [False, True]
        review_id = session.scalar(select(ReviewItem.id))

    # The review page: sign in, see the pending item, confirm it.
    client = httpx.Client(base_url=live_server.url, follow_redirects=False)
    assert client.get("/match/review").status_code == 303  # not signed in
    login = client.post("/login", data={"email": "chirp@example.org", "password": hub.passwords["chirp"]})
    assert login.status_code in (302, 303), login.text
    page = client.get("/match/review")
    assert page.status_code == 200 and "fake-news.example/story" in page.text and "known IO" in page.text
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
    assert csrf is not None
    refused = client.post(f"/match/review/{review_id}", data={"decision": "confirmed", "csrf": "forged"})
    assert refused.status_code == 403
    done = client.post(
        f"/match/review/{review_id}", data={"decision": "confirmed", "note": "same campaign", "csrf": csrf[1]}
    )
    assert done.status_code == 303
    confirmed = client.get("/match/review?status=confirmed").text
    assert "confirmed by chirp@example.org: same campaign" in confirmed
    assert "Nothing pending" in client.get("/match/review").text
