"""Matching items against the banks: turn raw input into signals, ask the matcher, report per item.

One bad item never fails a batch: each item gets either its matches or a clear error of its own.
The matcher snapshot is cached per database and rebuilt only when a bank's revision changes or a
signal in it expires.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from shieldwall.match.accounts import AccountError, canonical_account
from shieldwall.match.errors import ItemError
from shieldwall.match.files import DEFAULT_MAX_FILE_BYTES, hash_file
from shieldwall.match.matcher import BankInfo, Matcher, MatchHit, SignalRows
from shieldwall.match.signals import Signal, SignalType
from shieldwall.match.stix_signals import PatternError, checked_hash
from shieldwall.match.tables import Bank, BankSignal, HeldSignal
from shieldwall.match.text import TextError, normalise_text
from shieldwall.match.urls import UrlError, canonical_domain, split_url
from shieldwall.match.video import canonical_vpdq, frames_of
from shieldwall.store.base import utcnow
from shieldwall.store.db import Database

ITEM_KINDS = ("url", "domain", "account", "text", "pdq", "md5", "sha256", "vpdq")


@dataclass
class ItemResult:
    item: str  # what the caller gave: a file name, a URL, an account, a text (shortened)
    kind: str
    value: str = ""  # canonical value or hash that was matched
    matches: list[MatchHit] = field(default_factory=list)
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "kind": self.kind,
            "value": self.value,
            "ok": self.error is None,
            "error": self.error,
            "detail": self.detail,
            "matches": [m.as_dict() for m in self.matches],
        }


def load_matcher(session: Session, now: datetime | None = None) -> Matcher:
    now = now or utcnow()
    banks = [
        BankInfo(b.id, b.name, b.pdq_threshold, b.text_threshold, b.negative, b.warninglist)
        for b in session.scalars(select(Bank).order_by(Bank.id))
    ]
    rows = SignalRows()
    live = or_(BankSignal.valid_until.is_(None), BankSignal.valid_until > now)
    # Signals held for review after a flood match nothing until an analyst releases them.
    held = exists(
        select(HeldSignal.id).where(
            HeldSignal.bank_id == BankSignal.bank_id,
            HeldSignal.signal_type == BankSignal.signal_type,
            HeldSignal.value_hash == BankSignal.value_hash,
            HeldSignal.status == "held",
        )
    )
    query = select(
        BankSignal.id,
        BankSignal.bank_id,
        BankSignal.signal_type,
        BankSignal.value,
        BankSignal.source_id,
        BankSignal.tlp,
        BankSignal.name,
        BankSignal.on_hub,
    ).where(live, ~held)
    for row in session.execute(query.execution_options(yield_per=10_000)):
        rows.append(*row)
    expires = session.scalar(select(func.min(BankSignal.valid_until)).where(BankSignal.valid_until > now))
    return Matcher(banks, rows, expires)


class MatcherCache:
    """One matcher per database, rebuilt when (bank id, revision) pairs change or a signal expires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[tuple[tuple[int, int], ...], Matcher]] = {}

    def get(self, database: Database) -> Matcher:
        with database.session() as session:
            key = tuple(session.execute(select(Bank.id, Bank.revision).order_by(Bank.id)).tuples().all())
            with self._lock:
                entry = self._entries.get(database.url)
                fresh = entry is not None and entry[0] == key
                if fresh and entry is not None and (entry[1].expires_at is None or entry[1].expires_at > utcnow()):
                    return entry[1]
                matcher = load_matcher(session)
                self._entries[database.url] = (key, matcher)
                return matcher

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


matchers = MatcherCache()


