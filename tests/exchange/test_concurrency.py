"""Bulk work beside a live hub, on SQLite and PostgreSQL.

- TAXII writers keep posting while `shieldwall ads import` (a process of its own) writes a few thousand ads:
  no writer gets a 5xx or any other refusal, and every object acknowledged is read back afterwards, by a walk
  and by an incremental poller.
- Two imports of overlapping files at once: each ad is created once (the second import's plan, made before the
  first one's commit, is made again under the archive's lock), sponsors are not duplicated, and the counts add up.
- An import is written in many short transactions, not one per file.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shieldwall.ads.importing import ImportResult, import_files
from shieldwall.ads.tables import Ad, AdVersion, Sponsor, SponsorAlias
from shieldwall.store.db import Database
from tests.support.hub import Hub
from tests.support.live import LiveServer
from tests.support.serve import Writers, poll_ids, snap_file, start_cli, walk_ids

SNAP = Path("ads") / "snapchat-political-ads-2019-2020.csv"


@pytest.mark.slow
def test_taxii_writers_beside_a_bulk_ads_import(
    live_server: LiveServer, hub: Hub, tmp_path: Path, shared_data: Path
) -> None:
    path = snap_file(shared_data / SNAP, tmp_path / "snap.csv", 3000)
    url = live_server.settings.database_url
    token = hub.tokens["chirp"]
    objects_url = f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/objects/"
    writers = Writers(objects_url, token, threads=6).start()
    try:
        importer = start_cli(url, tmp_path / "data", "ads", "import", "--format", "snap", str(path))
        output, _ = importer.communicate(timeout=180)
        deadline = time.monotonic() + 60
        while writers.posts < 20 and time.monotonic() < deadline:  # a fair number of writes, on a fast machine too
            time.sleep(0.05)
    finally:
        writers.stop()
    text = output.decode(errors="replace")
    assert importer.returncode == 0, text[-2000:]
    assert "3000 new ads" in text
    assert set(writers.answers) == {202}, writers.answers  # no 5xx, no 503 either: nobody was locked out
    assert not writers.transport_errors and not writers.incomplete
    assert writers.acknowledged
    assert writers.acknowledged <= set(walk_ids(live_server.url, hub.collection_id, token))
    polled = poll_ids(live_server.url, hub.collection_id, token)
    assert writers.acknowledged <= set(polled) and len(polled) == len(set(polled))  # each once


def count(database: Database, table: type) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


@pytest.mark.slow
def test_two_imports_of_overlapping_files_at_once(database_url: str, tmp_path: Path, shared_data: Path) -> None:
    every = snap_file(shared_data / SNAP, tmp_path / "all.csv", 2400)
    lines = every.read_text(encoding="utf-8").splitlines(keepends=True)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("".join(lines[:1601]), encoding="utf-8")  # rows 1-1600
    second.write_text(lines[0] + "".join(lines[801:]), encoding="utf-8")  # rows 801-2400
    results: list[ImportResult] = []
    errors: list[BaseException] = []

    def run(path: Path) -> None:
        database = Database(database_url)  # connections of its own, as another process has
        try:
            results.append(import_files(database, [path], "snap"))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            database.dispose()

    threads = [threading.Thread(target=run, args=(p,)) for p in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    database = Database(database_url)
    try:
        assert count(database, Ad) == 2400 and count(database, AdVersion) == 2400
        assert sum(r.stats.created for r in results) == 2400
        assert sum(r.stats.unchanged for r in results) == 800 and sum(r.stats.changed for r in results) == 0
        with database.session() as session:  # one sponsor per spelling, whichever import saw it first
            keys = session.scalar(select(func.count(func.distinct(SponsorAlias.name_key))))
            assert keys == count(database, SponsorAlias)
            assert count(database, Sponsor) <= keys
        fresh = Database(database_url)
        try:  # the same ads again, alone: nothing new
            again = import_files(fresh, [every], "snap")
        finally:
            fresh.dispose()
        assert again.stats.created == 0 and again.stats.unchanged == 2400
    finally:
        database.dispose()


def test_an_import_is_written_in_short_transactions(database: Database, tmp_path: Path, shared_data: Path) -> None:
    path = snap_file(shared_data / SNAP, tmp_path / "snap.csv", 1500)
    result = import_files(database, [path], "snap")
    assert result.stats.created == 1500
    assert len(result.holds) >= 3  # chunks of at most a few hundred ads to start with, each committed
    assert count(database, Ad) == 1500


def test_a_plan_made_before_another_import_commits_is_made_again(
    database: Database, tmp_path: Path, shared_data: Path
) -> None:
    from shieldwall.ads.archive import Archive, archive_stamp, lock_archive
    from shieldwall.ads.importers import read_batches

    path = snap_file(shared_data / SNAP, tmp_path / "snap.csv", 200)
    documents = next(iter(read_batches(path, "snap"))).documents
    with database.session() as session:
        plan = Archive(session, read_only=True).plan(documents)
    assert plan.stats.created == 200
    import_files(database, [path], "snap")  # another writer commits the same ads meanwhile
    with database.session() as session:
        lock_archive(session)
        assert archive_stamp(session) != plan.stamp  # so the import plans again, under the lock
        again = Archive(session).plan(documents)
    assert again.stats.created == 0 and again.stats.unchanged == 200


def test_sqlite_writers_take_turns_and_a_failed_transaction_leaves_the_line(tmp_path: Path) -> None:
    """store.db queues a process's SQLite writers: many threads writing at once all get through, beside a
    writer in another connection, and one whose transaction fails does not keep the others waiting."""
    import sqlite3
    import uuid

    from shieldwall.exchange.tables import Organisation
    from shieldwall.store.migrate import upgrade

    def org(slug: str) -> Organisation:
        return Organisation(slug=slug, name=slug, kind="research", identity_id=f"identity--{uuid.uuid4()}")

    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade(url)
    database = Database(url)
    try:
        with pytest.raises(RuntimeError), database.session() as session:
            session.add(org("failed"))
            session.flush()  # a write: this thread is first in line now
            raise RuntimeError("the request fails after its first write")
        started = time.monotonic()
        with database.session() as session:
            session.add(org("next"))
        assert time.monotonic() - started < 5  # not the 30 s a line never left would take

        stop = threading.Event()
        hogged: list[int] = []

        def hog() -> None:  # another process's writer, holding the lock 50 ms at a time
            other = sqlite3.connect(tmp_path / "queue.db", isolation_level=None, timeout=30)
            try:
                while not stop.is_set():
                    other.execute("BEGIN IMMEDIATE")
                    time.sleep(0.05)
                    other.execute("COMMIT")
                    hogged.append(1)
                    time.sleep(0.005)
            finally:
                other.close()

        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                for i in range(10):
                    with database.session() as session:
                        session.add(org(f"w{n}-{i}"))
            except BaseException as error:  # reported below
                errors.append(error)

        hogging = threading.Thread(target=hog)
        hogging.start()
        writers = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=120)
        stop.set()
        hogging.join(timeout=30)
        assert not errors, errors
        assert len(hogged) > 5  # the other writer did hold the lock meanwhile
        with database.session() as session:
            slugs = set(session.scalars(select(Organisation.slug)))
        assert {f"w{n}-{i}" for n in range(8) for i in range(10)} | {"next"} <= slugs and "failed" not in slugs
    finally:
        database.dispose()
