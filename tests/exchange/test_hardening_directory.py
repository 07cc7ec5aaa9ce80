"""The directory (organisations, members, trust groups) from each side: shown only to those entitled, and
every directory write refused for another organisation, a guest and a visitor with nothing changed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from shieldwall.exchange import access, directory, pages, rest_directory, webhooks
from shieldwall.exchange.deps import SESSION_COOKIE
from shieldwall.exchange.tables import ApiToken, AuditEntry, Member, Organisation, TrustGroup, TrustGroupMember
from shieldwall.store.db import Database
from tests.support.hub import Hub
from tests.support.live import LiveServer

GROUP_NAME = "US 2026 working group"
ORG_NAMES = ("Chirp", "Election Security Agency", "Disinfo Lab", "Newsroom")


@pytest.fixture
def people(live_server: LiveServer, hub: Hub) -> Hub:
    """The test hub plus an admin in a member organisation outside the group and a guest organisation's admin."""
    with live_server.app.state.database.session() as session:
        for who, slug in (("lab_admin", "lab"), ("guest_admin", "newsroom")):
            org = directory.org_by_slug(session, slug)
            member = directory.create_member(session, org, f"{who}@example.org", who, "admin", password=f"pw-{who}-1")
            hub.tokens[who], _ = directory.create_token(session, member, "tests")
            hub.member_ids[who] = member.id
            hub.passwords[who] = f"pw-{who}-1"
    return hub


