"""Shared fixtures. Tests that take `database_url` run twice: on SQLite and on a real PostgreSQL server.

Where PostgreSQL or Chromium is missing the tests that need it are skipped locally, but fail when
SHIELDWALL_REQUIRE_ALL=1 (CI sets it), so CI never passes by skipping.
"""

from __future__ import annotations

import faulthandler
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import settings

from shieldwall.store.db import Database
from shieldwall.store.migrate import upgrade
from tests.support.live import LiveServer
from tests.support.postgres import PostgresServer, find_bindir

# httpx's 5 s default is for the open internet; here a loaded 2-core CI machine running PostgreSQL, Chromium and
# two test workers can take longer on a page. The default object is shared by httpx.get/post/Client, so widen
# it in place: a test that hangs still fails, after a minute.
for _name in ("connect", "read", "write", "pool"):
    setattr(httpx._config.DEFAULT_TIMEOUT_CONFIG, _name, 60.0)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REQUIRE_ALL = os.environ.get("SHIELDWALL_REQUIRE_ALL") == "1"

# CI gates a change on the same generated examples every run (derived from each test's source); runs
# elsewhere draw new ones, which is how the property tests keep finding what CI would not.
settings.register_profile("ci", derandomize=True)
if REQUIRE_ALL or os.environ.get("CI"):
    settings.load_profile("ci")


def missing(what: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"{what} is required (SHIELDWALL_REQUIRE_ALL=1) but missing", pytrace=False)
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        missing(f"shared data at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = find_bindir()
    if bindir is None:
        missing("a PostgreSQL server (Debian package postgresql)")
    assert bindir is not None
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database("t_" + uuid.uuid4().hex[:16])
    upgrade(url)
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(database_url, tmp_path / "data").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():  # type: ignore[no-untyped-def]
    from tests.support.browser import CHROMEDRIVER, CHROMIUM, start_chromium

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        missing("Chromium and chromedriver (Debian packages chromium, chromium-driver)")
    driver = start_chromium()
    yield driver
    driver.quit()


# ------------------------------------------------------------------------------- a stuck test speaks up
# pytest-timeout fails a stuck test after `timeout`, but if the whole run is stopped first (CI's limit) its
# report never prints. So each process says on its real stderr, while it happens, which test has been
# running for more than STUCK_AFTER seconds, with every thread's stack.
STUCK_AFTER = float(os.environ.get("SHIELDWALL_STUCK_AFTER", "120"))
# Neither pytest-timeout's signal nor the watch thread can act while C code holds the GIL (a regex
# backtracking for hours did, and CI ran out of time with no verdict). faulthandler's timer is a C thread
# that needs no GIL: past this, it prints every stack and ends the process, and xdist reports the test
# that was running as a crashed worker's.
HARD_LIMIT = float(os.environ.get("SHIELDWALL_HARD_LIMIT", "600"))
_running: dict[str, float] = {}
_stderr_fd = 2


def _watch(fd: int) -> None:
    reported: set[str] = set()
    while True:
        time.sleep(min(10.0, STUCK_AFTER / 2))
        for nodeid, started in list(_running.items()):
            if nodeid not in reported and time.monotonic() - started > STUCK_AFTER:
                reported.add(nodeid)
                os.write(fd, f"\n*** still running after {STUCK_AFTER:.0f} s: {nodeid}\n".encode())
                faulthandler.dump_traceback(file=fd, all_threads=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _running[item.nodeid] = time.monotonic()
    faulthandler.dump_traceback_later(HARD_LIMIT, exit=True, file=_stderr_fd)
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()
        _running.pop(item.nodeid, None)


def pytest_configure(config: pytest.Config) -> None:
    # The process's own stderr, which pytest's capturing has set aside (xdist workers inherit the run's).
    capturing = getattr(config.pluginmanager.getplugin("capturemanager"), "_global_capturing", None)
    fd = getattr(getattr(capturing, "err", None), "targetfd_save", 2)
    global _stderr_fd
    _stderr_fd = fd
    threading.Thread(target=_watch, args=(fd,), name="stuck-test watch", daemon=True).start()
