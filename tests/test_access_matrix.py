"""The route table from the attacker's side: every route declares its rule, every write refuses a visitor and a
guest organisation (and a reader where it needs a writer), and no hostile id reaches a 500. Both databases."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from shieldwall.exchange.access import Access, route_table
from shieldwall.web.app import create_app
from tests.support.hub import Hub, seed_hub
from tests.support.live import LiveServer

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
HOSTILE = [
    "99999999999999999999",
    "-1",
    "..%2F..%2Fetc%2Fpasswd",
    "x" * 600,
    "%00",
    "identity--00000000-0000-4000-8000-000000000000",
]


@pytest.fixture
def hub(live_server: LiveServer) -> Hub:
    return seed_hub(live_server.app.state.database)


def declared_routes(app: object) -> Iterator[tuple[str, str, Access]]:
    for methods, path, rule in route_table(app):  # type: ignore[arg-type]
        assert rule is not None
        for method in methods.split(","):
            if method != "HEAD":
                yield method, path, rule


def fill(path: str, value: str = "1") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def test_every_route_declares_its_rule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from shieldwall.config import load_settings

    app = create_app(load_settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=str(tmp_path)))
    table = route_table(app)
    assert len(table) > 50
    undeclared = [f"{methods} {path}" for methods, path, rule in table if rule is None]
    assert not undeclared, undeclared


def refused(response: httpx.Response) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return True
    # Pages send a signed-out visitor to the sign-in page.
    return response.status_code in (302, 303, 307) and "/login" in response.headers.get("location", "")


def test_every_write_refuses_visitors_guests_and_readers(live_server: LiveServer, hub: Hub) -> None:
    callers = {
        None: ("member", "partner", "writer", "admin", "ad_editor", "operator"),
        "guest": ("partner", "writer", "admin", "ad_editor", "operator"),
        "chirp_reader": ("writer", "admin", "ad_editor", "operator"),
        "chirp": ("admin", "ad_editor", "operator"),
    }
    checked = 0
    for method, path, rule in declared_routes(live_server.app):
        if method not in WRITES:
            continue
        for who, refused_kinds in callers.items():
            if rule.caller not in refused_kinds:
                continue
            headers = {"Authorization": f"Bearer {hub.tokens[who]}"} if who else {}
            if path.startswith("/taxii2/"):
                headers.update({"Accept": "application/taxii+json;version=2.1",
                                "Content-Type": "application/taxii+json;version=2.1"})
            response = httpx.request(
                method, live_server.url + fill(path), headers=headers, json={}, follow_redirects=False, timeout=30
            )
            assert refused(response), f"{who or 'visitor'} was not refused on {method} {path}: {response.status_code}"
            checked += 1
    assert checked > 20


def test_hostile_ids_never_reach_a_server_error(live_server: LiveServer, hub: Hub) -> None:
    headers = {"Authorization": f"Bearer {hub.tokens['operator']}"}
    for method, path, _ in declared_routes(live_server.app):
        if "{" not in path or method not in ("GET", "DELETE", "PATCH", "PUT", "POST"):
            continue
        for value in HOSTILE:
            extra = {"Accept": "application/taxii+json;version=2.1"} if path.startswith("/taxii2/") else {}
            response = httpx.request(
                method, live_server.url + fill(path, value), headers={**headers, **extra}, json={}, timeout=30
            )
            assert response.status_code < 500, f"{method} {fill(path, value)[:120]}: {response.status_code}"


def test_every_object_read_route_agrees_with_the_policy(live_server: LiveServer, hub: Hub) -> None:
    """Fixtures at every TLP; each principal kind; every route that reads an object by id or lists objects."""
    from shieldwall.stix.tlp import TLP
    from tests.exchange.test_sharing import share
    from tests.support.hub import indicator

    fixtures = {
        "clear": (indicator("http://m-clear.example/", TLP.CLEAR), {}),
        "green": (indicator("http://m-green.example/", TLP.GREEN), {}),
        "amber": (indicator("http://m-amber.example/"), {"tlp": "amber", "share_with": {"trust_groups": ["us-2026"]}}),
        "strict": (indicator("http://m-strict.example/"), {"tlp": "amber+strict",
                                                           "share_with": {"organisations": ["lab"]}}),
        "red": (indicator("http://m-red.example/"), {"tlp": "red", "share_with": {"members": ["agency@example.org"]}}),
    }
    expected = {
        "clear": {None, "guest", "chirp", "chirp_reader", "agency", "lab", "operator"},
        "green": {"chirp", "chirp_reader", "agency", "lab", "operator"},
        "amber": {"chirp", "chirp_reader", "agency"},
        "strict": {"chirp", "chirp_reader", "lab"},
        "red": {"chirp", "agency"},  # the named member and the sharer, not the sharer's colleagues
    }
    for obj, sharing in fixtures.values():
        share(live_server, hub, "chirp", obj, **sharing)
    taxii = {"Accept": "application/taxii+json;version=2.1"}
    base = f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}"
    for name, (obj, _) in fixtures.items():
        stix_id = obj["id"]
        word = obj["pattern"].split("//")[1].split(".")[0]
        for who in (None, "guest", "chirp", "chirp_reader", "agency", "lab", "operator"):
            auth = ("x", hub.tokens[who]) if who else None
            bearer = {"Authorization": f"Bearer {hub.tokens[who]}"} if who else {}
            results = {
                "taxii object": httpx.get(f"{base}/objects/{stix_id}/", auth=auth, headers=taxii).status_code == 200,
                "taxii versions": httpx.get(f"{base}/objects/{stix_id}/versions/", auth=auth,
                                            headers=taxii).status_code == 200,
                "taxii list": bool(httpx.get(f"{base}/objects/", params={"match[id]": stix_id}, auth=auth,
                                             headers=taxii).json().get("objects")),
                "taxii manifest": bool(httpx.get(f"{base}/manifest/", params={"match[id]": stix_id}, auth=auth,
                                                 headers=taxii).json().get("objects")),
                "page": httpx.get(f"{live_server.url}/objects/{stix_id}", cookies={},
                                  headers=bearer).status_code == 200,
            }
            if who is not None:
                results["rest object"] = httpx.get(f"{live_server.url}/api/v1/objects/{stix_id}",
                                                   headers=bearer).status_code == 200
                found = httpx.get(f"{live_server.url}/api/v1/objects", params={"q": word}, headers=bearer).json()
                results["rest search"] = any(o["id"] == stix_id for o in found["objects"])
                export = httpx.get(f"{live_server.url}/api/v1/export", params={"q": word}, headers=bearer)
                results["export"] = stix_id in export.text
            should = who in expected[name]
            wrong = {route for route, seen in results.items() if seen != should}
            assert not wrong, f"{name} object, {who or 'visitor'}: {sorted(wrong)} disagree with the policy ({should})"
