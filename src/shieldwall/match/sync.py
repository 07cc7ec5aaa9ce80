"""Fill a bank from its TAXII 2.1 collection: incremental (`added_after` the saved cursor), resumable
(the cursor is saved with each page's changes in one transaction), and in step with removals (revoked
versions arrive as new versions; deleted or unshared indicators vanish from the manifest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import Collection as ExchangeCollection
from shieldwall.match.banks import (
    ImportReport,
    apply_indicators,
    bank_for,
    get_bank,
    purge_expired,
    remove_sources_not_in,
)
from shieldwall.match.stix_signals import indicators_in
from shieldwall.match.taxii import TaxiiError, open_collection
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


def is_this_hub(session: Session, collection_url: str) -> bool:
    """Whether the collection is one of this hub's own (its id is a collection of this exchange). Its signals
    are then shown under the hub's policy; anything else stays with the bank's owner (see visibility.py).
    A server that copied our collection id gains nothing: an id this hub does not hold hides the signal."""
    collection_id = collection_url.rstrip("/").rsplit("/", 1)[-1]
    return session.get(ExchangeCollection, collection_id) is not None


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
) -> SyncReport:
    """`principal`: who asks (only the bank's organisation's writers may sync it); None: the console."""
    with database.session() as session:
        bank = bank_for(session, principal, bank_name, change=True)
        cursor = "" if full else bank.taxii_cursor
        session.expunge(bank)
    from taxii2client.v21 import as_pages

    collection, recorder = open_collection(bank, secret_key, token)
    with database.session() as session:
        on_hub = is_this_hub(session, collection.url)
    total = ImportReport()
    pages = 0
    filters = {"type": "indicator", **({"added_after": cursor} if cursor else {})}
    try:
        for envelope in as_pages(collection.get_objects, per_request=page_size, **filters):
            indicators, _ = indicators_in(envelope if isinstance(envelope, dict) else {})
            with database.session() as session:
                live = get_bank(session, bank_name)
                total.merge(apply_indicators(session, live, indicators, default_tlp=default_tlp, on_hub=on_hub))
                if recorder.last:
                    live.taxii_cursor = recorder.last
                live.last_synced_at = utcnow()
            pages += 1
            if on_page:
                on_page(pages, len(indicators))
        removed_missing = 0
        # Read the manifest before writing: on SQLite an open write transaction would block the server's
        # own writes (its read audit) for as long as the manifest takes when the server is this hub.
        present = (
            {
                str(item["id"])
                for page in as_pages(collection.get_manifest, per_request=page_size, type="indicator")
                for item in (page.get("objects") or [])
            }
            if reconcile
            else None
        )
        with database.session() as session:
            live = get_bank(session, bank_name)
            total.removed += purge_expired(session, live)
            if present is not None:
                removed_missing = remove_sources_not_in(session, live, present)
            cursor = live.taxii_cursor
    except TaxiiError:
        raise
    except Exception as error:  # network and HTTP errors from requests/taxii2client
        raise TaxiiError(f"sync of bank {bank_name!r} stopped after {pages} pages: {error}") from error
    finally:
        collection.close()
    return SyncReport(bank_name, pages, cursor, total, removed_missing)
