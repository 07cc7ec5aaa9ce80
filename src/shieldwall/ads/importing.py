"""`ads import`: files -> batches -> archive, one transaction per batch, every rejected row reported."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from shieldwall.ads.archive import Archive, IngestStats, Scorer, mark_missing_removed
from shieldwall.ads.importers import read_batches
from shieldwall.ads.importers.base import Batch, Problem
from shieldwall.ads.tables import ImportRun
from shieldwall.inputfiles import InputError
from shieldwall.store.base import utcnow
from shieldwall.store.db import Database

Progress = Callable[[str, int], None]  # (file, rows just handled)


@dataclass
class ImportResult:
    rows_read: int = 0
    stats: IngestStats = field(default_factory=IngestStats)
    problems: list[Problem] = field(default_factory=list)
    run_id: int | None = None

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
    """Import every file. A batch is committed whole or not at all; a file that cannot be read at all
    raises ValueError naming it (batches of earlier files stay committed, and are reported).

    The run is on record in `ads_import_runs` before the first row (its own committed transaction) and
    marked finished or failed at the end, so a run killed midway shows as one that never finished."""
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
    for path in paths:
        if not path.is_file():
            raise InputError(path, None, "no such file")
        rows_before = result.rows_read
        for batch in _batches(path, source_format, batch_size):
            with database.session() as session:
                _large_sqlite_cache(session)
                archive = Archive(session, scorer=scorer, source=f"{source_format}:{path.name}")
                stats = archive.ingest(batch.documents, observed_at=started)
            platforms |= {d["platform"] for d in batch.documents}
            result.rows_read += batch.rows_read
            result.stats.add(stats)
            result.problems += batch.problems
            if progress is not None:
                progress(str(path), batch.rows_read)
        if result.rows_read == rows_before:  # an empty file would also make a --snapshot remove every ad
            raise InputError(path, None, "no records: nothing to import")
    if result.stats.created + result.stats.changed >= ANALYZE_AFTER:
        refresh_statistics(database)
    if snapshot and platforms:
        with database.session() as session:
            result.stats.removed += mark_missing_removed(session, sorted(platforms), started, started)


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


def _large_sqlite_cache(session: Any) -> None:
    """SQLite's default page cache is 2 MB; an archive's dozen indexes are hundreds. With the default
    every insert re-reads index pages from the OS and a million-ad import slows down as it grows.
    The setting is per connection and only bounds memory: pages are cached as they are touched."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}"))


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
