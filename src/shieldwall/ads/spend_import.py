"""`ads import` of spend reports (Meta Ad Library Report, Google's advertiser, weekly and geographic
spend files): files -> figures -> `ads_reported_spend`, each row's page or advertiser resolved to the
same sponsor entity its ads have.

A report is a snapshot of its scope (report, country, period): rows are written in short batches with
`current` false, and one last statement per file replaces the scope's previous snapshot with them. A run
that dies midway leaves the previous snapshot showing; its staged rows are cleared by the next import
of that scope. The run is on record in `ads_import_runs` from its start, like an ad import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, update

from shieldwall.ads.archive import lock_archive
from shieldwall.ads.bulk import bulk_insert
from shieldwall.ads.importers.base import Batch, Problem
from shieldwall.ads.importers.figures import ReportOptions, options_from_name
from shieldwall.ads.sponsors import SponsorResolver
from shieldwall.ads.tables import ImportRun, ReportedSpend, reported_table
from shieldwall.inputfiles import InputError, require_file
from shieldwall.store.base import utcnow
from shieldwall.store.db import Database

Progress = Callable[[str, int], None]


@dataclass
class FileSummary:
    path: str
    report: str
    rows: int = 0
    figures: int = 0
    no_disclaimer: int = 0
    replaced: int = 0
    countries: set[str] = field(default_factory=set)
    currencies: set[str] = field(default_factory=set)
    period: str = ""

    def line(self) -> str:
        where = ", ".join(sorted(self.countries)) or "all countries"
        money = ", ".join(sorted(self.currencies)) or "no currency"
        text = (
            f"{self.path}: {self.report}: {where}; {money}; {self.period or self._no_period()}: "
            f"{self.rows:,} rows, {self.figures:,} spend figures"
        )
        if self.report == "meta-report":
            text += f", {self.no_disclaimer:,} pages without a disclaimer"
        if self.replaced:
            text += f" (replacing {self.replaced:,} figures of an earlier import of the same report)"
        return text


    def _no_period(self) -> str:
        return "period not stated (--period START..END names it)" if self.report == "meta-report" else "all time"


@dataclass
class SpendImportResult:
    files: list[FileSummary] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    run_id: int | None = None

    @property
    def rows_read(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def rejected(self) -> int:
        return len(self.problems)

    @property
    def figures(self) -> int:
        return sum(f.figures for f in self.files)

    def summary(self) -> str:
        return f"{self.rows_read:,} rows read: {self.figures:,} spend figures stored, {self.rejected} rows rejected"


def read_figures(path: Path, report: str, options: ReportOptions, batch_size: int) -> Iterator[Batch]:
    if report == "meta-report":
        from shieldwall.ads.importers.meta_report import read_meta_report

        return read_meta_report(path, batch_size, options)
    from shieldwall.ads.importers.google_spend import read_google_spend

    return read_google_spend(path, batch_size, report)


def import_spend_files(
    database: Database,
    paths: list[Path],
    report: str,
    options: ReportOptions | None = None,
    *,
    progress: Progress | None = None,
    batch_size: int = 2_000,
) -> SpendImportResult:
    """Import every file as `report`. Raises ValueError (InputError) naming a file that cannot be read at
    all; the files before it stay imported and the run is marked failed."""
    result = SpendImportResult()
    result.run_id = _start_run(database, report, paths)
    try:
        for path in paths:
            result.files.append(
                _import_file(database, path, report, options or ReportOptions(), result, progress, batch_size)
            )
    except BaseException as error:
        with contextlib.suppress(Exception):
            _discard_staged(database, result.run_id)
            _finish_run(database, result, "failed", str(error) or type(error).__name__)
        raise
    _finish_run(database, result, "finished", None)
    return result


def _import_file(
    database: Database,
    path: Path,
    report: str,
    given: ReportOptions,
    result: SpendImportResult,
    progress: Progress | None,
    batch_size: int,
) -> FileSummary:
    require_file(path)
    options = options_from_name(path, given)
    summary = FileSummary(str(path), report)
    scopes: set[str] = set()
    try:
        batches = read_figures(path, report, options, batch_size)
        for batch in batches:
            with database.session() as session:
                # Sponsors are shared with ad imports: their writers' lock first (a short batch holds it).
                lock_archive(session)
                rows = _rows(session, batch, result.run_id or 0)
                bulk_insert(session, reported_table, rows)
            summary.rows += batch.rows_read
            summary.figures += len(rows)
            summary.no_disclaimer += sum(1 for r in rows if r["no_disclaimer"])
            summary.countries |= {r["country"] for r in rows if r["country"]}
            summary.currencies |= {r["currency"] for r in rows if r["currency"]}
            scopes |= {r["scope"] for r in rows}
            result.problems += batch.problems
            if progress is not None:
                progress(str(path), batch.rows_read)
    except OSError as error:
        raise InputError(path, None, f"cannot read: {error.strerror or error}") from None
    if summary.figures == 0:
        raise InputError(
            path, None, "no records: nothing to import" if summary.rows == 0 else "no row could be imported"
        )
    if options.period_start is not None:
        summary.period = f"{options.period_start}..{options.period_end}"
    elif report == "google-weekly":
        summary.period = "weekly"
    summary.replaced = _publish(database, scopes, result.run_id or 0)
    return summary


def _rows(session: Any, batch: Batch, run_id: int) -> list[dict[str, Any]]:
    """Table rows for a batch's figures, each page or advertiser (and Meta's disclaimer) as a sponsor."""
    resolver = SponsorResolver(session)
    ids = [_account_ids(f) for f in batch.documents]
    resolver.prefetch(
        [(f["name"], i) for f, i in zip(batch.documents, ids, strict=True)]
        + [(f["disclaimer"], {}) for f in batch.documents]
    )
    rows = []
    for line, found, account_ids in zip(batch.lines, batch.documents, ids, strict=True):
        sponsor = resolver.resolve(found["name"], account_ids, found["country"])
        payer = resolver.resolve(found["disclaimer"], {}, found["country"]) if found["disclaimer"] else None
        spend = found["spend"]
        rows.append(
            {
                "report": found["report"],
                "platform": found["platform"],
                "scope": found["scope"][:200],
                "current": False,
                "import_run_id": run_id,
                "line": line,
                "account_id": found["account_id"],
                "name": found["name"],
                "disclaimer": found["disclaimer"],
                "no_disclaimer": found["no_disclaimer"],
                "sponsor_id": sponsor,
                "payer_sponsor_id": payer,
                "country": found["country"],
                "region": found["region"],
                "district": found["district"],
                "period_start": found["period_start"],
                "period_end": found["period_end"],
                "currency": found["currency"],
                "spend_lower": spend[0],
                "spend_upper": spend[1],
                "ads_count": found["ads_count"],
                "elections": found["elections"],
                "extra": found["extra"],
            }
        )
    if resolver.merged:  # a merge during this batch: rows built before it name the merged-away sponsor
        for row in rows:
            row["sponsor_id"] = resolver.canonical(row["sponsor_id"])
            row["payer_sponsor_id"] = resolver.canonical(row["payer_sponsor_id"])
    resolver.write_pending()
    return rows


def _account_ids(found: dict[str, Any]) -> dict[str, str]:
    """The platform's id of the page or advertiser, as the ad importers record it for the same sponsor."""
    if not found["account_id"]:
        return {}
    return {"meta_page" if found["platform"] == "meta" else "google_advertiser": found["account_id"]}


