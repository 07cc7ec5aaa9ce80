"""`shieldwall admin ...` sets up a hub from nothing; the token it prints works over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from shieldwall.exchange import directory
from shieldwall.store.base import utcnow
from tests.support.live import LiveServer

SHIELDWALL = [sys.executable, "-m", "shieldwall.cli"]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHIELDWALL, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_admin_commands_build_a_working_hub(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "SHIELDWALL_DATABASE_URL": database_url, "SHIELDWALL_DATA_DIR": str(tmp_path)}
    assert run("admin", "init-db", env=env).returncode == 0
    assert (
        run("admin", "create-org", "Chirp", "--kind", "platform", "--country", "US", env=env).stdout.strip() == "chirp"
    )
    bad = run("admin", "create-org", "Bad", "--kind", "platform", "--country", "USA", env=env)
    assert bad.returncode == 2 and "ISO 3166" in bad.stderr
    assert run("admin", "create-member", "chirp", "a@chirp.example", "--role", "analyst", env=env).returncode == 0
    dup = run("admin", "create-member", "chirp", "a@chirp.example", env=env)
    assert dup.returncode == 2 and "exists already" in dup.stderr
    token = run("admin", "create-token", "a@chirp.example", env=env).stdout.strip()
    assert token.startswith("swt_")
    assert run("admin", "create-group", "Working group", "chirp", env=env).stdout.strip() == "working-group"
    assert run("admin", "create-collection", "wg", "WG", "--group", "working-group", env=env).returncode == 0

    server = LiveServer(database_url, tmp_path).start()
    try:
        me = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["organisation"] == "chirp"
        cols = httpx.get(f"{server.url}/api/v1/collections", headers={"Authorization": f"Bearer {token}"}).json()
        assert "wg" in {c["alias"] for c in cols}
        # An expired token is refused with a message that says so.
        with server.app.state.database.session() as session:
            member = directory.member_by_email(session, "a@chirp.example")
            old, _ = directory.create_token(session, member, "old", utcnow() - timedelta(minutes=1))
        expired = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {old}"})
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    finally:
        server.stop()
    audit = run("admin", "audit", "--json", env=env)
    assert audit.returncode == 0
    actions = [json.loads(line)["action"] for line in audit.stdout.splitlines()]
    assert {"cli:create-organisation", "cli:add-member", "cli:issue-token", "cli:create-trust-group"} <= set(actions)


def test_numbers_out_of_range_are_refused_before_the_database(tmp_path: Path) -> None:
    env = {**os.environ, "SHIELDWALL_DATA_DIR": str(tmp_path)}
    for args, said in (
        (("admin", "audit", "--limit", "-5"), "--limit"),
        (("admin", "audit", "--limit", "99999999999999999999"), "--limit"),  # was an OverflowError in SQLite
        (("admin", "create-token", "a@chirp.example", "--days", "-3"), "--days"),
    ):
        done = run(*args, env=env)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
