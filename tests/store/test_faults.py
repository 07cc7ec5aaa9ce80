"""Crashes: `kill -9` of the hub's processes in the middle of their writes, on SQLite and PostgreSQL.

- `shieldwall serve` killed while TAXII writers post to it: after a restart every object it acknowledged
  (202, status complete) is there, read back over TAXII, and the SQLite file passes `PRAGMA integrity_check`.
  The restarted hub is the same app served in the test's own process (starting a second `serve` process
  would double the test's time for nothing: what matters is what the killed one left in the database).
- `shieldwall ads import` killed midway: the archive is consistent (every ad has its current version, the
  run record counts exactly what was committed and says the run never finished), and running the same import
  again completes it without a duplicate.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import and_, func, select, text

from shieldwall.ads.tables import Ad, AdVersion, ImportRun
from shieldwall.store.db import Database, sqlite_file
from tests.support.hub import seed_hub
from tests.support.live import LiveServer
from tests.support.serve import Serve, Writers, snap_file, start_cli, walk_ids

pytestmark = pytest.mark.slow


def integrity_ok(database_url: str) -> None:
    """SQLite: the file's own check, and FTS5's check of the archive's search index."""
    path = sqlite_file(database_url)
    if path is None:
        return
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        connection.execute("INSERT INTO ads_fts(ads_fts) VALUES ('integrity-check')")  # raises if corrupt
    finally:
        connection.close()


def test_serve_killed_during_taxii_ingest_loses_nothing_it_acknowledged(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    hub = seed_hub(database)
    database.dispose()
    server = Serve(database_url, tmp_path / "data").start()
    try:
        objects_url = f"{server.url}/taxii2/hub/collections/{hub.collection_id}/objects/"
        writers = Writers(objects_url, hub.tokens["chirp"], threads=4, stop_on_transport_error=True).start()
        deadline = time.monotonic() + 30
        while writers.posts < 12 and time.monotonic() < deadline:  # several envelopes in, more in flight
            time.sleep(0.05)
        server.kill()
        writers.stop()
    finally:
        server.stop()
    assert writers.acknowledged, f"nothing was acknowledged before the kill: {writers.answers} {server.log()}"
    assert set(writers.answers) == {202}, writers.answers
    assert not writers.incomplete

    integrity_ok(database_url)
    restarted = LiveServer(database_url, tmp_path / "data").start()
    try:
        stored = walk_ids(restarted.url, hub.collection_id, hub.tokens["chirp"])
    finally:
        restarted.stop()
    assert writers.acknowledged <= set(stored), f"{len(writers.acknowledged - set(stored))} acknowledged lost"
    assert len(stored) == len(set(stored))  # no object twice
    integrity_ok(database_url)


def archive_counts(database: Database) -> tuple[int, int, int]:
    """(ads, versions, ads whose current version row is missing)."""
    with database.session() as session:
        ads = session.scalar(select(func.count()).select_from(Ad)) or 0
        versions = session.scalar(select(func.count()).select_from(AdVersion)) or 0
        orphans = session.scalar(
            select(func.count())
            .select_from(Ad)
            .outerjoin(AdVersion, and_(AdVersion.ad_id == Ad.id, AdVersion.version == Ad.version))
            .where(AdVersion.id.is_(None))
        )
        return ads, versions, orphans or 0


def runs(database: Database) -> list[ImportRun]:
    with database.session() as session:
        return list(session.scalars(select(ImportRun).order_by(ImportRun.id)))


def test_ads_import_killed_midway_is_consistent_and_a_rerun_completes_it(
    database_url: str, tmp_path: Path, shared_data: Path
) -> None:
    rows = 3000
    path = snap_file(shared_data / "ads" / "snapchat-political-ads-2019-2020.csv", tmp_path / "snap.csv", rows)
    with path.open(newline="") as handle:
        distinct = len({row["ADID"] for row in csv.DictReader(handle)})
    database = Database(database_url)
    try:
        importer = start_cli(database_url, tmp_path / "data", "ads", "import", "--format", "snap", str(path))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and importer.poll() is None:
            killed_run = runs(database)
            if killed_run and killed_run[-1].created:  # at least one chunk committed
                break
            time.sleep(0.05)
        assert importer.poll() is None, "the import finished before it could be killed"
        importer.kill()  # SIGKILL
        importer.wait(timeout=30)

        integrity_ok(database_url)
        (killed,) = runs(database)
        ads, versions, orphans = archive_counts(database)
        assert killed.status == "running" and killed.finished_at is None  # on record as never finished
        assert 0 < ads < distinct
        assert killed.created == ads  # the record counts exactly what was committed, chunk by chunk
        assert versions == ads and orphans == 0

        rerun = start_cli(database_url, tmp_path / "data", "ads", "import", "--format", "snap", str(path))
        output, _ = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, output.decode(errors="replace")[-2000:]
        integrity_ok(database_url)
        _, second = runs(database)
        ads, versions, orphans = archive_counts(database)
        assert ads == distinct and versions == distinct and orphans == 0  # each ad once, with its one version
        assert second.status == "finished"
        assert second.created == distinct - killed.created and second.unchanged == rows - second.created
        with database.session() as session:
            duplicated = session.execute(
                select(Ad.platform, Ad.platform_ad_id).group_by(Ad.platform, Ad.platform_ad_id).having(func.count() > 1)
            ).all()
            assert duplicated == []
            if database.is_sqlite:  # the search index lists every ad once
                every = text("SELECT count(*) FROM ads_fts WHERE ads_fts MATCH 'facets: platform*'")
                assert session.scalar(every) == distinct
    finally:
        database.dispose()
