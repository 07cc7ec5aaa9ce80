"""The in-memory matcher: one immutable snapshot of the banks' signals with an index per signal type.

Exact signals (URL, domain, account, MD5, SHA-256) are dictionary lookups; PDQ goes through the shared
exact index (shieldwall.pdq: clusters of near-copies plus multi-index hashing); text goes through MinHash
with LSH banding (32 bands of 4) to find candidates, then the signature similarity decides. A snapshot is
rebuilt when a bank's revision changes; a few signals added or removed can instead be applied to it in place
(`apply_changes`): PDQ hashes added since the build sit in a small index scanned beside the main one (merged
into a new main index when it grows), removed signals are left out of every answer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
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
PDQ_MERGE_AT = 4096  # PDQ hashes added since the build are scanned whole up to this many, then merged


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


class _Pdq(NamedTuple):
    """The PDQ side of a snapshot, swapped as one reference when signals are added or removed."""

    main: PdqIndex  # over the distinct hashes of the rows below
    rows: np.ndarray  # signal rows of entry e: rows[starts[e]:starts[e + 1]]
    starts: np.ndarray
    added_rows: np.ndarray  # signal rows added since the index was built, one per entry of added_index
    added_index: PdqIndex
    removed_before: int  # how many rows were removed when it was built (later removals are dead entries)


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
        self.removed: frozenset[int] = frozenset()  # rows of signals removed since the build: never a hit
        self._ids: tuple[np.ndarray, np.ndarray, int] | None = None  # see _rows_of
        pdq_rows: list[int] = []
        text_rows: list[int] = []
        self._video_rows: list[tuple[int, str]] = []
        self.warned = 0  # domain signals left out because they are warninglisted
        self._warn_banks = {b.id for b in self.banks.values() if b.warninglist}
        for row, (kind, value) in enumerate(zip(rows.types, rows.values, strict=True)):
            self._index_row(row, kind, value, pdq_rows, text_rows)
        self._urls = self.exact[SignalType.URL]
        self._domains = self.exact[SignalType.DOMAIN]
        self._pdq = self._build_pdq(pdq_rows)
        self._build_text(text_rows)
        self.video = VideoIndex(self._video_rows)

    def _index_row(self, row: int, kind: str, value: str, pdq_rows: list[int], text_rows: list[int]) -> None:
        """Enter one signal in the dictionaries, or in the list of its kind's index."""
        table = self.exact.get(kind)
        if kind == SignalType.DOMAIN and self.rows.bank_ids[row] in self._warn_banks and warned(value):
            self.warned += 1
            return
        if table is not None:
            _add(table, value, row)
            if kind == SignalType.ACCOUNT:
                _add(self.by_handle, value.partition(":")[2], row)
        elif kind == SignalType.PDQ:
            pdq_rows.append(row)
        elif kind == SignalType.TEXT:
            text_rows.append(row)
        elif kind == SignalType.VPDQ:
            self._video_rows.append((row, value))

    # -- changes without a rebuild -------------------------------------------------------------------------
    def apply_changes(
        self, added: SignalRows, removed_ids: Collection[int] = (), expires_at: datetime | None = None
    ) -> None:
        """Make the `added` signals matchable and the signals `removed_ids` match nothing, in place, at a cost
        that grows with the change, not with the banks (the main PDQ index is kept; added hashes are
        scanned beside it until PDQ_MERGE_AT of them, then merged into a new one).

        A request in flight sees each signal either before or after the change: rows are appended before
        any index points at them, and each index is published with one reference swap. A signal of a bank
        this snapshot does not know needs a rebuild (ValueError)."""
        unknown = {b for b in added.bank_ids if b not in self.banks}
        if unknown:
            raise ValueError(f"bank ids {sorted(unknown)} are not in this matcher: rebuild it")
        hex_to_bytes([v for t, v in zip(added.types, added.values, strict=True) if t == SignalType.PDQ])  # or fail
        first = len(self.rows)
        for i in range(len(added)):
            self.rows.append(
                added.ids[i],
                added.bank_ids[i],
                added.types[i],
                added.values[i],
                added.source_ids[i],
                added.tlps[i],
                added.names[i],
                added.on_hub[i],
            )
        pdq_rows: list[int] = []
        text_rows: list[int] = []
        videos = len(self._video_rows)
        for row in range(first, len(self.rows)):
            self._index_row(row, self.rows.types[row], self.rows.values[row], pdq_rows, text_rows)
        if pdq_rows:
            self._add_pdq(pdq_rows)
        if text_rows:
            self._add_text(text_rows)
        if len(self._video_rows) > videos:
            self.video = VideoIndex(self._video_rows)
        if removed_ids:
            self.removed = self.removed | frozenset(self._rows_of(removed_ids))
            pdq = self._pdq
            if len(self.removed) - pdq.removed_before > max(PDQ_MERGE_AT, len(pdq.rows) // 10):
                self._pdq = self._build_pdq(self._live_pdq_rows(pdq))  # drop the dead entries
        if expires_at is not None and (self.expires_at is None or expires_at < self.expires_at):
            self.expires_at = expires_at

    def _rows_of(self, signal_ids: Collection[int]) -> list[int]:
        """Rows of these signal ids: binary search in the ids sorted on the first removal (16 bytes a row,
        a tenth of a dictionary's), then a scan of the rows added since."""
        if self._ids is None or self._ids[2] < len(self.rows) - PDQ_MERGE_AT:
            all_ids = np.asarray(self.rows.ids, dtype=np.int64)
            order = np.argsort(all_ids, kind="stable")
            self._ids = (all_ids[order], order, len(all_ids))
        sorted_ids, order, covered = self._ids
        wanted = np.asarray(list(signal_ids), dtype=np.int64)
        first = np.searchsorted(sorted_ids, wanted, side="left").tolist()
        end = np.searchsorted(sorted_ids, wanted, side="right").tolist()
        rows = [int(order[i]) for a, b in zip(first, end, strict=True) for i in range(a, b)]
        wanted_set = set(signal_ids)
        return rows + [r for r in range(covered, len(self.rows)) if self.rows.ids[r] in wanted_set]

    # -- PDQ ---------------------------------------------------------------------------------------------
    def _build_pdq(self, pdq_rows: list[int]) -> _Pdq:
        max_threshold = max((b.pdq_threshold for b in self.banks.values()), default=31)
        none = np.empty(0, dtype=np.int64)
        nothing = PdqIndex(np.empty((0, 32), dtype=np.uint8), max_threshold)
        if not pdq_rows:
            return _Pdq(nothing, none, np.zeros(1, dtype=np.int64), none, nothing, len(self.removed))
        # Identical hashes (the same image in several banks) share one index entry. Deduplicate the
        # 32-byte rows, not the hex strings: a 1M-string unicode array would take 256 MB.
        hashes = hex_to_bytes([self.rows.values[r] for r in pdq_rows])
        keys = np.ascontiguousarray(hashes).view(np.dtype((np.void, 32))).ravel()
        unique_keys, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
        unique = np.ascontiguousarray(unique_keys).view(np.uint8).reshape(-1, 32)
        order = np.argsort(inverse, kind="stable")
        rows = np.asarray(pdq_rows, dtype=np.int64)[order]
        starts = np.concatenate(([0], np.cumsum(np.bincount(inverse, minlength=len(unique)))))
        return _Pdq(PdqIndex(unique, max_threshold), rows, starts, none, nothing, len(self.removed))

    def _add_pdq(self, new_rows: list[int]) -> None:
        pdq = self._pdq
        added = np.concatenate((pdq.added_rows, np.asarray(new_rows, dtype=np.int64)))
        if len(added) >= PDQ_MERGE_AT:  # one new main index over every live hash
            self._pdq = self._build_pdq(self._live_pdq_rows(pdq, new_rows))
            return
        # Few enough to be scanned whole: this small index is a plain scan (see PdqIndex).
        extra = PdqIndex(hex_to_bytes([self.rows.values[r] for r in added.tolist()]), pdq.main.threshold)
        self._pdq = pdq._replace(added_rows=added, added_index=extra)

    def _live_pdq_rows(self, pdq: _Pdq, new_rows: Sequence[int] = ()) -> list[int]:
        removed = self.removed
        return [r for r in (*pdq.rows.tolist(), *pdq.added_rows.tolist(), *new_rows) if r not in removed]

    @property
    def pdq_index(self) -> PdqIndex:
        return self._pdq.main

    def match_pdq(self, hex_hash: str) -> list[MatchHit]:
        query = hex_to_bytes([hex_hash.lower()])[0]
        pdq, removed = self._pdq, self.removed  # one snapshot of each, whatever a change does meanwhile
        hits: list[MatchHit] = []
        entries, distances = pdq.main.search(query)
        for entry, distance in zip(entries.tolist(), distances.tolist(), strict=True):
            self._pdq_hits(pdq.rows[pdq.starts[entry] : pdq.starts[entry + 1]].tolist(), distance, removed, hits)
        if len(pdq.added_rows):
            positions, found = pdq.added_index.search(query)
            for position, distance in zip(positions.tolist(), found.tolist(), strict=True):
                self._pdq_hits([int(pdq.added_rows[position])], distance, removed, hits)
            hits.sort(key=lambda h: h.distance)  # stable: the main index's order among equal distances
        return hits

    def _pdq_hits(self, rows: list[int], distance: int, removed: frozenset[int], hits: list[MatchHit]) -> None:
        for row in rows:
            if distance <= self.banks[self.rows.bank_ids[row]].pdq_threshold and row not in removed:
                hits.append(self._hit(row, "exact" if distance == 0 else "near", float(distance)))

    def match_vpdq(self, canonical: str) -> list[MatchHit]:
        """Bank videos with at least 80% of the query's frames (video.py); distance: the share not found."""
        removed = self.removed
        return [
            self._hit(hit.row, "video", round(1 - hit.query_percent / 100, 4))
            for hit in self.video.match(canonical)
            if hit.row not in removed
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

    def _add_text(self, new_rows: list[int]) -> None:
        """Signatures first, then the bands that point at them: a concurrent lookup never finds a band entry
        without its signature."""
        first = len(self.text_rows)
        signatures = np.array([minhash(self.rows.values[r]) for r in new_rows], dtype=np.uint32)
        self.text_signatures = np.concatenate((self.text_signatures, signatures.reshape(-1, NUM_PERMUTATIONS)))
        self.text_rows = np.concatenate((self.text_rows, np.asarray(new_rows, dtype=np.int64)))
        for i, signature in enumerate(signatures, start=first):
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
        removed = self.removed
        for i, sim in zip(candidates, similarities.tolist(), strict=True):
            row = int(self.text_rows[i])
            if row in removed:
                continue
            exact = self.rows.values[row] == normalised
            if exact or sim >= self.banks[self.rows.bank_ids[row]].text_threshold:
                hits.append(self._hit(row, "exact" if exact else "near", 0.0 if exact else round(1 - sim, 4)))
        return sorted(hits, key=lambda h: h.distance)

    # -- exact kinds -------------------------------------------------------------------------------------
    def match_url(self, canonical: str, host: str) -> list[MatchHit]:
        rows = self._urls.get(canonical)
        hits = [] if rows is None else self._hits(rows, "exact")
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
            hits += self._hits(rows, "exact")
        dot = host.find(".")
        last = host.rfind(".")
        while dot != -1 and dot != last:
            rows = table.get(host[dot + 1 :])
            if rows is not None:
                hits += self._hits(rows, "domain")
            dot = host.find(".", dot + 1)

    def match_account(self, canonical: str) -> list[MatchHit]:
        table = self.exact[SignalType.ACCOUNT]
        platform, _, rest = canonical.partition(":")
        if platform == ANY_PLATFORM:
            return self._hits(self.by_handle.get(rest, ()), "exact")
        exact, any_platform = account_lookup_keys(canonical)
        return self._hits(table.get(exact, ()), "exact") + self._hits(table.get(any_platform, ()), "any-platform")

    def match_hash(self, kind: SignalType, value: str) -> list[MatchHit]:
        return self._hits(self.exact[kind].get(value.lower(), ()), "exact")

    def _hits(self, rows: Iterable[int], how: str) -> list[MatchHit]:
        """Exact hits (distance 0) of these rows, leaving out removed signals."""
        removed = self.removed
        if not removed:
            return [self._hit(r, how, 0.0) for r in rows]
        return [self._hit(r, how, 0.0) for r in rows if r not in removed]

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
        removed = self.removed
        for row, kind in enumerate(self.rows.types):
            if row not in removed:
                out[kind] = out.get(kind, 0) + 1
        return out


def _band_keys(signature: np.ndarray) -> Sequence[bytes]:
    raw = signature.astype(np.uint32).tobytes()
    width = ROWS_PER_BAND * 4
    return [raw[i * width : (i + 1) * width] for i in range(BANDS)]
