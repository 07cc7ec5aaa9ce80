"""Who may change the ad archive, over real HTTP on both databases: only ad-library editors and the hub
operator, with an API token; everyone else (visitor, guest organisation, other analysts, readers, an
editor's browser session) is refused and nothing in the archive changes; every change is audited."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shieldwall.ads.tables import Ad, AdVersion, ImportRun, Sponsor
from shieldwall.exchange.tables import AuditEntry, Member
from shieldwall.store.db import Database
from tests.ads.conftest import meta_ad, snap_row
from tests.support.hub import Hub, seed_hub
from tests.support.live import LiveServer

EDITOR = "lab"  # an analyst of a member organisation, given the ad-library editor role


@pytest.fixture
def hub(live_server: LiveServer) -> Hub:
    database: Database = live_server.app.state.database
    hub = seed_hub(database)
    with database.session() as session:
        member = session.get(Member, hub.member_ids[EDITOR])
        assert member is not None
        member.is_ad_editor = True
    return hub


def _import(server: LiveServer, token: str | None, body: str, fmt: str = "meta", **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(
        server.url + "/api/v1/ads/import", params={"format": fmt, **params}, content=body, headers=headers
    )


def _archive_state(database: Database) -> dict[str, Any]:
    with database.session() as session:
        return {
            "ads": session.execute(select(Ad.status, func.count()).group_by(Ad.status).order_by(Ad.status)).all(),
            "versions": session.scalar(select(func.count()).select_from(AdVersion)),
            "sponsors": session.scalar(select(func.count()).select_from(Sponsor)),
            "runs": session.scalar(select(func.count()).select_from(ImportRun)),
            "last_seen": session.scalar(select(func.max(Ad.last_seen_at))),
            "bodies": sorted(session.scalars(select(Ad.body))),
        }


def _snap_csv(rows: list[dict[str, str]]) -> str:
    import csv
    import io

    from tests.ads.conftest import SNAP_HEADER

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SNAP_HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def test_only_editors_change_the_archive_and_every_change_is_audited(live_server: LiveServer, hub: Hub) -> None:
    database: Database = live_server.app.state.database
    first = json.dumps({"data": [meta_ad(str(i)) for i in range(1, 6)]})
    done = _import(live_server, hub.tokens[EDITOR], first)
    assert done.status_code == 200 and done.json()["created"] == 5
    snap = _import(live_server, hub.tokens["operator"], _snap_csv([snap_row(ADID="s1")]), fmt="snap")
    assert snap.status_code == 200 and snap.json()["created"] == 1
    before = _archive_state(database)
    forged = json.dumps({"data": [meta_ad("1", ad_creative_bodies=["made-up text"]), meta_ad("forged")]})
    one_row = _snap_csv([snap_row(ADID="s-other")])
    attempts = {
        "visitor": (None, 401),
        "guest": (hub.tokens["guest"], 403),  # a guest organisation's analyst
        "chirp": (hub.tokens["chirp"], 403),  # another member organisation's analyst
        "agency_admin": (hub.tokens["agency_admin"], 403),
        "chirp_reader": (hub.tokens["chirp_reader"], 403),
        "bad token": ("swt_not-a-token", 401),
    }
    for who, (token, status) in attempts.items():
        for body, fmt, params in (
            (forged, "meta", {}),
            (forged, "meta", {"snapshot": "true"}),
            (one_row, "snap", {"snapshot": "true"}),
        ):
            refused = _import(live_server, token, body, fmt, **params)
            assert refused.status_code == status, (who, fmt, params, refused.text)
            assert "created" not in refused.text
    # The editor's browser session is not enough: a page on another site could post with it.
    with httpx.Client(base_url=live_server.url) as browser:
        signed_in = browser.post("/login", data={"email": f"{EDITOR}@example.org", "password": hub.passwords[EDITOR]})
        assert signed_in.status_code == 303 and browser.cookies
        refused = browser.post("/api/v1/ads/import", params={"format": "meta", "snapshot": "true"}, content=forged)
        assert refused.status_code == 403 and "API token" in refused.json()["detail"]
    assert _archive_state(database) == before
    with database.session() as session:
        entries = session.execute(
            select(AuditEntry.action, AuditEntry.member_id, AuditEntry.detail)
            .where(AuditEntry.action.like("ads:%"))
            .order_by(AuditEntry.id)
        ).all()
    assert [(action, member) for action, member, _ in entries] == [
        ("ads:import", hub.member_ids[EDITOR]),
        ("ads:import-done", hub.member_ids[EDITOR]),
        ("ads:import", hub.member_ids["operator"]),
        ("ads:import-done", hub.member_ids["operator"]),
    ]
    assert entries[1][2]["created"] == 5 and entries[1][2]["files"] == ["upload"] and len(entries[0][2]["sha256"]) == 64


def test_a_failed_import_is_audited_with_its_error(live_server: LiveServer, hub: Hub) -> None:
    refused = _import(live_server, hub.tokens[EDITOR], "{not json", fmt="meta")
    assert refused.status_code == 400 and "/tmp" not in refused.text
    with live_server.app.state.database.session() as session:
        actions = session.execute(
            select(AuditEntry.action, AuditEntry.detail).where(AuditEntry.action.like("ads:%")).order_by(AuditEntry.id)
        ).all()
    assert [a for a, _ in actions] == ["ads:import", "ads:import-failed"]
    assert actions[1][1]["error"] and "/tmp" not in actions[1][1]["error"]


def test_reads_stay_open_to_everyone(live_server: LiveServer, hub: Hub) -> None:
    assert _import(live_server, hub.tokens[EDITOR], json.dumps({"data": [meta_ad("1")]})).status_code == 200
    for path in ("/api/v1/ads", "/api/v1/ads/aggregates?country=US", "/api/v1/ads/compliance", "/ads", "/ads/label"):
        for token in (None, hub.tokens["guest"], hub.tokens["chirp"]):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            assert httpx.get(live_server.url + path, headers=headers).status_code == 200, (path, token)