def api(live: LiveServer, hub: Hub, who: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {hub.tokens[who]}"} if who else {}
    return httpx.Client(base_url=live.url, headers=headers, timeout=30)


def page(live: LiveServer, hub: Hub, who: str | None) -> httpx.Client:
    client = httpx.Client(base_url=live.url, timeout=30, headers={"Accept": "text/html"}, follow_redirects=False)
    if who:
        signed = client.post("/login", data={"email": f"{who}@example.org", "password": hub.passwords[who]})
        assert signed.status_code == 303 and SESSION_COOKIE in client.cookies, who
    return client


def test_rest_directory_shows_only_what_the_caller_is_entitled_to(live_server: LiveServer, people: Hub) -> None:
    hub = people

    def slugs(who: str | None, path: str, key: str = "slug") -> list[Any] | int:
        answer = api(live_server, hub, who).get(path)
        return [row[key] for row in answer.json()] if answer.status_code == 200 else answer.status_code

    everyone = sorted(["hub", "chirp", "agency", "lab", "newsroom"])
    assert slugs(None, "/api/v1/organisations") == 401
    assert slugs("guest", "/api/v1/organisations") == ["newsroom"]
    assert slugs("guest_admin", "/api/v1/organisations") == ["newsroom"]
    for who in ("chirp", "chirp_reader", "lab", "operator"):
        assert sorted(slugs(who, "/api/v1/organisations")) == everyone, who  # type: ignore[arg-type]

    # Members: one's own organisation only (any organisation for the hub operator); others do not exist.
    assert sorted(slugs("chirp_reader", "/api/v1/organisations/chirp/members", "email")) == [  # type: ignore[arg-type]
        "chirp@example.org",
        "chirp_colleague@example.org",
        "chirp_reader@example.org",
    ]
    assert slugs("guest", "/api/v1/organisations/newsroom/members", "email") == [
        "guest@example.org",
        "guest_admin@example.org",
    ]
    for who, slug in [("agency_admin", "chirp"), ("lab", "agency"), ("guest", "chirp"), ("guest_admin", "lab")]:
        hidden = api(live_server, hub, who).get(f"/api/v1/organisations/{slug}/members")
        missing = api(live_server, hub, who).get("/api/v1/organisations/no-such-org/members")
        assert hidden.status_code == missing.status_code == 404, who
        assert "@" not in hidden.text
    assert slugs(None, "/api/v1/organisations/chirp/members") == 401
    assert slugs("operator", "/api/v1/organisations/chirp/members", "email") != 404

    # Trust groups: only to their organisations.
    assert slugs(None, "/api/v1/trust-groups") == 401
    for who in ("lab", "lab_admin", "guest", "guest_admin"):
        assert slugs(who, "/api/v1/trust-groups") == [], who
        assert "us-2026" not in str(slugs(who, "/api/v1/collections", "alias")), who
    for who in ("chirp", "chirp_reader", "agency_admin", "operator"):
        assert slugs(who, "/api/v1/trust-groups") == ["us-2026"], who
    assert api(live_server, hub, "chirp").get("/api/v1/trust-groups").json()[0]["organisations"] == ["agency", "chirp"]


def test_pages_list_only_what_the_caller_may_know(live_server: LiveServer, people: Hub) -> None:
    hub = people
    # The share page: a guest may not share at all; a member organisation sees only its own groups.
    guest_upload = page(live_server, hub, "guest").get("/upload")
    assert guest_upload.status_code == 403 and GROUP_NAME not in guest_upload.text
    lab_upload = page(live_server, hub, "lab").get("/upload")
    assert lab_upload.status_code == 200 and GROUP_NAME not in lab_upload.text
    assert 'value="us-2026"' not in lab_upload.text
    chirp_upload = page(live_server, hub, "chirp").get("/upload")
    assert chirp_upload.status_code == 200 and GROUP_NAME in chirp_upload.text
    assert "Disinfo Lab" in chirp_upload.text  # member organisations choose whom to share with
    visitor_upload = page(live_server, hub, None).get("/upload")
    assert visitor_upload.status_code == 303 and visitor_upload.headers["location"].startswith("/login")

    # The browser and the dashboard: no directory for visitors and guests.
    for who in (None, "guest"):
        client = page(live_server, hub, who)
        for path in ("/objects", "/", "/objects?organisation=lab", "/objects?organisation=no-such-org"):
            shown = client.get(path)
            assert shown.status_code == 200, (who, path)
            for name in ORG_NAMES:
                if who == "guest" and name == "Newsroom":
                    continue  # its own name, in the top bar
                assert name not in shown.text, (who, path, name)
            assert "no organisation" not in shown.text and GROUP_NAME not in shown.text
        # Naming a publisher tells nothing about whether it exists.
        real, made_up = client.get("/objects?organisation=lab"), client.get("/objects?organisation=no-such-org")
        assert real.text == made_up.text
    member = page(live_server, hub, "lab")
    assert all(name in member.get("/objects").text for name in ORG_NAMES)
    # An unknown publisher finds nothing, exactly like a known one with nothing visible (no directory oracle).
    unknown = member.get("/objects?organisation=no-such-org")
    assert unknown.status_code == 200 and "no organisation" not in unknown.text


def snapshot(database: Database) -> dict[str, Any]:
    with database.session() as session:
        return {
            "orgs": sorted(session.scalars(select(Organisation.slug))),
            "members": sorted(session.execute(select(Member.email, Member.is_active, Member.role)).tuples()),
            "groups": sorted(session.scalars(select(TrustGroup.slug))),
            "group_members": sorted(
                session.execute(select(TrustGroupMember.group_id, TrustGroupMember.org_id)).tuples()
            ),
            "revoked_tokens": session.scalar(select(func.count()).where(ApiToken.revoked_at.is_not(None))),
            "tokens": session.scalar(select(func.count()).select_from(ApiToken)),
            "audit": session.scalar(select(func.count()).select_from(AuditEntry)),
        }


def test_directory_writes_are_refused_to_others_guests_and_visitors(live_server: LiveServer, people: Hub) -> None:
    hub = people
    database = live_server.app.state.database
    with database.session() as session:
        chirp_token = session.scalar(select(ApiToken.id).where(ApiToken.member_id == hub.member_ids["chirp"]))
    new_org = {"name": "Rogue Org", "kind": "platform", "country": "US"}
    new_member = {"email": "planted@example.org", "role": "admin", "password": "planted-password"}
    attempts: list[tuple[str, str, dict[str, Any] | None, dict[str | None, int]]] = [
        (
            "POST",
            "/api/v1/organisations",
            new_org,
            {"chirp": 403, "agency_admin": 403, "lab_admin": 403, "guest_admin": 403, None: 401},
        ),
        (
            "POST",
            "/api/v1/organisations/chirp/members",
            new_member,
            {"agency_admin": 404, "lab_admin": 404, "guest_admin": 403, "chirp": 403, None: 401},
        ),
        (
            "POST",
            "/api/v1/organisations/newsroom/members",
            new_member,
            {"guest_admin": 403, "guest": 403, "agency_admin": 404, None: 401},
        ),
        (
            "DELETE",
            f"/api/v1/organisations/chirp/members/{hub.member_ids['chirp']}",
            None,
            {"agency_admin": 404, "lab_admin": 404, "guest_admin": 403, "chirp_colleague": 403, None: 401},
        ),
        (
            "DELETE",
            f"/api/v1/organisations/agency/members/{hub.member_ids['chirp']}",  # someone else's member via own org
            None,
            {"agency_admin": 404},
        ),
        (
            "POST",
            "/api/v1/trust-groups",
            {"name": "Shadow group", "organisations": ["lab"]},
            {"chirp": 403, "agency_admin": 403, "guest_admin": 403, None: 401},
        ),
        (
            "PUT",
            "/api/v1/trust-groups/us-2026/organisations/lab",
            None,
            {"lab_admin": 403, "agency_admin": 403, "guest_admin": 403, None: 401},
        ),
        (
            "DELETE",
            "/api/v1/trust-groups/us-2026/organisations/agency",
            None,
            {"chirp": 403, "agency_admin": 403, None: 401},
        ),
        (
            "DELETE",
            f"/api/v1/tokens/{chirp_token}",
            None,
            {
                "agency_admin": 404,
                "lab_admin": 404,
                "guest_admin": 404,
                "guest": 404,
                "chirp_colleague": 404,
                None: 401,
            },
        ),
        ("POST", "/api/v1/tokens", {"name": "x"}, {None: 401}),
    ]
    before = snapshot(database)
    for method, path, body, expected in attempts:
        for who, status in expected.items():
            answer = api(live_server, hub, who).request(method, path, json=body)
            assert answer.status_code == status, (method, path, who, answer.status_code, answer.text)
            assert "planted" not in answer.text
    assert snapshot(database) == before

    # The entitled may: an admin in their own organisation, the operator anywhere.
    agency_admin = api(live_server, hub, "agency_admin")
    added = agency_admin.post("/api/v1/organisations/agency/members", json={**new_member, "role": "reader"})
    assert added.status_code == 201, added.text
    assert (
        agency_admin.delete(f"/api/v1/organisations/agency/members/{hub.member_ids['agency_admin']}").status_code == 422
    )
    operator = api(live_server, hub, "operator")
    assert (
        operator.post("/api/v1/organisations/newsroom/members", json={"email": "reporter@example.org"}).status_code
        == 201
    )
    assert operator.put("/api/v1/trust-groups/us-2026/organisations/lab").status_code == 200


DECLARED = {
    ("GET", "/login"): ("anyone", "none"),
    ("POST", "/login"): ("anyone", "none"),
    ("POST", "/logout"): ("anyone", "none"),
    ("GET", "/"): ("anyone", "visible"),
    ("GET", "/objects"): ("anyone", "visible"),
    ("GET", "/objects/{stix_id}"): ("anyone", "visible"),
    ("POST", "/objects/{stix_id}/feedback"): ("member", "visible"),
    ("GET", "/upload"): ("writer", "own"),
    ("POST", "/upload"): ("writer", "owner"),
    ("GET", "/api/v1/me"): ("member", "own"),
    ("GET", "/api/v1/organisations"): ("member", "visible"),
    ("POST", "/api/v1/organisations"): ("operator", "none"),
    ("GET", "/api/v1/organisations/{slug}/members"): ("member", "own"),
    ("POST", "/api/v1/organisations/{slug}/members"): ("admin", "own"),
    ("DELETE", "/api/v1/organisations/{slug}/members/{member_id}"): ("admin", "own"),
    ("GET", "/api/v1/tokens"): ("member", "own"),
    ("POST", "/api/v1/tokens"): ("member", "own"),
    ("DELETE", "/api/v1/tokens/{token_id}"): ("member", "own"),
    ("GET", "/api/v1/trust-groups"): ("member", "visible"),
    ("POST", "/api/v1/trust-groups"): ("operator", "none"),
    ("PUT", "/api/v1/trust-groups/{slug}/organisations/{org_slug}"): ("operator", "none"),
    ("DELETE", "/api/v1/trust-groups/{slug}/organisations/{org_slug}"): ("operator", "none"),
    ("GET", "/api/v1/collections"): ("member", "visible"),
    ("GET", "/api/v1/audit"): ("admin", "own"),
    ("GET", "/api/v1/webhooks"): ("admin", "own"),
    ("POST", "/api/v1/webhooks"): ("admin", "own"),
    ("GET", "/api/v1/webhooks/{hook_id}/deliveries"): ("admin", "owner"),
    ("DELETE", "/api/v1/webhooks/{hook_id}"): ("admin", "owner"),
}


def test_every_page_directory_and_webhook_route_declares_its_rule() -> None:
    found = {}
    for module in (pages, rest_directory, webhooks):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            rule = access.declared_rule(route)
            assert rule is not None, f"{route.methods} {route.path} declares no access rule"
            # Pages refuse as pages (a sign-in redirect), the API as JSON.
            assert rule.via is (access.PAGE if module is pages else access.API), route.path
            for method in route.methods or ():
                found[(method, route.path)] = (rule.caller, rule.check)
    assert found == DECLARED


def test_an_address_built_to_stall_the_email_check_is_refused_at_once(live_server: LiveServer, people: Hub) -> None:
    """'a@' and 50,000 dots made the address regex backtrack for seconds per request, the GIL held; an address
    longer than RFC 5321 allows is refused before the regex runs, by the API and by directory itself."""
    stall = "a@" + "." * 50_000 + " x"
    started = time.monotonic()
    refused = api(live_server, people, "lab_admin").post(
        "/api/v1/organisations/lab/members", json={"email": stall, "name": "x", "role": "analyst"}
    )
    assert refused.status_code == 422 and "email" in refused.text
    with live_server.app.state.database.session() as session:
        org = directory.org_by_slug(session, "lab")
        with pytest.raises(directory.DirectoryError, match="not an e-mail address"):
            directory.create_member(session, org, stall, "x", "analyst")
    assert time.monotonic() - started < 5
