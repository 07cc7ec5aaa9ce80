"""A database lost, replaced or frozen under a running hub is noticed: writes answer 503 (nothing is
acknowledged into an orphaned file), /healthz fails, and `serve` never creates a database in its place."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database, DatabaseUnavailable
from shieldwall.store.migrate import upgrade
from tests.support.hub import Hub, indicator, seeded_sqlite
from tests.support.live import LiveServer

TAXII = "application/taxii+json;version=2.1"


@pytest.fixture
def sqlite_hub(tmp_path: Path) -> Iterator[tuple[LiveServer, Hub, Path]]:
    url, hub = seeded_sqlite(tmp_path)
    server = LiveServer(url, tmp_path / "data").start()
    yield server, hub, tmp_path / "hub.db"
    server.stop()


def post(server: LiveServer, hub: Hub, value: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/taxii2/hub/collections/{hub.collection_id}/objects/",
        auth=("x", hub.tokens["chirp"]),
        headers={"Accept": TAXII, "Content-Type": TAXII},
        json={"objects": [indicator(value, TLP.CLEAR)]},
        timeout=30,
    )


def health(server: LiveServer) -> httpx.Response:
    return httpx.get(f"{server.url}/healthz", timeout=30)


def test_healthz_answers_anyone_on_both_backends(live_server: LiveServer) -> None:
    response = health(live_server)
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok"}


def test_removed_database_refuses_writes_and_fails_health(sqlite_hub: tuple[LiveServer, Hub, Path]) -> None:
    server, hub, path = sqlite_hub
    assert post(server, hub, "http://before.example/").status_code == 202
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        (path.parent / name).unlink(missing_ok=True)
    refused = post(server, hub, "http://after.example/")
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/taxii+json")
    assert "removed" in refused.json()["description"] and str(path) in refused.json()["description"]
    rest = httpx.post(
        f"{server.url}/api/v1/objects",
        headers={"Authorization": f"Bearer {hub.tokens['chirp']}"},
        json={"objects": [indicator("http://rest.example/", TLP.CLEAR)]},
        timeout=30,
    )
    assert rest.status_code == 503 and "removed" in rest.json()["detail"]
    failing = health(server)
    assert failing.status_code == 503 and "removed" in failing.json()["database"]
    assert not path.exists()  # nothing re-created an empty database in its place


def test_replaced_database_refuses_writes(sqlite_hub: tuple[LiveServer, Hub, Path]) -> None:
    server, hub, path = sqlite_hub
    assert post(server, hub, "http://before.example/").status_code == 202
    copy = path.with_suffix(".copy")
    shutil.copyfile(path, copy)
    os.replace(copy, path)  # same name, another file
    assert post(server, hub, "http://after.example/").status_code == 503
    assert "replaced" in health(server).json()["database"]


def test_read_only_database_refuses_writes_until_writable_again(sqlite_hub: tuple[LiveServer, Hub, Path]) -> None:
    server, hub, path = sqlite_hub

    def collections() -> httpx.Response:
        return httpx.get(
            f"{server.url}/taxii2/hub/collections/",
            auth=("x", hub.tokens["chirp"]),
            headers={"Accept": TAXII},
            timeout=30,
        )

    assert collections().status_code == 200  # the token's use is recorded now, not during the next read
    mode = path.stat().st_mode
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        refused = post(server, hub, "http://frozen.example/")
        assert refused.status_code == 503 and "read-only" in refused.json()["description"]
        assert health(server).status_code == 503
        assert collections().status_code == 200  # reads still work from a read-only database
    finally:
        path.chmod(mode)
    time.sleep(1.1)  # the per-statement check is cached for a second
    assert post(server, hub, "http://thawed.example/").status_code == 202
    assert health(server).status_code == 200


def test_a_write_transaction_is_checked_at_commit(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    database = Database(url)
    try:
        with pytest.raises(DatabaseUnavailable, match="removed"), database.session() as session:
            session.execute(text("CREATE TABLE t (x INTEGER)"))
            path.unlink()  # between the write and the commit: the commit is refused
        assert not path.exists()
    finally:
        database.dispose()


# ---------------------------------------------------------------- serve and init-db


def shieldwall(*args: str, env: dict[str, str], as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "shieldwall.cli", *args]
    if as_nobody:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False)


def no_database_env(data_dir: Path) -> dict[str, str]:
    env = {"SHIELDWALL_DATA_DIR": str(data_dir), "COLUMNS": "300"}
    env.pop("SHIELDWALL_DATABASE_URL", None)
    return env


def test_serve_never_creates_a_database(tmp_path: Path) -> None:
    env = no_database_env(tmp_path / "data")
    env["SHIELDWALL_DATABASE_URL"] = ""
    served = shieldwall("serve", "--port", "1", env=env)
    assert served.returncode == 2, served.stderr
    database = tmp_path / "data" / "shieldwall.db"
    assert f"no database at {database}" in served.stderr and "init-db" in served.stderr
    assert "Traceback" not in served.stderr
    assert not database.exists()
    made = shieldwall("admin", "init-db", env=env)
    assert made.returncode == 0, made.stderr
    assert database.exists()


def test_serve_refuses_a_read_only_database_file(tmp_path: Path) -> None:
    env = no_database_env(tmp_path / "data")
    env["SHIELDWALL_DATABASE_URL"] = ""
    assert shieldwall("admin", "init-db", env=env).returncode == 0
    database = tmp_path / "data" / "shieldwall.db"
    database.chmod(0o444)
    served = shieldwall("serve", "--port", "1", env=env)
    assert served.returncode == 2 and "read-only" in served.stderr and str(database) in served.stderr
    assert "Traceback" not in served.stderr


def test_unusable_data_directory_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = no_database_env(blocker / "data")
    env["SHIELDWALL_DATABASE_URL"] = ""
    for args in (("admin", "init-db"), ("serve", "--port", "1")):
        result = shieldwall(*args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert str(blocker / "data") in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_read_only_data_directory_as_an_unprivileged_user(tmp_path: Path) -> None:
    # Root writes anywhere, so the read-only directory is tried as nobody (outside pytest's private tmp).
    base = Path(tempfile.mkdtemp(prefix="shieldwall-ro-"))
    try:
        base.chmod(0o755)
        data = base / "data"
        data.mkdir()
        data.chmod(0o555)
        env = no_database_env(data)
        env["SHIELDWALL_DATABASE_URL"] = ""
        for args in (("admin", "init-db"), ("serve", "--port", "1")):
            result = shieldwall(*args, env=env, as_nobody=True)
            assert result.returncode == 2, result.stderr
            assert str(data) in result.stderr and "Traceback" not in result.stderr
            assert "Permission denied" in result.stderr
    finally:
        shutil.rmtree(base)
