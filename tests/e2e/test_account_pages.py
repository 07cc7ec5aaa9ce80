"""Account pages (tokens, members, trust groups, audit log) in Chromium and over HTTP from the attacker's side;
the dashboard's types and the object page's relationships. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from shieldwall.exchange import access, account_pages, directory
from shieldwall.exchange.deps import SESSION_COOKIE
from shieldwall.exchange.tables import ApiToken, AuditEntry, Member, TrustGroup, TrustGroupMember
from shieldwall.stix.tlp import TLP
from tests.support.hub import Hub, indicator, seed_hub
from tests.support.live import LiveServer

pytestmark = pytest.mark.browser
TAXII = "application/taxii+json;version=2.1"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def hub(live_server: LiveServer) -> Hub:
    """The test hub plus an admin of a member organisation outside the group and a guest organisation's admin."""
    hub = seed_hub(live_server.app.state.database)
    with live_server.app.state.database.session() as session:
        for who, slug in (("lab_admin", "lab"), ("guest_admin", "newsroom")):
            org = directory.org_by_slug(session, slug)
            member = directory.create_member(session, org, f"{who}@example.org", who, "admin", password=f"pw-{who}-1")
            hub.tokens[who], _ = directory.create_token(session, member, "tests")
            hub.member_ids[who] = member.id
            hub.passwords[who] = f"pw-{who}-1"
    return hub


# ------------------------------------------------------------------------------------------------- helpers


def sign_in(driver, live: LiveServer, hub: Hub, who: str) -> None:  # type: ignore[no-untyped-def]
    driver.delete_all_cookies()
    driver.get(live.url + "/login")
    driver.find_element(By.NAME, "email").send_keys(f"{who}@example.org")
    driver.find_element(By.NAME, "password").send_keys(hub.passwords[who])
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 15).until(lambda d: "/login" not in d.current_url)


def wait_for(driver, element_id: str):  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, element_id))[0]


def submit(driver, button) -> None:  # type: ignore[no-untyped-def]
    """Click a form's button and wait for the page it leads to (the old page gone, the new one loaded)."""
    button.click()
    # While the old page is torn down Chromium may answer "node does not belong to the document" instead of
    # "stale element": ask again until the button is reported stale.
    WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(staleness_of(button))
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def browser(live: LiveServer, hub: Hub, who: str | None) -> httpx.Client:
    """A browser-like HTTP client: signed in with a session cookie, asking for pages, not following redirects."""
    client = httpx.Client(base_url=live.url, timeout=30, headers={"Accept": "text/html"}, follow_redirects=False)
    if who:
        signed = client.post("/login", data={"email": f"{who}@example.org", "password": hub.passwords[who]})
        assert signed.status_code == 303 and SESSION_COOKIE in client.cookies, who
    return client


def csrf_of(client: httpx.Client) -> str:
    """A valid CSRF token for client's session (every member may open their own tokens page)."""
    found = CSRF.search(client.get("/account/tokens").text)
    assert found, "no CSRF token on the tokens page"
    return found.group(1)


def taxii_status(live: LiveServer, token: str) -> int:
    return httpx.get(
        f"{live.url}/taxii2/hub/collections/", headers={"Accept": TAXII, "Authorization": f"Bearer {token}"}
    ).status_code


def directory_state(live: LiveServer) -> dict[str, Any]:
    """Everything an account page could change."""
    with live.app.state.database.session() as session:
        return {
            "members": sorted(session.execute(select(Member.email, Member.role, Member.is_active)).tuples()),
            "groups": sorted(session.scalars(select(TrustGroup.slug))),
            "memberships": sorted(session.execute(select(TrustGroupMember.group_id, TrustGroupMember.org_id)).tuples()),
            "tokens": sorted(session.execute(select(ApiToken.id, ApiToken.revoked_at)).tuples()),
            "writes": session.scalar(
                select(AuditEntry.id).where(AuditEntry.action != "read").order_by(AuditEntry.id.desc()).limit(1)
            ),
        }


