"""Keep banks of this hub's collections fresh inside the server: a signal shared on the hub is matchable
within seconds, not at the next `bank sync --every`.

The exchange's new-object notice (what it calls after storing objects, also used for webhooks) pokes a
background thread that syncs every bank whose source is this hub, incrementally and in process (sync.py,
taxii.py). Polling every `SHIELDWALL_MATCH_HUB_SYNC_SECONDS` (default 30; 0: notices only; `off`: neither)
is the fallback for objects stored by another process. Pokes skip the manifest reconciliation (hidden or
deleted indicators already vanish from every answer at once, see visibility.py); polls run it every
`RECONCILE_EVERY` seconds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select

from shieldwall.store.db import Database

log = logging.getLogger(__name__)
RECONCILE_EVERY = 600.0
DEBOUNCE = 0.2  # gather a burst of notices into one sync


def poll_seconds() -> float | None:
    """The polling interval (0: notices only), or None when the sync is off."""
    raw = os.environ.get("SHIELDWALL_MATCH_HUB_SYNC_SECONDS", "30").strip()
    if raw.lower() == "off":
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise ValueError(f"SHIELDWALL_MATCH_HUB_SYNC_SECONDS={raw!r} is not a number of seconds") from None


def hub_banks(database: Database) -> list[str]:
    """Names of the banks whose TAXII source is one of this hub's collections."""
    from shieldwall.match.tables import Bank
    from shieldwall.match.taxii import hub_collection

    with database.session() as session:
        return [b.name for b in session.scalars(select(Bank).order_by(Bank.id)) if hub_collection(session, b)]


class HubSync:
    """One background thread; `poke()` asks for a sync soon, polling asks every `interval` seconds."""

    def __init__(self, database: Database, secret_key: str, interval: float) -> None:
        self.database = database
        self.secret_key = secret_key
        self.interval = interval
        self.rounds = 0  # completed syncs (tests and the bench wait on it)
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_reconcile = time.monotonic()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="match-hub-sync", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def poke(self) -> None:
        self._wanted.set()

    def _run(self) -> None:
        while not self._stopping:
            poked = self._wanted.wait(timeout=self.interval or None)
            if self._stopping:
                return
            if poked:
                time.sleep(DEBOUNCE)
            self._wanted.clear()
            due = not poked and time.monotonic() - self._last_reconcile >= RECONCILE_EVERY
            self.sync_once(reconcile=due)
            if due:
                self._last_reconcile = time.monotonic()

    def sync_once(self, *, reconcile: bool = False) -> None:
        from shieldwall.match.sync import sync_bank

        try:
            names = hub_banks(self.database)
        except Exception:  # a database hiccup must not end the thread: the next round tries again
            log.exception("match hub sync: cannot list banks")
            return
        for name in names:
            try:
                sync_bank(self.database, name, secret_key=self.secret_key, reconcile=reconcile)
            except Exception as error:  # one bank's failure (its owner left...) does not stop the others
                log.warning("match hub sync: bank %r: %s", name, error)
        self.rounds += 1


class NoticeHook:
    """The exchange's new-object notifier, which also pokes the hub sync; every other attribute (its `wait`,
    its settings) is the notifier's own."""

    def __init__(self, inner: Callable[[Sequence[int]], Any] | None, on_notice: Callable[[], None]) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_on_notice", on_notice)

    def __call__(self, pks: Sequence[int]) -> None:
        if self._inner is not None:
            self._inner(pks)
        self._on_notice()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)


def install(app: Any) -> None:
    """Chain onto the exchange's notice and run the sync thread while the app serves."""
    interval = poll_seconds()
    if interval is None:
        return
    syncer = HubSync(app.state.database, app.state.settings.secret_key, interval)
    app.state.match_hub_sync = syncer
    app.state.notify_new_objects = NoticeHook(getattr(app.state, "notify_new_objects", None), syncer.poke)
    app.router.on_startup.append(syncer.start)  # the thread runs only while the app serves
    app.router.on_shutdown.append(syncer.stop)
