"""Who may change the ad archive, over real HTTP on both databases: only ad-library editors and the hub
operator, with an API token; everyone else (visitor, guest organisation, other analysts, readers, an
editor's browser session) is refused and nothing in the archive changes; every change is audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shieldwall.ads.tables import Ad, AdVersion, ImportRun, Sponsor
from shieldwall.config import load_settings
from shieldwall.exchange.access import route_table
from shieldwall.exchange.tables import AuditEntry, Member
from shieldwall.store.db import Database
from shieldwall.web.app import create_app
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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_operator_grants_the_editor_role_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "SHIELDWALL_DATABASE_URL": database_url, "SHIELDWALL_DATA_DIR": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shieldwall.cli", *args], env=env, capture_output=True, text=True)

    assert run("admin", "init-db").returncode == 0
    assert run("admin", "create-org", "Ads Watch", "--kind", "research").returncode == 0
    assert run("admin", "create-org", "Newsroom", "--kind", "civil_society", "--guest").returncode == 0
    assert run("admin", "create-member", "ads-watch", "ed@adswatch.example", "--ad-editor").returncode == 0
    assert run("admin", "create-member", "ads-watch", "an@adswatch.example").returncode == 0
    refused = run("admin", "create-member", "newsroom", "ed@newsroom.example", "--ad-editor")
    assert refused.returncode == 2 and "guest" in refused.stderr
    editor = run("admin", "create-token", "ed@adswatch.example").stdout.strip()
    analyst = run("admin", "create-token", "an@adswatch.example").stdout.strip()
    server = LiveServer(database_url, tmp_path).start()
    try:
        body = json.dumps({"data": [meta_ad("1")]})
        assert _import(server, analyst, body).status_code == 403
        assert _import(server, editor, body).json()["created"] == 1
    finally:
        server.stop()


def test_every_ads_and_detect_route_declares_its_rule(tmp_path: Path) -> None:
    app = create_app(load_settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=str(tmp_path)))
    rules = {
        (methods, path): rule
        for methods, path, rule in route_table(app)
        if path.startswith(("/ads", "/api/v1/ads", "/detect"))
    }
    assert len(rules) == 21  # 10 API reads, the import, 8 pages, the detect page and its files
    for (methods, path), rule in rules.items():
        assert rule is not None, path
        expected = "ad_editor" if path == "/api/v1/ads/import" else "anyone"
        assert rule.caller == expected, (methods, path, rule)
    assert rules[("GET", "/detect/runs/{name}/{filename}")].check == "visible"
