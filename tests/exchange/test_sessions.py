"""Sign-in from the attacker's side: throttled per account and per address with one answer for every
account, unknown accounts as slow as known ones, server-side sessions that really end, garbage cookies
that break nothing, and CSRF tokens that still guard the forms."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from shieldwall.exchange.deps import SESSION_COOKIE
from shieldwall.exchange.tables import WebSession
from shieldwall.stix.tlp import TLP
from tests.support.hub import Hub, indicator
from tests.support.live import LiveServer


def browser(live: LiveServer, address: str = "127.0.0.1") -> httpx.Client:
    """A client connecting from `address` (any 127.x.y.z reaches the server and counts as its own address)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=live.url, transport=transport, timeout=30, follow_redirects=False)


def sign_in(client: httpx.Client, who: str, password: str) -> httpx.Response:
    return client.post("/login", data={"email": f"{who}@example.org", "password": password, "next": "/"})


def session_cookie(live: LiveServer, hub: Hub, who: str) -> str:
    answer = sign_in(browser(live), who, hub.passwords[who])
    assert answer.status_code == 303, answer.text[:300]
    return answer.cookies[SESSION_COOKIE]


def me(live: LiveServer, cookie: str) -> int:
    return httpx.get(f"{live.url}/api/v1/me", cookies={SESSION_COOKIE: cookie}).status_code


