"""The in-memory matcher: one immutable snapshot of the banks' signals with an index per signal type.

Exact signals (URL, domain, account, MD5, SHA-256) are dictionary lookups; PDQ goes through the shared
exact index (shieldwall.pdq: clusters of near-copies plus multi-index hashing); text goes through MinHash
with LSH banding (32 bands of 4) to find candidates, then the signature similarity decides. A snapshot is
rebuilt when a bank's revision changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np

from shieldwall.match.accounts import ANY_PLATFORM, account_lookup_keys
from shieldwall.match.signals import SignalType
from shieldwall.match.text import NUM_PERMUTATIONS, minhash
from shieldwall.match.video import VideoIndex
from shieldwall.match.warninglists import warned
from shieldwall.pdq import PdqIndex, hex_to_bytes

BANDS = 32
ROWS_PER_BAND = NUM_PERMUTATIONS // BANDS


@dataclass(frozen=True)
class BankInfo:
    id: int
    name: str
    pdq_threshold: int = 31
    text_threshold: float = 0.8
    negative: bool = False  # known-benign content: a hit here means the item matches nothing else
    warninglist: bool = True  # domain signals on the warninglists (warninglists.py) do not match


@dataclass
class SignalRows:
    """Columnar signal metadata; position i in every list is one signal."""

    ids: list[int] = field(default_factory=list)
    bank_ids: list[int] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    source_ids: list[str] = field(default_factory=list)
    tlps: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    on_hub: list[bool] = field(default_factory=list)

    def append(
        self, id: int, bank_id: int, type: str, value: str, source_id: str, tlp: int, name: str, on_hub: bool = False
    ) -> None:
        self.ids.append(id)
        self.bank_ids.append(bank_id)
        self.types.append(type)
        self.values.append(value)
        self.source_ids.append(source_id)
        self.tlps.append(tlp)
        self.names.append(name)
        self.on_hub.append(on_hub)

    def __len__(self) -> int:
        return len(self.ids)


class MatchHit(NamedTuple):
    """One matched signal (a NamedTuple: built on every hit of every lookup, so cheap to create)."""

    bank: str
    bank_id: int
    signal_id: int
    signal_type: str
    signal_value: str
    source_id: str
    tlp: int
    name: str
    how: str  # exact / near / domain / any-platform
    distance: float  # PDQ: differing bits; text: 1 - similarity; exact: 0
    on_hub: bool = False  # from this hub: its policy on source_id decides who sees the hit (see visibility.py)

    def as_dict(self) -> dict[str, Any]:
        from shieldwall.stix.tlp import TLP

        return {
            "bank": self.bank,
            "signal": {"id": self.signal_id, "type": self.signal_type, "value": self.signal_value, "name": self.name},
            "how": self.how,
            "distance": self.distance,
            "similarity": round(1 - self.distance, 4) if self.signal_type == SignalType.TEXT else None,
            "provenance": {"bank": self.bank, "source_id": self.source_id, "tlp": TLP(self.tlp).label},
        }


def _add(table: dict[str, list[int]], key: str, row: int) -> None:
    found = table.get(key)
    if found is None:
        table[key] = [row]
    else:
        found.append(row)


class Matcher:
    def __init__(self, banks: Iterable[BankInfo], rows: SignalRows, expires_at: datetime | None = None) -> None:
        self.banks = {b.id: b for b in banks}
        self.bank_names = {b.id: b.name for b in self.banks.values()}
        self.rows = rows
        self.expires_at = expires_at  # the earliest valid_until in the snapshot: rebuild after it
        self.exact: dict[str, dict[str, list[int]]] = {
            t: {} for t in (SignalType.URL, SignalType.DOMAIN, SignalType.ACCOUNT, SignalType.MD5, SignalType.SHA256)
        }
        self.by_handle: dict[str, list[int]] = {}
        pdq_rows: list[int] = []
        text_rows: list[int] = []
        video_rows: list[tuple[int, str]] = []
        self.warned = 0  # domain signals left out because they are warninglisted
        warn_banks = {b.id for b in self.banks.values() if b.warninglist}
        for row, (kind, value) in enumerate(zip(rows.types, rows.values, strict=True)):
            table = self.exact.get(kind)
            if kind == SignalType.DOMAIN and rows.bank_ids[row] in warn_banks and warned(value):
                self.warned += 1
                continue
            if table is not None:
                _add(table, value, row)
                if kind == SignalType.ACCOUNT:
                    _add(self.by_handle, value.partition(":")[2], row)
            elif kind == SignalType.PDQ:
                pdq_rows.append(row)
            elif kind == SignalType.TEXT:
                text_rows.append(row)
            elif kind == SignalType.VPDQ:
                video_rows.append((row, value))
        self._urls = self.exact[SignalType.URL]
        self._domains = self.exact[SignalType.DOMAIN]
        self._build_pdq(pdq_rows)
        self._build_text(text_rows)
        self.video = VideoIndex(video_rows)

    # -- PDQ ---------------------------------------------------------------------------------------------
    def _build_pdq(self, pdq_rows: list[int]) -> None:
        max_threshold = max((b.pdq_threshold for b in self.banks.values()), default=31)
        hexes = [self.rows.values[r] for r in pdq_rows]
        if not hexes:
            self.pdq_index = PdqIndex(np.empty((0, 32), dtype=np.uint8), max_threshold)
            self.pdq_rows = np.empty(0, dtype=np.int64)
            self.pdq_starts = np.zeros(1, dtype=np.int64)
            return
        # Identical hashes (the same image in several banks) share one index entry. Deduplicate the
        # 32-byte rows, not the hex strings: a 1M-string unicode array would take 256 MB.
        keys = np.ascontiguousarray(hex_to_bytes(hexes)).view(np.dtype((np.void, 32))).ravel()
        unique_keys, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
        unique = np.ascontiguousarray(unique_keys).view(np.uint8).reshape(-1, 32)
        self.pdq_index = PdqIndex(unique, max_threshold)
        order = np.argsort(inverse, kind="stable")
        self.pdq_rows = np.asarray(pdq_rows, dtype=np.int64)[order]
        self.pdq_starts = np.concatenate(([0], np.cumsum(np.bincount(inverse, minlength=len(unique)))))

    def match_pdq(self, hex_hash: str) -> list[MatchHit]:
        entries, distances = self.pdq_index.search(hex_to_bytes([hex_hash.lower()])[0])
        hits = []
        for entry, distance in zip(entries.tolist(), distances.tolist(), strict=True):
            for row in self.pdq_rows[self.pdq_starts[entry] : self.pdq_starts[entry + 1]].tolist():
                if distance <= self.banks[self.rows.bank_ids[row]].pdq_threshold:
                    hits.append(self._hit(row, "exact" if distance == 0 else "near", float(distance)))
        return hits

    def match_vpdq(self, canonical: str) -> list[MatchHit]:
        """Bank videos with at least 80% of the query's frames (video.py); distance: the share not found."""
        return [
            self._hit(hit.row, "video", round(1 - hit.query_percent / 100, 4)) for hit in self.video.match(canonical)
        ]

    # -- text --------------------------------------------------------------------------------------------
    def _build_text(self, text_rows: list[int]) -> None:
        self.text_rows = np.asarray(text_rows, dtype=np.int64)
        self.text_signatures = np.array([minhash(self.rows.values[r]) for r in text_rows], dtype=np.uint32).reshape(
            -1, NUM_PERMUTATIONS
        )
        self.text_bands: list[dict[bytes, list[int]]] = [{} for _ in range(BANDS)]
        for i, signature in enumerate(self.text_signatures):
            for band, key in enumerate(_band_keys(signature)):
                _add(self.text_bands[band], key, i)  # type: ignore[arg-type]

    def match_text(self, normalised: str) -> list[MatchHit]:
        if not len(self.text_rows):
            return []
        signature = minhash(normalised)
        candidates = sorted(
            {i for band, key in enumerate(_band_keys(signature)) for i in self.text_bands[band].get(key, ())}
        )
        if not candidates:
            return []
        similarities = (self.text_signatures[candidates] == signature).mean(axis=1)
        hits = []
        for i, sim in zip(candidates, similarities.tolist(), strict=True):
            row = int(self.text_rows[i])
            exact = self.rows.values[row] == normalised
            if exact or sim >= self.banks[self.rows.bank_ids[row]].text_threshold:
                hits.append(self._hit(row, "exact" if exact else "near", 0.0 if exact else round(1 - sim, 4)))
        return sorted(hits, key=lambda h: h.distance)

    # -- exact kinds -------------------------------------------------------------------------------------
    def match_url(self, canonical: str, host: str) -> list[MatchHit]:
        rows = self._urls.get(canonical)
        hits = [] if rows is None else [self._hit(r, "exact", 0.0) for r in rows]
        if self._domains:
            self._add_domain_hits(host, hits)
        return hits

    def match_domain(self, host: str) -> list[MatchHit]:
        hits: list[MatchHit] = []
        if self._domains:
            self._add_domain_hits(host, hits)
        return hits

    def _add_domain_hits(self, host: str, hits: list[MatchHit]) -> None:
        # The host and each parent domain, leaving out the bare top-level domain (never a bank entry).
        table = self._domains
        rows = table.get(host)
        if rows is not None:
            hits += [self._hit(r, "exact", 0.0) for r in rows]
        dot = host.find(".")
        last = host.rfind(".")
        while dot != -1 and dot != last:
            rows = table.get(host[dot + 1 :])
            if rows is not None:
                hits += [self._hit(r, "domain", 0.0) for r in rows]
            dot = host.find(".", dot + 1)

    def match_account(self, canonical: str) -> list[MatchHit]:
        table = self.exact[SignalType.ACCOUNT]
        platform, _, rest = canonical.partition(":")
        if platform == ANY_PLATFORM:
            return [self._hit(r, "exact", 0.0) for r in self.by_handle.get(rest, ())]
        exact, any_platform = account_lookup_keys(canonical)
        return [self._hit(r, "exact", 0.0) for r in table.get(exact, ())] + [
            self._hit(r, "any-platform", 0.0) for r in table.get(any_platform, ())
        ]

    def match_hash(self, kind: SignalType, value: str) -> list[MatchHit]:
        return [self._hit(r, "exact", 0.0) for r in self.exact[kind].get(value.lower(), ())]

    def _hit(self, row: int, how: str, distance: float) -> MatchHit:
        rows = self.rows
        bank_id = rows.bank_ids[row]
        return MatchHit(
            self.bank_names[bank_id],
            bank_id,
            rows.ids[row],
            rows.types[row],
            rows.values[row],
            rows.source_ids[row],
            rows.tlps[row],
            rows.names[row],
            how,
            distance,
            rows.on_hub[row],
        )

    def negative_names(self) -> set[str]:
        return {b.name for b in self.banks.values() if b.negative}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for kind in self.rows.types:
            out[kind] = out.get(kind, 0) + 1
        return out


def _band_keys(signature: np.ndarray) -> Sequence[bytes]:
    raw = signature.astype(np.uint32).tobytes()
    width = ROWS_PER_BAND * 4
    return [raw[i * width : (i + 1) * width] for i in range(BANDS)]
