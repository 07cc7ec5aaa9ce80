"""Changes to the ad archive and the audit trail each one leaves (who, what file, what it did).

The archive is evidence: an import is recorded before it starts (so even one that dies midway is on
record) and again with its outcome. Over HTTP only ad-library editors may import (see ads.api).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shieldwall.ads.archive import Scorer
from shieldwall.ads.importers.figures import ReportOptions
from shieldwall.ads.importing import ImportResult, Progress, import_files
from shieldwall.ads.spend_import import SpendImportResult, import_spend_files
from shieldwall.exchange.audit import record
from shieldwall.exchange.policy import Principal
from shieldwall.store.db import Database

# The command line speaks for whoever runs it on the hub's machine: no member, no organisation.
CONSOLE = Principal()


def _record(database: Database, principal: Principal, action: str, target: str, detail: dict[str, Any]) -> None:
    with database.session() as session:
        record(session, principal, action, target=target, detail=detail)


def audited_import(
    database: Database,
    principal: Principal,
    paths: list[Path],
    source_format: str,
    *,
    scorer: Scorer | None = None,
    snapshot: bool = False,
    progress: Progress | None = None,
    source: dict[str, Any] | None = None,
    shown_as: dict[str, str] | None = None,
) -> ImportResult:
    """import_files, audited. `shown_as` replaces file paths in what is recorded and raised (an upload's
    temporary path means nothing to its sender)."""

    def shown(text: str) -> str:
        for path, name in (shown_as or {}).items():
            text = text.replace(path, name)
        return text

    files = [shown(str(p)) for p in paths]
    intent = {"format": source_format, "snapshot": snapshot, "files": files, **(source or {})}
    _record(database, principal, "ads:import", ", ".join(files), intent)
    try:
        result = import_files(database, paths, source_format, scorer=scorer, snapshot=snapshot, progress=progress)
    except Exception as error:
        message = shown(str(error))
        _record(database, principal, "ads:import-failed", ", ".join(files), {**intent, "error": message[:500]})
        if isinstance(error, ValueError):
            raise ValueError(message) from None
        raise
    outcome = {
        "import_run": result.run_id,
        "rows_read": result.rows_read,
        "created": result.stats.created,
        "changed": result.stats.changed,
        "unchanged": result.stats.unchanged,
        "removed": result.stats.removed,
        "rejected": result.rejected,
    }
    _record(database, principal, "ads:import-done", ", ".join(files), {**intent, **outcome})
    return result


def audited_spend_import(
    database: Database,
    principal: Principal,
    paths: list[Path],
    report: str,
    options: ReportOptions | None = None,
    *,
    progress: Progress | None = None,
    source: dict[str, Any] | None = None,
    shown_as: dict[str, str] | None = None,
) -> SpendImportResult:
    """import_spend_files, audited like an ad import (before it starts, then its outcome or error)."""

    def shown(text: str) -> str:
        for path, name in (shown_as or {}).items():
            text = text.replace(path, name)
        return text

    files = [shown(str(p)) for p in paths]
    given = options or ReportOptions()
    intent = {
        "format": report,
        "files": files,
        "country": given.country,
        "period": f"{given.period_start}..{given.period_end}" if given.period_start else None,
        **(source or {}),
    }
    _record(database, principal, "ads:import", ", ".join(files), intent)
    try:
        result = import_spend_files(database, paths, report, given, progress=progress)
    except Exception as error:
        message = shown(str(error))
        _record(database, principal, "ads:import-failed", ", ".join(files), {**intent, "error": message[:500]})
        if isinstance(error, ValueError):
            raise ValueError(message) from None
        raise
    outcome = {
        "import_run": result.run_id,
        "rows_read": result.rows_read,
        "figures": result.figures,
        "no_disclaimer": sum(f.no_disclaimer for f in result.files),
        "replaced": sum(f.replaced for f in result.files),
        "rejected": result.rejected,
    }
    _record(database, principal, "ads:import-done", ", ".join(files), {**intent, **outcome})
    return result