def _publish(database: Database, scopes: set[str], run_id: int) -> int:
    """Replace each scope's previous snapshot (and rows staged by runs that died) with this run's rows."""
    replaced = 0
    with database.session() as session:
        for scope in sorted(scopes):
            gone = session.execute(
                delete(ReportedSpend).where(
                    ReportedSpend.scope == scope,
                    or_(ReportedSpend.current.is_(True), ReportedSpend.import_run_id != run_id),
                )
            )
            replaced += gone.rowcount or 0  # type: ignore[attr-defined]
            session.execute(
                update(ReportedSpend)
                .where(ReportedSpend.scope == scope, ReportedSpend.import_run_id == run_id)
                .values(current=True)
            )
    return replaced


def _discard_staged(database: Database, run_id: int | None) -> None:
    with database.session() as session:
        session.execute(
            delete(ReportedSpend).where(ReportedSpend.import_run_id == run_id, ReportedSpend.current.is_(False))
        )


def _start_run(database: Database, report: str, paths: list[Path]) -> int:
    with database.session() as session:
        run = ImportRun(started_at=utcnow(), source_format=report, files=[str(p) for p in paths], status="running")
        session.add(run)
        session.flush()
        return run.id


def _finish_run(database: Database, result: SpendImportResult, status: str, error: str | None) -> None:
    with database.session() as session:
        run = session.get(ImportRun, result.run_id)
        if run is None:
            return
        run.rows_read = result.rows_read
        run.created = result.figures
        run.removed = sum(f.replaced for f in result.files)
        run.rejected = result.rejected
        run.problems = [p.as_dict() for p in result.problems[:10_000]]
        run.status = status
        run.finished_at = utcnow()
        run.error = error[:2000] if error else None
