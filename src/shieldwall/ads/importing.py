"""`ads import`: files -> batches -> archive in short transactions, every rejected row reported.

An import runs beside a live hub, which must keep answering its writers: on SQLite there is one write
lock for the whole database. So a file is read in batches, each batch is written in chunks sized to hold
the write lock for about a tenth of a second (CHUNK_SECONDS), and each chunk is planned (parsed, scored,
looked up) before its transaction begins, so the lock is held only while rows are written.

A re-run is idempotent (an ad already stored with the same content is noted unchanged), so an import
killed midway is completed by running it again: no duplicates, and the run record of the killed one says
what it committed (each chunk updates the record in its own transaction) and that it never finished.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from shieldwall.ads.archive import (
    Archive,
    IngestStats,
    NeedsWriteLock,
    Plan,
    Scorer,
    archive_stamp,
    latest_documents,
    lock_archive,
    mark_missing_removed,
    missing_ad_ids,
    write_plan,
)
from shieldwall.ads.importers import read_batches
from shieldwall.ads.importers.base import Batch, Problem
from shieldwall.ads.tables import ImportRun
from shieldwall.inputfiles import InputError, require_file
from shieldwall.store.base import utcnow
from shieldwall.store.db import BUSY_TIMEOUT_S, Database

Progress = Callable[[str, int], None]  # (file, rows just handled)


@dataclass
class ImportResult:
    rows_read: int = 0
    stats: IngestStats = field(default_factory=IngestStats)
    problems: list[Problem] = field(default_factory=list)
    run_id: int | None = None
    holds: list[float] = field(default_factory=list)  # seconds each chunk's transaction held the write lock

    @property
    def rejected(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        s = self.stats
        return (
            f"{self.rows_read} rows read: {s.created} new ads, {s.changed} new versions, {s.unchanged} unchanged, "
            f"{s.removed} removals recorded, {self.rejected} rows rejected"
        )


def import_files(
    database: Database,
    paths: list[Path],
    source_format: str,
    *,
    scorer: Scorer | None = None,
    snapshot: bool = False,
    progress: Progress | None = None,
    batch_size: int = 20_000,
) -> ImportResult:
    """Import every file. Each chunk of a batch is committed whole or not at all; a file that cannot be
    read at all raises ValueError naming it (chunks committed before stay, and are reported).

    The run is on record in `ads_import_runs` before the first row (its own committed transaction), its
    counts are updated with every chunk, and it is marked finished or failed at the end, so a run killed
    midway shows as one that never finished, with what it committed."""
    result = ImportResult()
    started = utcnow()
    result.run_id = _start_run(database, source_format, paths, started)
    try:
        _import(database, paths, source_format, result, started, scorer, snapshot, progress, batch_size)
    except BaseException as error:
        message = str(error) or type(error).__name__
        with contextlib.suppress(Exception):  # the database itself failing: the original error says more
            _finish_run(database, result, "failed", message)
        raise
    _finish_run(database, result, "finished", None)
    return result


def _import(
    database: Database,
    paths: list[Path],
    source_format: str,
    result: ImportResult,
    started: datetime,
    scorer: Scorer | None,
    snapshot: bool,
    progress: Progress | None,
    batch_size: int,
) -> None:
    platforms: set[str] = set()
    with contextlib.closing(ChunkWriter(database, result, started, scorer)) as writer:
        _import_files(writer, paths, source_format, batch_size, progress, platforms)
    if result.stats.created + result.stats.changed >= ANALYZE_AFTER:
        refresh_statistics(database)
    if snapshot and platforms:
        result.stats.removed += _remove_missing(database, sorted(platforms), started)


def _import_files(
    writer: ChunkWriter,
    paths: list[Path],
    source_format: str,
    batch_size: int,
    progress: Progress | None,
    platforms: set[str],
) -> None:
    result = writer.result
    for path in paths:
        require_file(path)
        rows_before = result.rows_read
        source = f"{source_format}:{path.name}"
        for batch in _batches(path, source_format, batch_size):
            documents, repeated = latest_documents(batch.documents)
            result.stats.unchanged += repeated
            for start, size in writer.chunks(len(documents)):
                last = start + size >= len(documents)
                writer.write(documents[start : start + size], source, batch if last else None)
            if not documents:
                result.rows_read += batch.rows_read
                result.problems += batch.problems
            platforms |= {d["platform"] for d in documents}
            if progress is not None:
                progress(str(path), batch.rows_read)
        if result.rows_read == rows_before:  # an empty file would also make a --snapshot remove every ad
            raise InputError(path, None, "no records: nothing to import")


# How long one chunk may hold the write lock (SQLite: the whole database's) while it writes.
CHUNK_SECONDS = 0.1
FIRST_CHUNK, SMALLEST_CHUNK, LARGEST_CHUNK = 250, 25, 5000
# SQLite: how long the lock is left free after a chunk, as a share of the time the chunk held it: all of
# it while other connections write (a waiting writer's busy handler polls at most every 100 ms, so it
# finds the gap), a fifth while nobody else has committed for BUSY_LINGER seconds.
ROOM_BUSY, ROOM_IDLE = 1.0, 0.2
BUSY_LINGER = 5.0
# SQLite: how often a chunk tries for the write lock, and for how long.
LOCK_POLL_S, LOCK_WAIT_S = 0.002, 600.0
# SQLite: while nobody else writes, the WAL is checkpointed at most this often (after every chunk while
# others write, so that their commits find nothing left to checkpoint).
CHECKPOINT_SECONDS = 1.0


class ChunkWriter:
    """Writes documents in chunks, each planned outside any transaction and written in a short one, on one
    connection of its own (on SQLite its page cache then stays warm while nobody else writes, and its
    PRAGMA data_version changes exactly when another connection commits).

    The chunk size follows the measured write rate so that a chunk holds the lock for about CHUNK_SECONDS;
    on SQLite the lock is then left free for a while (ROOM_BUSY, ROOM_IDLE), and the WAL is checkpointed
    by the import, outside the lock, rather than inside COMMIT (see _pragmas)."""

    def __init__(self, database: Database, result: ImportResult, observed_at: datetime, scorer: Scorer | None) -> None:
        self.database = database
        self.sqlite = database.is_sqlite
        self.result = result
        self.observed_at = observed_at
        self.scorer = scorer
        self.size = FIRST_CHUNK
        self.holds = result.holds
        self.connection = database.engine.connect()
        self.restore = self._pragmas()
        self.version = self._pragma("data_version")
        self.released = 0.0  # perf_counter when the last chunk's transaction ended
        self.checkpointed = time.perf_counter()
        self.others_seen = -BUSY_LINGER  # perf_counter when another connection's commit was last noticed

    def _pragma(self, statement: str) -> Any:
        """A PRAGMA on the driver's connection (outside SQLAlchemy's transaction bookkeeping); None on
        PostgreSQL."""
        if not self.sqlite:
            return None
        cursor = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            row = cursor.execute(f"PRAGMA {statement}").fetchone()
            return row[0] if row else None
        finally:
            cursor.close()

    def _pragmas(self) -> dict[str, Any]:
        """SQLite's page cache is 2 MB by default and an archive's dozen indexes are hundreds: with it every
        insert re-reads index pages (SQLITE_CACHE_KIB only bounds memory). SQLite checkpoints the WAL inside
        COMMIT once it holds 1000 pages (copying and syncing), after releasing the lock but before COMMIT
        returns: off, so the time to COMMIT's return is the time the lock was held. Returns what to restore
        (the connection goes back to the pool)."""
        if not self.sqlite:
            return {}
        restore = {name: self._pragma(name) for name in ("cache_size", "wal_autocheckpoint")}
        self._pragma(f"cache_size = -{SQLITE_CACHE_KIB}")
        self._pragma("wal_autocheckpoint = 0")
        return restore

    def close(self) -> None:
        try:
            if self.sqlite:
                if self.holds:
                    self._checkpoint()
                for name, value in self.restore.items():
                    self._pragma(f"{name} = {int(value)}")
        except Exception:  # the database failed under the import: the error being raised says more
            self.connection.invalidate()
        finally:
            self.connection.close()

    def chunks(self, total: int) -> Iterator[tuple[int, int]]:
        """(start, size) over `total` documents, the size read afresh for each chunk."""
        start = 0
        while start < total:
            size = min(self.size, total - start)
            yield start, size
            start += size

    def write(self, documents: list[dict[str, Any]], source: str, batch: Batch | None) -> None:
        """Plan and write one chunk; `batch`: the chunk is its batch's last, whose rows and rejections then
        count as committed too."""
        plan = self._plan_outside(documents, source)
        busy = self._others_wrote()
        self._leave_room(busy)
        try:
            stats, held = self._commit(documents, source, plan, batch)
        except Exception as error:
            if plan is None or not _is_integrity_error(error):
                raise
            # Another writer changed the archive in a way the stamp does not show (it does not take the
            # archive's lock): plan again under the lock.
            stats, held = self._commit(documents, source, None, batch)
        self.released = time.perf_counter()
        self.result.stats.add(stats)
        if batch is not None:
            self.result.rows_read += batch.rows_read
            self.result.problems += batch.problems
        self.holds.append(held)
        rate = len(documents) / max(held, 1e-3)  # ads per second while holding the lock
        wanted = min(max(int(rate * CHUNK_SECONDS), SMALLEST_CHUNK), LARGEST_CHUNK)
        self.size = max(int(0.5 * self.size + 0.5 * wanted), SMALLEST_CHUNK)
        if self.sqlite and (busy or self.released - self.checkpointed >= CHECKPOINT_SECONDS):
            self._checkpoint()

    def _others_wrote(self) -> bool:
        """Whether another connection committed in the last BUSY_LINGER seconds (SQLite)."""
        version, self.version = self.version, self._pragma("data_version")
        now = time.perf_counter()
        if version != self.version:
            self.others_seen = now
        return self.sqlite and now - self.others_seen < BUSY_LINGER

    def _leave_room(self, busy: bool) -> None:
        """Before taking the lock again, leave it free for as long as the last chunk held it if others write
        (share the lock evenly), else a fifth of that. Planning and checkpointing count."""
        if not self.sqlite or not self.holds:
            return  # PostgreSQL: the archive's lock blocks no other writer
        room = self.holds[-1] * (ROOM_BUSY if busy else ROOM_IDLE)
        wait = self.released + room - time.perf_counter()
        if wait > 0:
            time.sleep(wait)

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file, outside the write lock (a passive checkpoint blocks nobody)."""
        self._pragma("wal_checkpoint(PASSIVE)")
        self.checkpointed = time.perf_counter()

    def _plan_outside(self, documents: list[dict[str, Any]], source: str) -> Plan | None:
        with Session(bind=self.connection) as session, session.begin():  # reads only: no write lock
            archive = Archive(session, scorer=self.scorer, source=source, read_only=True)
            try:
                return archive.plan(documents, observed_at=self.observed_at)
            except NeedsWriteLock:  # a sponsor merge: planned under the lock instead
                return None

    def _commit(
        self, documents: list[dict[str, Any]], source: str, plan: Plan | None, batch: Batch | None
    ) -> tuple[IngestStats, float]:
        """Write the chunk in one transaction; returns its counts and how long it held the lock."""
        with Session(bind=self.connection) as session, session.begin():
            self._lock(session)
            locked = time.perf_counter()
            if plan is None or archive_stamp(session) != plan.stamp:
                plan = Archive(session, scorer=self.scorer, source=source).plan(documents, self.observed_at)
            write_plan(session, plan)
            _record_progress(session, self.result, plan.stats, batch)
        return plan.stats, time.perf_counter() - locked

    def _lock(self, session: Session) -> None:
        """lock_archive, on SQLite by polling every few ms instead of through SQLite's busy handler, whose
        sleeps grow to 100 ms: the hub's writers, queued one after the other, would leave it no gap that long.
        A bulk job waits longer than a request would (LOCK_WAIT_S)."""
        if not self.sqlite:
            lock_archive(session)
            return
        deadline = time.monotonic() + LOCK_WAIT_S
        self._pragma("busy_timeout = 0")
        try:
            while True:
                try:
                    lock_archive(session)
                    return
                except OperationalError as error:  # "database is locked": nothing done yet, so try again
                    if "locked" not in str(error.orig) or time.monotonic() > deadline:
                        raise
                    time.sleep(LOCK_POLL_S)
        finally:
            self._pragma(f"busy_timeout = {BUSY_TIMEOUT_S * 1000}")