def screenshot(driver, path: str, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The page at 1,400 px: nothing wider than the window, and a picture kept for a look."""
    driver.get(path)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 1400, f"{name}: the page is {width} px wide at 1,400 px"
    shots = Path(os.environ.get("SHIELDWALL_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(shots / f"account-{name}.png"))


# ------------------------------------------------------------------------------------------------- tokens


def test_a_member_creates_a_token_sees_it_once_uses_it_and_revokes_it(
    live_server: LiveServer, hub: Hub, chromium, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    driver = chromium
    sign_in(driver, live_server, hub, "chirp")
    assert not driver.find_elements(By.ID, "nav-members") and not driver.find_elements(By.ID, "nav-audit")
    driver.find_element(By.ID, "nav-tokens").click()
    form = wait_for(driver, "token-form")
    form.find_element(By.NAME, "name").send_keys("TAXII poller")
    Select(form.find_element(By.NAME, "expires")).select_by_value("30")
    submit(driver, driver.find_element(By.ID, "create-token"))
    token = wait_for(driver, "new-token").text.strip()
    assert token.startswith("swt_") and len(token) > 40

    # It works over TAXII at once (Bearer, and HTTP Basic as taxii2-client sends it).
    assert taxii_status(live_server, token) == 200
    basic = httpx.get(f"{live_server.url}/taxii2/hub/collections/", headers={"Accept": TAXII}, auth=("me", token))
    assert basic.status_code == 200

    # Never shown again: not on the list, not anywhere on the page; the list shows its prefix and when it was used.
    driver.get(live_server.url + "/account/tokens")
    assert token not in driver.page_source and not driver.find_elements(By.ID, "new-token")
    row = driver.find_element(By.CSS_SELECTOR, f"tr.token[data-prefix='{token[:12]}']")
    assert "TAXII poller" in row.text and "active" in row.text and "never" not in row.text  # used, expires
    with live_server.app.state.database.session() as session:
        stored = session.scalar(select(ApiToken).where(ApiToken.prefix == token[:12]))
        assert stored is not None and token not in (stored.token_hash, stored.name)
        assert stored.expires_at is not None and stored.last_used_at is not None

    submit(driver, row.find_element(By.CSS_SELECTOR, "button.revoke"))
    assert "revoked" in driver.find_element(By.CSS_SELECTOR, f"tr.token[data-prefix='{token[:12]}']").text
    assert taxii_status(live_server, token) == 401
    # The token the test hub gave chirp still works: only the one revoked stopped.
    assert taxii_status(live_server, hub.tokens["chirp"]) == 200

    driver.set_window_size(1400, 1000)
    try:
        screenshot(driver, live_server.url + "/account/tokens", "tokens", tmp_path)
    finally:
        driver.set_window_size(1280, 900)


def test_token_forms_refuse_bad_input_forged_posts_and_other_peoples_tokens(live_server: LiveServer, hub: Hub) -> None:
    chirp = browser(live_server, hub, "chirp")
    csrf = csrf_of(chirp)
    before = directory_state(live_server)
    assert chirp.post("/account/tokens", data={"csrf": csrf, "name": " "}).status_code == 422
    assert chirp.post("/account/tokens", data={"csrf": csrf, "name": "x" * 201}).status_code == 422
    bad = chirp.post("/account/tokens", data={"csrf": csrf, "name": "ok", "expires": "forever"})
    assert bad.status_code == 422 and "expires" in bad.text
    # A forged form (no or another session's CSRF token) and a bearer token without the cookie are refused.
    assert chirp.post("/account/tokens", data={"name": "forged"}).status_code == 403
    assert chirp.post("/account/tokens", data={"csrf": "0" * 32, "name": "forged"}).status_code == 403
    bearer = httpx.post(
        live_server.url + "/account/tokens",
        data={"csrf": csrf, "name": "forged"},
        headers={"Authorization": f"Bearer {hub.tokens['chirp']}"},
    )
    assert bearer.status_code == 403
    # Another member's token answers as if it did not exist; so do ids that cannot exist.
    with live_server.app.state.database.session() as session:
        agency_token = session.scalar(select(ApiToken.id).where(ApiToken.member_id == hub.member_ids["agency"]))
    for token_id in (str(agency_token), "99999999999999999999", "0", "abc"):
        assert chirp.post(f"/account/tokens/{token_id}/revoke", data={"csrf": csrf}).status_code == 404
    # A visitor is sent to sign in.
    visitor = browser(live_server, hub, None)
    assert "/login" in visitor.get("/account/tokens").headers["location"]
    assert "/login" in visitor.post("/account/tokens", data={"name": "x"}).headers["location"]
    assert directory_state(live_server) == before
    # The token page answer that shows a token is never cached.
    created = chirp.post("/account/tokens", data={"csrf": csrf, "name": "kept", "expires": "never"})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    token = re.search(r'id="new-token"[^>]*>(swt_[^<]+)<', created.text)
    assert token and taxii_status(live_server, token.group(1)) == 200
    assert token.group(1) not in chirp.get("/account/tokens").text


# ------------------------------------------------------------------------------------------------ members


def test_an_admin_adds_a_member_and_changes_their_role(
    live_server: LiveServer, hub: Hub, chromium, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    driver = chromium
    sign_in(driver, live_server, hub, "agency_admin")
    driver.find_element(By.ID, "nav-members").click()
    form = wait_for(driver, "add-member")
    assert "Members of Election Security Agency" in driver.find_element(By.TAG_NAME, "h1").text
    form.find_element(By.NAME, "email").send_keys("newcomer@agency.example")
    form.find_element(By.NAME, "name").send_keys("New Comer")
    Select(form.find_element(By.NAME, "role")).select_by_value("reader")
    form.find_element(By.NAME, "password").send_keys("first-password-1")
    submit(driver, driver.find_element(By.ID, "add-member-button"))
    assert "Member added" in wait_for(driver, "members-notice").text
    row = driver.find_element(By.CSS_SELECTOR, "tr.member[data-email='newcomer@agency.example']")
    assert "reader" in row.text and "active" in row.text

    # The newcomer signs in with that password and is a reader: no Share link, no member management.
    signed = httpx.post(
        live_server.url + "/login",
        data={"email": "newcomer@agency.example", "password": "first-password-1"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    cookie = {SESSION_COOKIE: signed.cookies[SESSION_COOKIE]}
    as_newcomer = httpx.Client(base_url=live_server.url, cookies=cookie, headers={"Accept": "text/html"})
    assert "Election Security Agency · reader" in as_newcomer.get("/").text
    assert as_newcomer.get("/account/members", follow_redirects=False).status_code == 403

    # The admin makes them an analyst; it applies from their next request.
    sign_in(driver, live_server, hub, "agency_admin")
    driver.get(live_server.url + "/account/members")
    row = driver.find_element(By.CSS_SELECTOR, "tr.member[data-email='newcomer@agency.example']")
    Select(row.find_element(By.NAME, "role")).select_by_value("analyst")
    submit(driver, row.find_element(By.CSS_SELECTOR, "form.role-form button"))
    assert "Role changed" in wait_for(driver, "members-notice").text
    with live_server.app.state.database.session() as session:
        member = session.scalar(select(Member).where(Member.email == "newcomer@agency.example"))
        assert member is not None and member.role == "analyst" and member.org_id == hub.org_ids["agency"]
        actions = set(
            session.scalars(select(AuditEntry.action).where(AuditEntry.member_id == hub.member_ids["agency_admin"]))
        )
        assert {"add-member", "change-role"} <= actions
    assert "Election Security Agency · analyst" in as_newcomer.get("/").text
    # Their own row offers no role change or deactivation (an admin cannot lock themselves out).
    own = driver.find_element(By.CSS_SELECTOR, "tr.member[data-email='agency_admin@example.org']")
    assert not own.find_elements(By.TAG_NAME, "form")

    driver.set_window_size(1400, 1000)
    try:
        screenshot(driver, live_server.url + "/account/members", "members", tmp_path)
    finally:
        driver.set_window_size(1280, 900)

    # Deactivation ends their session at once.
    row = driver.find_element(By.CSS_SELECTOR, "tr.member[data-email='newcomer@agency.example']")
    submit(driver, row.find_element(By.CSS_SELECTOR, "button.deactivate"))
    assert "deactivated" in wait_for(driver, "members-notice").text
    assert "/login" in as_newcomer.get("/account/tokens", follow_redirects=False).headers["location"]


def test_member_forms_name_what_is_wrong(live_server: LiveServer, hub: Hub) -> None:
    admin = browser(live_server, hub, "agency_admin")
    csrf = csrf_of(admin)
    before = directory_state(live_server)
    cases = [
        ({"email": "not-an-address", "role": "reader", "password": "long-enough-1"}, "is not an e-mail address"),
        ({"email": "a@agency.example", "role": "king", "password": "long-enough-1"}, "unknown role"),
        ({"email": "a@agency.example", "role": "reader", "password": "short"}, "password"),
        ({"email": "chirp@example.org", "role": "reader", "password": "long-enough-1"}, "exists already"),
    ]
    for data, message in cases:
        answer = admin.post("/account/members", data={"csrf": csrf, **data})
        assert answer.status_code == 422 and message in answer.text, (data, answer.text[:300])
    agency = hub.member_ids["agency"]
    answer = admin.post(f"/account/members/{agency}/role", data={"csrf": csrf, "role": "overlord"})
    assert answer.status_code == 422 and "unknown role" in answer.text
    me = hub.member_ids["agency_admin"]
    answer = admin.post(f"/account/members/{me}/role", data={"csrf": csrf, "role": "reader"})
    assert answer.status_code == 422 and "your own role" in answer.text
    answer = admin.post(f"/account/members/{me}/deactivate", data={"csrf": csrf})
    assert answer.status_code == 422 and "deactivate yourself" in answer.text
    assert directory_state(live_server) == before


# ------------------------------------------------------------------------------------ who is refused what


def test_account_pages_and_forms_refuse_everyone_not_entitled(live_server: LiveServer, hub: Hub) -> None:
    """A non-admin, a guest organisation's admin, another organisation's admin and a visitor, each with a valid
    CSRF token for their own session, against every admin and operator page and form: refused, nothing changed."""
    with live_server.app.state.database.session() as session:
        # The agency admin's own token: its colleagues may not revoke it, nor may anyone outside the agency.
        agency_token = session.scalar(select(ApiToken.id).where(ApiToken.member_id == hub.member_ids["agency_admin"]))
    target = hub.member_ids["agency"]  # an analyst of the agency (the admin's own organisation)
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/account/members", {}),
        ("GET", "/account/members?org=agency", {}),
        (
            "POST",
            "/account/members",
            {"org": "agency", "email": "x@evil.example", "role": "admin", "password": "long-enough-1"},
        ),
        ("POST", f"/account/members/{target}/role", {"role": "admin"}),
        ("POST", f"/account/members/{target}/deactivate", {}),
        ("GET", "/account/groups", {}),
        ("POST", "/account/groups", {"name": "Hijack group", "organisations": ["lab"]}),
        ("POST", "/account/groups/us-2026/organisations", {"organisation": "lab"}),
        ("POST", "/account/groups/us-2026/organisations/agency/remove", {}),
        ("GET", "/account/audit", {}),
        ("POST", f"/account/tokens/{agency_token}/revoke", {}),
    ]
    # Expected answer per caller: 403 for a caller kind the route does not admit; 404 for another
    # organisation's things (as if missing); the sign-in page for a visitor.
    other_admin = {
        "GET /account/members": 200,  # their own organisation's, lab
        "GET /account/members?org=agency": 404,
        "POST /account/members": 404,
        f"POST /account/members/{target}/role": 404,
        f"POST /account/members/{target}/deactivate": 404,
        "GET /account/groups": 200,  # the groups lab is in: none
        "GET /account/audit": 403,
        f"POST /account/tokens/{agency_token}/revoke": 404,
    }
    expected: dict[str, dict[str, int]] = {
        "agency": {},  # the same organisation's analyst
        "chirp_reader": {},
        "guest_admin": {},
        "lab_admin": other_admin,
    }
    before = directory_state(live_server)
    for who, special in expected.items():
        client = browser(live_server, hub, who)
        csrf = csrf_of(client)
        for method, path, data in attempts:
            answer = client.request(method, path, data={"csrf": csrf, **data} if method == "POST" else None)
            key = f"{method} {path}"
            want = special.get(key, 404 if "/tokens/" in path else 403)
            assert answer.status_code == want, f"{who}: {key} answered {answer.status_code}, expected {want}"
            assert "x@evil.example" not in answer.text
            if who == "lab_admin" and answer.status_code == 200:
                # Another organisation's admin sees their own organisation and no group of others.
                assert "Disinfo Lab" in answer.text and "agency@example.org" not in answer.text
                assert "us-2026" not in answer.text and "US 2026 working group" not in answer.text
        client.close()
    visitor = browser(live_server, hub, None)
    for method, path, data in attempts:
        answer = visitor.request(method, path, data=data if method == "POST" else None)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), (method, path)
    assert directory_state(live_server) == before


def test_top_bar_links_only_for_those_entitled(live_server: LiveServer, hub: Hub) -> None:
    links = {"nav-tokens", "nav-members", "nav-groups", "nav-audit"}
    for who, shown in {
        None: set(),
        "guest": {"nav-tokens"},
        "guest_admin": {"nav-tokens"},
        "chirp_reader": {"nav-tokens"},
        "agency": {"nav-tokens"},
        "agency_admin": {"nav-tokens", "nav-members", "nav-groups"},
        "operator": links,
    }.items():
        text = browser(live_server, hub, who).get("/").text
        assert {link for link in links if f'id="{link}"' in text} == shown, who


def test_route_rules_are_declared_for_pages() -> None:
    declared = {}
    for route in account_pages.router.routes:
        rule = access.declared_rule(route)  # type: ignore[arg-type]
        assert rule is not None and rule.via is access.PAGE, route
        for method in route.methods:  # type: ignore[attr-defined]
            declared[(method, route.path)] = rule.caller  # type: ignore[attr-defined]
    assert declared == {
        ("GET", "/account/tokens"): "member",
        ("POST", "/account/tokens"): "member",
        ("POST", "/account/tokens/{token_id}/revoke"): "member",
        ("GET", "/account/members"): "admin",
        ("POST", "/account/members"): "admin",
        ("POST", "/account/members/{member_id}/role"): "admin",
        ("POST", "/account/members/{member_id}/deactivate"): "admin",
        ("GET", "/account/groups"): "admin",
        ("POST", "/account/groups"): "operator",
        ("POST", "/account/groups/{slug}/organisations"): "operator",
        ("POST", "/account/groups/{slug}/organisations/{org_slug}/remove"): "operator",
        ("GET", "/account/audit"): "operator",
    }


# ------------------------------------------------------------------------------ trust groups and audit log


def test_operator_manages_trust_groups_and_reads_the_audit_log(
    live_server: LiveServer, hub: Hub, chromium, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # An anonymous submission leaves a sealed entry naming its true source (chirp).
    anonymous = indicator("http://anonymous-source.example/", TLP.GREEN)
    shared = httpx.post(
        f"{live_server.url}/api/v1/objects",
        json={"objects": [anonymous], "anonymous": True},
        headers={"Authorization": f"Bearer {hub.tokens['chirp']}"},
    )
    assert shared.status_code == 201 and shared.json()["success_count"] == 1, shared.text

    driver = chromium
    sign_in(driver, live_server, hub, "operator")
    driver.find_element(By.ID, "nav-groups").click()
    form = wait_for(driver, "create-group")
    form.find_element(By.NAME, "name").send_keys("EU elections desk")
    form.find_element(By.CSS_SELECTOR, "input[name=organisations][value=lab]").click()
    submit(driver, driver.find_element(By.ID, "create-group-button"))
    card = driver.find_element(By.CSS_SELECTOR, ".group[data-slug='eu-elections-desk']")
    assert "Disinfo Lab" in card.text
    Select(card.find_element(By.NAME, "organisation")).select_by_value("agency")
    submit(driver, card.find_element(By.CSS_SELECTOR, "form.add-org button"))
    card = driver.find_element(By.CSS_SELECTOR, ".group[data-slug='eu-elections-desk']")
    entry = next(li for li in card.find_elements(By.TAG_NAME, "li") if "Election Security Agency" in li.text)
    submit(driver, entry.find_element(By.CSS_SELECTOR, "button.remove"))
    listed = driver.find_element(By.CSS_SELECTOR, ".group[data-slug='eu-elections-desk'] ul").text
    assert "Election Security Agency" not in listed and "Disinfo Lab" in listed
    with live_server.app.state.database.session() as session:
        group = session.scalar(select(TrustGroup).where(TrustGroup.slug == "eu-elections-desk"))
        assert group is not None
        orgs = set(session.scalars(select(TrustGroupMember.org_id).where(TrustGroupMember.group_id == group.id)))
        assert orgs == {hub.org_ids["lab"]}
    # Lab's admin now sees the group and its organisations (read only).
    lab = browser(live_server, hub, "lab_admin").get("/account/groups").text
    assert "EU elections desk" in lab and "US 2026 working group" not in lab and 'id="create-group"' not in lab

    # The audit log: every entry, the sealed one marked, filterable by action, organisation and time.
    driver.find_element(By.ID, "nav-audit").click()
    table = wait_for(driver, "audit")
    assert "create-trust-group" in table.text and "join-trust-group" in table.text
    sealed = driver.find_elements(By.CSS_SELECTOR, "#audit tr.entry.sealed")
    assert len(sealed) == 1 and "chirp@example.org" in sealed[0].text and "share" in sealed[0].text
    driver.get(live_server.url + "/account/audit?action=share&organisation=chirp")
    rows = driver.find_elements(By.CSS_SELECTOR, "#audit tr.entry")
    assert len(rows) == 1 and all("share" in r.text for r in rows)
    driver.get(live_server.url + "/account/audit?organisation=lab")
    assert "No entries match these filters" in driver.find_element(By.ID, "audit").text
    driver.get(live_server.url + "/account/audit?since=2999-01-01")
    assert not driver.find_elements(By.CSS_SELECTOR, "#audit tr.entry")
    driver.get(live_server.url + "/account/audit?since=yesterday")
    assert "since" in wait_for(driver, "audit-error").text

    # An admin's REST view of the audit log never shows the sealed entry, which names the true source.
    rest = httpx.get(
        f"{live_server.url}/api/v1/audit", headers={"Authorization": f"Bearer {hub.tokens['agency_admin']}"}
    )
    assert rest.status_code == 200 and not any(e["sealed"] for e in rest.json())

    driver.set_window_size(1400, 1000)
    try:
        screenshot(driver, live_server.url + "/account/audit", "audit", tmp_path)
        screenshot(driver, live_server.url + "/account/groups", "groups", tmp_path)
    finally:
        driver.set_window_size(1280, 900)


def test_the_audit_log_pages_through_every_entry_once(live_server: LiveServer, hub: Hub) -> None:
    from shieldwall.exchange.audit import record
    from shieldwall.exchange.policy import Principal

    with live_server.app.state.database.session() as session:
        for i in range(130):
            record(
                session,
                Principal(member_id=hub.member_ids["lab"], org_id=hub.org_ids["lab"]),
                "paging",
                target=f"t-{i:03d}",
            )
    operator = browser(live_server, hub, "operator")
    seen: list[str] = []
    url: str | None = "/account/audit?action=paging"
    while url:
        answer = operator.get(url)
        assert answer.status_code == 200
        seen += re.findall(r"t-\d{3}", answer.text)
        found = re.search(r'href="([^"]+)" id="older"', answer.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [f"t-{i:03d}" for i in reversed(range(130))]
    for bad in ("99999999999999999999999", "-1", "x"):
        answer = operator.get(f"/account/audit?before={bad}")
        assert answer.status_code == 400 and "before" in answer.text
    assert operator.get("/account/audit?organisation=nope").status_code == 400


# ------------------------------------------------------------------------ dashboard types, relationships


def share(live: LiveServer, hub: Hub, who: str, objects: list[dict[str, Any]], **body: Any) -> None:
    answer = httpx.post(
        f"{live.url}/api/v1/objects",
        json={"objects": objects, **body},
        headers={"Authorization": f"Bearer {hub.tokens[who]}"},
        timeout=30,
    )
    assert answer.status_code == 201 and answer.json()["success_count"] == len(objects), answer.text


def sdo(kind: str, name: str, tlp: TLP = TLP.GREEN, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{uuid.uuid4()}",
        "created": "2026-10-01T10:00:00.000Z",
        "modified": "2026-10-01T10:00:00.000Z",
        "name": name,
        "object_marking_refs": [tlp.marking_id],
        **extra,
    }


def test_dashboard_counts_every_type_the_reader_may_see(live_server: LiveServer, hub: Hub) -> None:
    kinds = [
        "campaign",
        "threat-actor",
        "intrusion-set",
        "malware",
        "tool",
        "infrastructure",
        "identity",
        "attack-pattern",
        "location",
    ]
    extra = {
        "identity": {"identity_class": "organization"},
        "malware": {"is_family": True},
        "location": {"country": "US"},
    }
    objects = [sdo(k, f"{k} one", **extra.get(k, {})) for k in kinds]
    objects += [indicator("http://dash-1.example/", TLP.GREEN), indicator("http://dash-2.example/", TLP.GREEN)]
    objects.append(sdo("report", "Weekly report", published="2026-10-02T00:00:00Z", object_refs=[objects[0]["id"]]))
    share(live_server, hub, "chirp", objects)
    hidden = sdo(
        "grouping", "Group-only grouping", TLP.AMBER, context="suspicious-activity", object_refs=[objects[0]["id"]]
    )
    share(live_server, hub, "chirp", [hidden], tlp="amber", share_with={"trust_groups": ["us-2026"]})

    def by_type(who: str | None) -> dict[str, int]:
        page = browser(live_server, hub, who).get("/").text
        section = page.split("<h2>By type</h2>", 1)[1].split("</table>", 1)[0]
        return {t: int(n) for t, n in re.findall(r"type=([a-z0-9-]+)\">[^<]+</a></td><td>(\d+)</td>", section)}

    lab = by_type("lab")
    assert lab["report"] == 1 and lab["indicator"] == 2 and len(lab) >= 11 and "grouping" not in lab
    assert by_type("agency")["grouping"] == 1
    assert by_type(None) == {}  # nothing is TLP:CLEAR


def test_object_page_names_related_objects_and_hides_what_the_reader_may_not_see(
    live_server: LiveServer, hub: Hub
) -> None:
    campaign = sdo("campaign", "Operation Lantern")
    actor = sdo("threat-actor", "Lantern Crew", threat_actor_types=["crime-syndicate"])
    secret = indicator("http://group-only.example/")  # AMBER, the trust group only
    share(live_server, hub, "chirp", [campaign, actor])
    share(live_server, hub, "chirp", [secret], tlp="amber", share_with={"trust_groups": ["us-2026"]})

    def rel(kind: str, source: str, target: str) -> dict[str, Any]:
        return {**sdo("relationship", ""), "relationship_type": kind, "source_ref": source, "target_ref": target}

    links = [rel("attributed-to", campaign["id"], actor["id"]), rel("indicates", secret["id"], campaign["id"])]
    for link in links:
        link.pop("name")
    share(live_server, hub, "chirp", links)  # GREEN relationships, one of whose ends is AMBER

    lab = browser(live_server, hub, "lab").get(f"/objects/{campaign['id']}")
    assert lab.status_code == 200
    assert "Lantern Crew" in lab.text and f'href="/objects/{actor["id"]}"' in lab.text
    assert '<span class="badge">threat-actor</span>' in lab.text
    assert "an object you may not see" in lab.text
    assert secret["id"] not in lab.text and "group-only" not in lab.text  # neither id nor name, nor in the graph

    agency = browser(live_server, hub, "agency").get(f"/objects/{campaign['id']}").text
    assert f'href="/objects/{secret["id"]}"' in agency and "Known disinformation URL http://group-only" in agency
    assert "an object you may not see" not in agency


def test_hostile_form_input_never_reaches_a_server_error(live_server: LiveServer, hub: Hub) -> None:
    """Signed in with a valid CSRF token, so every value reaches the handler: NUL characters, huge ids and
    long text answer 4xx (or a page naming the field), never 5xx."""
    operator = browser(live_server, hub, "operator")
    csrf = csrf_of(operator)
    nul, long = "a\x00b", "x" * 5000
    quoted = "a%00b"  # the same in a URL
    gets = [
        f"/account/audit?action={quoted}",
        f"/account/audit?organisation={quoted}",
        f"/account/audit?since={quoted}",
        f"/account/audit?until={long}",
        f"/account/audit?before={'9' * 400}",
        f"/account/members?org={quoted}",
        f"/account/members?org={long}",
    ]
    for path in gets:
        answer = operator.get(path)
        assert answer.status_code < 500, (path[:80], answer.status_code)
    posts = [
        ("/account/tokens", {"name": nul}),
        ("/account/tokens", {"name": "ok", "expires": nul}),
        (f"/account/tokens/{'9' * 40}/revoke", {}),
        ("/account/members", {"org": nul, "email": "a@b.example", "role": "reader", "password": "long-enough"}),
        ("/account/members", {"email": f"{nul}@b.example", "role": "reader", "password": "long-enough"}),
        ("/account/members", {"email": "n@b.example", "name": nul, "role": nul, "password": "long-enough"}),
        ("/account/members", {"email": long, "role": "reader", "password": "long-enough"}),
        (f"/account/members/{hub.member_ids['agency']}/role", {"role": nul}),
        ("/account/members/99999999999/role", {"role": "reader"}),
        ("/account/groups", {"name": nul}),
        ("/account/groups", {"name": "Good name", "slug": nul}),
        ("/account/groups", {"name": "Good name", "organisations": [nul, "no-such-org"]}),
        ("/account/groups", {"name": long}),
        (f"/account/groups/{long}/organisations", {"organisation": nul}),
        ("/account/groups/us-2026/organisations", {"organisation": nul}),
        ("/account/groups/us-2026/organisations/%00/remove", {}),
    ]
    before = directory_state(live_server)
    for path, data in posts:
        answer = operator.post(path, data={"csrf": csrf, **data})
        assert 400 <= answer.status_code < 500, (path[:80], data, answer.status_code, answer.text[:200])
    after = directory_state(live_server)
    # Only the refused attempts happened: no member, group or token changed.
    assert {k: v for k, v in after.items() if k != "writes"} == {k: v for k, v in before.items() if k != "writes"}