def _short(text: str, width: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


MAX_TEXT_CHARS = 100_000  # a long article; posts are far shorter


def match_value(matcher: Matcher, kind: str, raw: str) -> ItemResult:
    """Match one non-file item; errors in the item become the result's error."""
    result = ItemResult(item=_short(raw), kind=kind)
    try:
        if kind == "url":
            result.value, host = split_url(raw)
            result.matches = matcher.match_url(result.value, host)
        elif kind == "domain":
            result.value = canonical_domain(raw)
            result.matches = matcher.match_domain(result.value)
        elif kind == "account":
            result.value = canonical_account(raw)
            result.matches = matcher.match_account(result.value)
        elif kind == "text":
            if len(raw) > MAX_TEXT_CHARS:  # normalising can multiply a text's length by 18 (NFKC)
                raise ItemError(raw, f"a text is matched up to {MAX_TEXT_CHARS:,} characters (this has {len(raw):,})")
            result.value = normalise_text(raw)
            result.matches = matcher.match_text(result.value)
        elif kind == "pdq":
            result.value = checked_hash(SignalType.PDQ, raw)
            result.matches = matcher.match_pdq(result.value)
        elif kind in ("md5", "sha256"):
            result.value = checked_hash(SignalType(kind), raw)
            result.matches = matcher.match_hash(SignalType(kind), result.value)
        elif kind == "vpdq":
            result.value = canonical_vpdq(raw)
            result.detail = {"frames": len(frames_of(result.value))}
            result.matches = matcher.match_vpdq(result.value)
        else:
            raise ItemError(raw, f"unknown item kind {kind!r}; use one of {', '.join(ITEM_KINDS)} or a file")
    except ItemError as error:
        result.error = error.message
    except (UrlError, AccountError, TextError, PatternError, ValueError) as error:
        result.error = str(error)
    return result


def signal_from_value(kind: str, raw: str) -> Signal:
    """A bank signal from a value typed by hand, canonicalised like the matcher's queries."""
    if kind == "url":
        return Signal(SignalType.URL, split_url(raw)[0])
    if kind == "domain":
        return Signal(SignalType.DOMAIN, canonical_domain(raw))
    if kind == "account":
        return Signal(SignalType.ACCOUNT, canonical_account(raw))
    if kind == "text":
        return Signal(SignalType.TEXT, normalise_text(raw))
    if kind in ("pdq", "md5", "sha256"):
        return Signal(SignalType(kind), checked_hash(SignalType(kind), raw))
    if kind == "vpdq":
        return Signal(SignalType.VPDQ, canonical_vpdq(raw))
    raise ValueError(f"unknown signal type {kind!r}; use one of {', '.join(ITEM_KINDS)}")


def match_file(matcher: Matcher, name: str, data: bytes, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> ItemResult:
    result = ItemResult(item=name, kind="file")
    try:
        hashed = hash_file(name, data, max_bytes)
    except ItemError as error:
        result.error = error.message
        return result
    result.detail = {"type": hashed.kind, "bytes": hashed.size, **{k.value: v for k, v in hashed.hashes.items()}}
    if hashed.quality is not None:
        result.detail["pdq_quality"] = hashed.quality
    if hashed.note:
        result.detail["note"] = hashed.note
    hits: list[MatchHit] = []
    for kind in (SignalType.SHA256, SignalType.MD5):
        hits += matcher.match_hash(kind, hashed.hashes[kind])
    if SignalType.PDQ in hashed.hashes:
        result.value = hashed.hashes[SignalType.PDQ]
        hits += matcher.match_pdq(result.value)
    elif SignalType.VPDQ in hashed.hashes:
        result.value = hashed.hashes[SignalType.VPDQ]
        result.detail["vpdq_frames"] = len(frames_of(result.value))
        hits += matcher.match_vpdq(result.value)
    else:
        result.value = hashed.hashes[SignalType.SHA256]
    if hashed.text is not None:
        # An all-punctuation text file still gets its exact hashes matched.
        with contextlib.suppress(TextError):
            hits += matcher.match_text(normalise_text(hashed.text))
    result.matches = _unique_nearest_first(hits)
    return result


def _unique_nearest_first(hits: list[MatchHit]) -> list[MatchHit]:
    best: dict[int, MatchHit] = {}
    for hit in sorted(hits, key=lambda h: h.distance):
        best.setdefault(hit.signal_id, hit)
    return list(best.values())


def drop_benign(matcher: Matcher, results: list[ItemResult]) -> None:
    """An item that matches a negative bank (known-benign content) matches nothing else. Run after the
    visibility filter: only negative signals the caller may see decide, so nothing hidden shows through."""
    for result in results:
        benign = sorted({h.bank for h in result.matches if matcher.banks[h.bank_id].negative})
        if benign:
            result.matches = []
            result.detail["benign"] = benign


def restrict(results: list[ItemResult], *, banks: set[str] | None) -> list[ItemResult]:
    """Keep only matches from the chosen banks (who may see each match: visibility.keep_visible)."""
    if banks is not None:
        for result in results:
            result.matches = [m for m in result.matches if m.bank in banks]
    return results