def _is_integrity_error(error: BaseException) -> bool:
    """SQLAlchemy's IntegrityError, or the driver's own (bulk inserts use the driver's cursor directly)."""
    return isinstance(error, IntegrityError) or any(c.__name__ == "IntegrityError" for c in type(error).__mro__)


def _record_progress(session: Any, result: ImportResult, chunk: IngestStats, batch: Batch | None) -> None:
    """The run's counts as they will be once this chunk commits, in the chunk's own transaction."""
    if result.run_id is None:
        return
    done = result.stats
    rows_read, rejected = result.rows_read, result.rejected
    if batch is not None:
        rows_read, rejected = rows_read + batch.rows_read, rejected + len(batch.problems)
    session.execute(
        update(ImportRun)
        .where(ImportRun.id == result.run_id)
        .values(
            rows_read=rows_read,
            created=done.created + chunk.created,
            changed=done.changed + chunk.changed,
            unchanged=done.unchanged + chunk.unchanged,
            removed=done.removed + chunk.removed,
            rejected=rejected,
        )
    )


def _remove_missing(database: Database, platforms: list[str], started: datetime) -> int:
    """A snapshot's removals, a few hundred ads per short transaction."""
    with database.session() as session:
        ids = missing_ad_ids(session, platforms, started)
    removed = 0
    for i in range(0, len(ids), 500):
        with database.session() as session:
            removed += mark_missing_removed(session, platforms, started, started, ids[i : i + 500])
    return removed


