"""Fill a bank from its TAXII 2.1 collection: incremental (`added_after` the saved cursor), resumable
(the cursor is saved with each page's changes in one transaction), and in step with removals (revoked
versions arrive as new versions; deleted or unshared indicators vanish from the manifest).

A collection of this hub is read in process as the bank's owner; another server's over HTTP through the
exchange's outbound checks (taxii.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shieldwall.exchange.outbound import Allowlist
from shieldwall.exchange.policy import Principal
from shieldwall.match.banks import (
    ImportReport,
    apply_indicators,
    bank_for,
    get_bank,
    purge_expired,
    remove_sources_not_in,
)
from shieldwall.match.stix_signals import indicators_in
from shieldwall.match.taxii import TaxiiError, open_source
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow
from shieldwall.store.db import Database

PAGE_SIZE = 500


@dataclass
class SyncReport:
    bank: str
    pages: int
    cursor: str
    report: ImportReport
    removed_missing: int = 0

    def summary(self) -> str:
        return (
            f"bank {self.bank}: {self.pages} pages, {self.report.summary()}, "
            f"{self.removed_missing} no longer in the collection; cursor {self.cursor or '(none)'}"
        )


def sync_bank(
    database: Database,
    bank_name: str,
    *,
    secret_key: str,
    token: str | None = None,
    full: bool = False,
    reconcile: bool = True,
    default_tlp: TLP = TLP.AMBER,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int, int], None] | None = None,
    principal: Principal | None = None,
    allow: Allowlist | None = None,
) -> SyncReport:
    """`principal`: who asks (only the bank's organisation's writers may sync it); None: the console.
    `allow`: the operator's outbound allowlist (`webhook_allow`) for a source on another server."""
    with database.session() as session:
        bank = bank_for(session, principal, bank_name, change=True)
        cursor = "" if full else bank.taxii_cursor
        session.expunge(bank)
    source = open_source(database, bank, secret_key, token=token, allow=allow)
    total = ImportReport()
    pages = 0
    try:
        for indicators_page, page_cursor in source.pages(cursor, page_size):
            indicators, _ = indicators_in({"objects": indicators_page})
            with database.session() as session:
                live = get_bank(session, bank_name)
                total.merge(apply_indicators(session, live, indicators, default_tlp=default_tlp, on_hub=source.on_hub))
                if page_cursor:
                    live.taxii_cursor = page_cursor
                live.last_synced_at = utcnow()
            pages += 1
            if on_page:
                on_page(pages, len(indicators))
        removed_missing = 0
        # Read the manifest before writing: on SQLite an open write transaction would block the hub's own
        # writes (its read audit) for as long as the manifest takes.
        present = source.present_ids(page_size) if reconcile else None
        with database.session() as session:
            live = get_bank(session, bank_name)
            live.last_synced_at = utcnow()
            total.removed += purge_expired(session, live)
            if present is not None:
                removed_missing = remove_sources_not_in(session, live, present)
            cursor = live.taxii_cursor
    except TaxiiError as error:
        raise TaxiiError(f"sync of bank {bank_name!r} stopped after {pages} pages: {error}") from None
    finally:
        source.close()
    return SyncReport(bank_name, pages, cursor, total, removed_missing)