def test_sign_out_ends_the_session_on_the_server(live_server: LiveServer, hub: Hub) -> None:
    client = browser(live_server)
    answer = sign_in(client, "chirp", hub.passwords["chirp"])
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.cookies[SESSION_COOKIE]
    assert "httponly" in answer.headers["set-cookie"].lower() and "samesite=lax" in answer.headers["set-cookie"].lower()
    assert me(live_server, cookie) == 200
    with live_server.app.state.database.session() as session:
        row = session.get(WebSession, hashlib.sha256(cookie.encode()).hexdigest())
        assert row is not None and row.member_id == hub.member_ids["chirp"] and row.revoked_at is None
        assert session.get(WebSession, cookie) is None  # only the hash is stored
    assert client.post("/logout").status_code == 303
    # The same cookie, kept elsewhere (another tab, a stolen copy), no longer works.
    assert me(live_server, cookie) == 401
    page = httpx.get(f"{live_server.url}/upload", cookies={SESSION_COOKIE: cookie}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    # Signing out without a session, or twice, is harmless.
    assert browser(live_server).post("/logout").status_code == 303


def run_cli(live: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SHIELDWALL_DATABASE_URL": live.settings.database_url,
        "SHIELDWALL_DATA_DIR": str(live.settings.data_dir),
    }
    command = [sys.executable, "-m", "shieldwall.cli", "admin", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_password_change_and_deactivation_end_every_session(live_server: LiveServer, hub: Hub) -> None:
    laptop, phone = session_cookie(live_server, hub, "chirp"), session_cookie(live_server, hub, "chirp")
    colleague = session_cookie(live_server, hub, "chirp_colleague")
    short = run_cli(live_server, "set-password", "chirp@example.org", "--password", "short")
    assert short.returncode == 2 and "at least 8" in short.stderr
    assert me(live_server, laptop) == 200  # a refused change changes nothing
    done = run_cli(live_server, "set-password", "chirp@example.org", "--password", "a new passphrase")
    assert done.returncode == 0 and "2 web session(s) ended" in done.stderr, done.stderr
    assert me(live_server, laptop) == 401 and me(live_server, phone) == 401
    assert me(live_server, colleague) == 200  # other members keep theirs
    assert sign_in(browser(live_server), "chirp", hub.passwords["chirp"]).status_code == 401
    assert sign_in(browser(live_server), "chirp", "a new passphrase").status_code == 303
    assert run_cli(live_server, "set-password", "nobody@example.org", "--password", "whatever1").returncode == 2

    # An admin deactivating a member of their organisation ends the sessions and the tokens at once.
    agency = session_cookie(live_server, hub, "agency")
    admin = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {hub.tokens['agency_admin']}"})
    gone = admin.delete(f"/api/v1/organisations/agency/members/{hub.member_ids['agency']}")
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert me(live_server, agency) == 401
    token = httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {hub.tokens['agency']}"})
    assert token.status_code == 401
    assert sign_in(browser(live_server), "agency", hub.passwords["agency"]).status_code == 401
    # The command line does the same.
    lab = session_cookie(live_server, hub, "lab")
    assert run_cli(live_server, "deactivate-member", "lab@example.org").returncode == 0
    assert me(live_server, lab) == 401


def test_sign_in_is_throttled_per_account_and_per_address(live_server: LiveServer, hub: Hub) -> None:
    # Per account: one wrong password from each of five addresses, then even the right one is refused.
    for n in range(2, 7):
        assert sign_in(browser(live_server, f"127.0.0.{n}"), "chirp", "wrong").status_code == 401
    refused = sign_in(browser(live_server, "127.0.0.7"), "chirp", hub.passwords["chirp"])
    assert refused.status_code == 429 and SESSION_COOKIE not in refused.cookies
    assert 0 < int(refused.headers["retry-after"]) <= 900
    assert "Too many failed sign-ins" in refused.text
    # Per address: five unknown accounts from one address, then a real account from it is refused...
    for n in range(5):
        assert sign_in(browser(live_server, "127.0.0.8"), f"nobody{n}", "wrong").status_code == 401
    assert sign_in(browser(live_server, "127.0.0.8"), "agency", hub.passwords["agency"]).status_code == 429
    # ...while the same account from another address signs in.
    assert sign_in(browser(live_server, "127.0.0.9"), "agency", hub.passwords["agency"]).status_code == 303

    # Known and unknown accounts get the same answers, word for word, throttled or not.
    def attempts(who: str, address: str) -> list[tuple[int, str, str | None]]:
        answers = [sign_in(browser(live_server, address), who, "wrong") for _ in range(7)]
        return [(a.status_code, a.text, a.headers.get("retry-after") and "set") for a in answers]

    known, unknown = attempts("lab", "127.0.1.1"), attempts("nobody-at-all", "127.0.1.2")
    assert [k[0] for k in known] == [401] * 5 + [429] * 2
    assert known == unknown


def test_success_clears_the_accounts_failures_but_not_the_addresses(live_server: LiveServer, hub: Hub) -> None:
    client = browser(live_server, "127.0.2.1")
    for _ in range(4):
        assert sign_in(client, "lab", "wrong").status_code == 401
    assert sign_in(client, "lab", hub.passwords["lab"]).status_code == 303
    # The attacker's own successful sign-in does not reset their address: one more failure and it is shut.
    assert sign_in(client, "agency", "wrong").status_code == 401
    assert sign_in(client, "chirp", hub.passwords["chirp"]).status_code == 429
    # The account itself starts afresh elsewhere.
    other = browser(live_server, "127.0.2.2")
    for _ in range(4):
        assert sign_in(other, "lab", "wrong").status_code == 401
    assert sign_in(other, "lab", hub.passwords["lab"]).status_code == 303


@pytest.fixture
def unthrottled_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(database_url, tmp_path / "data", login_failures_allowed=1000).start()
    yield server
    server.stop()


def test_unknown_accounts_take_as_long_as_known_ones(unthrottled_server: LiveServer) -> None:
    from tests.support.hub import seed_hub

    live = unthrottled_server
    seed_hub(live.app.state.database)
    client = browser(live)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(7):
        for kind, who in (("known", "chirp"), ("unknown", "nobody")):
            start = time.perf_counter()
            assert sign_in(client, who, "wrong").status_code == 401
            timings[kind].append(time.perf_counter() - start)
    # The fastest answer of each kind is the least disturbed by other work on a shared machine.
    known, unknown = min(timings["known"]), min(timings["unknown"])
    print(f"fastest wrong-password answer: known {known * 1000:.1f} ms, unknown {unknown * 1000:.1f} ms")
    # Both pay one scrypt (tens of ms); before, unknown accounts skipped it and answered several times faster.
    assert unknown > 0.5 * known and known > 0.5 * unknown, timings


BAD_COOKIES: list[bytes] = [
    b"garbage",
    b"1.99999999999.0123456789abcdef",  # the old signed format
    "²³.²³.²³".encode(),  # digits that int() refuses
    "ünïcödé".encode(),  # non-ASCII, sent as UTF-8
    b"\xff\xfe\xfd",  # not even UTF-8
    b"A" * 43,  # the right shape, no such session
    b"A" * 4000,
    b'"quoted;value"',
]


def test_garbage_session_cookies_browse_as_a_visitor(live_server: LiveServer, hub: Hub) -> None:
    pages = ["/", "/objects", "/objects/indicator--nope", "/login", "/elections", "/match", "/ads", "/detect"]
    for raw in BAD_COOKIES:
        headers = {b"Cookie": b"shieldwall_session=" + raw, b"Accept": b"text/html"}
        for path in pages:
            answer = httpx.get(f"{live_server.url}{path}", headers=headers, follow_redirects=False)
            assert answer.status_code < 500, (raw, path, answer.status_code, answer.text[:300])
            assert "Sign in" in answer.text or answer.status_code in (303, 404), (raw, path)
        upload = httpx.get(f"{live_server.url}/upload", headers=headers, follow_redirects=False)
        assert upload.status_code == 303 and upload.headers["location"].startswith("/login")
        api = httpx.get(f"{live_server.url}/api/v1/me", headers=headers)
        assert api.status_code == 401, (raw, api.text)
        login = httpx.post(
            f"{live_server.url}/login",
            headers=headers,
            data={"email": "chirp@example.org", "password": hub.passwords["chirp"]},
            follow_redirects=False,
        )
        assert login.status_code == 303 and SESSION_COOKIE in login.cookies


def test_forms_keep_their_csrf_tokens(live_server: LiveServer, hub: Hub) -> None:
    green = indicator("http://csrf.example/", TLP.GREEN)
    api = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {hub.tokens['agency']}"})
    assert api.post("/api/v1/objects", json={"objects": [green]}).status_code == 201
    client = browser(live_server)
    assert sign_in(client, "chirp", hub.passwords["chirp"]).status_code == 303
    page = client.get(f"/objects/{green['id']}")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and token is not None
    feedback = f"/objects/{green['id']}/feedback"
    assert client.post(feedback, data={"csrf": "forged", "verdict": "agree"}).status_code == 403
    assert client.post(feedback, data={"csrf": token.group(1), "verdict": "agree"}).status_code == 303
    # Another session's token is no good here.
    other = browser(live_server)
    assert sign_in(other, "chirp_colleague", hub.passwords["chirp_colleague"]).status_code == 303
    assert other.post(feedback, data={"csrf": token.group(1), "verdict": "agree"}).status_code == 403
    with live_server.app.state.database.session() as session:
        assert len(session.scalars(select(WebSession)).all()) == 2
