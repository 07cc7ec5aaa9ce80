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