def _batches(path: Path, source_format: str, batch_size: int) -> Iterator[Batch]:
    try:
        yield from read_batches(path, source_format, batch_size)
    except OSError as error:  # unreadable file (permissions, a directory, a truncated .gz)
        raise InputError(path, None, f"cannot read: {error.strerror or error}") from None


def _start_run(database: Database, source_format: str, paths: list[Path], started: datetime) -> int:
    with database.session() as session:
        run = ImportRun(
            started_at=started, source_format=source_format, files=[str(p) for p in paths], status="running"
        )
        session.add(run)
        session.flush()
        return run.id


def _finish_run(database: Database, result: ImportResult, status: str, error: str | None) -> None:
    with database.session() as session:
        run = session.get(ImportRun, result.run_id)
        if run is None:
            return
        run.rows_read = result.rows_read
        run.created = result.stats.created
        run.changed = result.stats.changed
        run.unchanged = result.stats.unchanged
        run.removed = result.stats.removed
        run.rejected = result.rejected
        run.problems = [p.as_dict() for p in result.problems[:10_000]]
        run.status = status
        run.finished_at = utcnow()
        run.error = error[:2000] if error else None


# After this many new rows the planner's statistics are refreshed at once rather than whenever
# autovacuum gets to it: search plans read the filter columns' statistics (how many ads per country).
ANALYZE_AFTER = 10_000


def refresh_statistics(database: Database) -> None:
    with database.session() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("PRAGMA analysis_limit = 10000"))  # a sample, as PostgreSQL takes
        session.execute(text("ANALYZE ads_ads"))
        session.execute(text("ANALYZE ads_delivery"))


SQLITE_CACHE_KIB = 262_144  # 256 MiB


def count_rows(path: Path) -> int:
    """A quick estimate of a file's rows for the progress bar (newlines; JSON pages count 'id' keys)."""
    try:
        with path.open("rb") as handle:
            data = handle.read()
    except OSError:  # the import itself names the file
        return 1
    if path.suffix.lower() == ".json":
        return max(data.count(b'"id"'), 1)
    return max(data.count(b"\n") - (0 if path.suffix.lower() == ".jsonl" else 1), 1)


def load_scorer(model_path: Path | None) -> Any:
    if model_path is None:
        return None
    from shieldwall.ads.classifier import PoliticalClassifier

    return PoliticalClassifier.load(model_path).scores
