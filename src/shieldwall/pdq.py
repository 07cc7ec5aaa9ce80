"""PDQ hashes: parsing and an exact Hamming range index, shared by match (banks) and detect (reused pictures).

Exact means every indexed hash within the distance threshold is found, by construction, never by tuning.
Two structures answer a query together:

- **Clusters of near-copies.** Real banks hold many re-uploads of the same popular pictures: their hashes
  crowd the same buckets, and a plain multi-index hash then verifies thousands of candidates per query. At
  build time each crowded bucket proposes a centre (the bitwise majority of its hashes, which recovers the
  original of noisy copies) and every hash within `CLUSTER_RADIUS` bits of it joins that cluster, stored
  contiguously and sorted by its distance t to the centre. A query at distance x from a centre can only
  match members with |x - t| <= r (triangle inequality), so one popcount per cluster decides which slice
  of it to scan, and that slice is read contiguously, not gathered.
- **Multi-index hashing for the rest** (Norouzi et al.). The 256 bits are cut into m chunks, m chosen for
  the bank's size (wider chunks for bigger banks keep buckets nearly empty). If two hashes differ in at
  most r = m*a + b bits (0 <= b < m), then one of b+1 chosen chunks differs in at most a bits or one of the
  others in at most a-1 (otherwise the total would exceed r), so probing those neighbourhoods finds every
  match; each candidate is verified with the full 256-bit distance.

A single query costs a fixed number of array operations whatever the bank (about twenty, none of them a
Python loop over chunks or candidates): at a million hashes their fixed cost, not the arithmetic, is most
of the time, so the layout is chosen to need few of them (see `_MultiIndex` and `PdqIndex.query`).

Hashes are (N, 32) uint8 arrays (the bytes of the 64-hex form); distances are bit counts.
"""

from __future__ import annotations

from functools import cache
from itertools import combinations
from math import comb
from typing import NamedTuple

import numpy as np

DEFAULT_THRESHOLD = 31
MAX_THRESHOLD = 47
CLUSTER_RADIUS = 47  # members are within this many bits of their cluster's centre
MIN_CLUSTER = 32  # fewer near-copies than this do not crowd a bucket enough to be worth a cluster
BRUTE_FORCE_BELOW = 4096  # so few hashes are scanned whole, faster than probing
_BYTE_SUM = np.uint32(0x01010101)  # times four byte-sized counts: their sum in the top byte
_COMPLEMENT = 0x40404040  # four counts of 64: 256 bits apart, which wraps the top byte to 0
_LOW32 = np.int64(0xFFFFFFFF)


def hex_to_bytes(hexes: list[str] | np.ndarray) -> np.ndarray:
    """(N, 32) uint8 from 64-hex PDQ strings; raises ValueError naming the first bad one."""
    joined = "".join(hexes)
    if len(joined) != 64 * len(hexes):
        bad = next(h for h in hexes if len(h) != 64)
        raise ValueError(f"PDQ hash {bad!r} is not 64 hex digits")
    try:
        return np.frombuffer(bytes.fromhex(joined), dtype=np.uint8).reshape(len(hexes), 32)
    except ValueError:
        bad = next(h for h in hexes if not _is_hex64(h))
        raise ValueError(f"PDQ hash {bad!r} is not 64 hex digits") from None


def _is_hex64(text: str) -> bool:
    try:
        return len(bytes.fromhex(text)) == 32
    except ValueError:
        return False


def distances(words: np.ndarray, query_words: np.ndarray) -> np.ndarray:
    """Hamming distances of (N, 4) uint64 rows to one (4,) uint64 query, as uint32."""
    counts = np.bitwise_count(words ^ query_words).view(np.uint32).ravel()  # four byte-sized counts a row
    # One multiply adds the four bytes into the top one; only 4 x 64 (an exact complement) overflows it.
    total = (counts * _BYTE_SUM) >> np.uint32(24)
    total[counts == _COMPLEMENT] = 256
    return total


def _within(words: np.ndarray, query_words: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, distances) of the (N, 4) rows within r of the (4,) query."""
    n = len(words)
    # Broadcasting a (4,) row over (N, 4) runs N inner loops of 4; a repeated copy is one long loop.
    other = np.repeat(query_words[None, :], n, axis=0) if n > 32 else query_words
    counts = np.bitwise_count(words ^ other).view(np.uint32).ravel()
    summed = counts * _BYTE_SUM
    hit = np.flatnonzero(summed < np.uint32((r + 1) << 24))
    if len(hit):
        hit = hit[counts[hit] != _COMPLEMENT]
    return hit, summed[hit] >> np.uint32(24)


def _within_columns(columns: np.ndarray, query_words: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, distances) of the hashes within r among (4, N) uint64 columns (word k of every hash in
    row k: each operation runs over N contiguous words, and four counts of at most 64 sum without overflow)."""
    total = np.bitwise_count(columns ^ query_words[:, None]).sum(axis=0, dtype=np.uint16)
    hit = np.flatnonzero(total <= r)
    return hit, total[hit]


def _words(hashes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(hashes).view(np.uint64).reshape(-1, 4)


# -- chunks for multi-index hashing ---------------------------------------------------------------------------


def _widths(m: int) -> list[int]:
    base, extra = divmod(256, m)
    return [base + 1] * extra + [base] * (m - extra)  # never growing: see _MultiIndex's table layout


def _radii(m: int, r: int) -> list[int]:
    """Per chunk, the radius to probe (-1: not probed) so every hash within r is found (see the docstring)."""
    a, b = divmod(r, m)
    return [a] * (b + 1) + [a - 1] * (m - b - 1)


def _volume(width: int, radius: int) -> int:
    return sum(comb(width, k) for k in range(radius + 1))


def choose_chunks(size: int, threshold: int) -> int:
    """The chunk count with the least expected work per query (probes, plus candidates weighted by their
    cost) whose bucket tables hold no more entries than twice the row lists (chunks of 16 to 24 bits)."""
    best, best_cost = 16, float("inf")
    for m in range(11, 17):
        widths, radii = _widths(m), _radii(m, threshold)
        if m < 16 and sum(2**w for w in widths) > 2 * m * size:
            continue
        probes = sum(_volume(w, k) for w, k in zip(widths, radii, strict=True) if k >= 0)
        candidates = sum(_volume(w, k) * size / 2**w for w, k in zip(widths, radii, strict=True) if k >= 0)
        # A candidate costs a random 32-byte read and a popcount; a probe two neighbouring offset reads.
        cost = probes + 6 * candidates
        if cost < best_cost:
            best, best_cost = m, cost
    return best


@cache
def _masks(width: int, radius: int) -> np.ndarray:
    masks = [0]
    for k in range(1, radius + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(width), k)]
    return np.array(masks, dtype=np.int64)


def _chunk_values(big_endian: np.ndarray, start: int, width: int) -> np.ndarray:
    """Bits [start, start+width) of each 256-bit hash given as (N, 4) big-endian-valued uint64 words."""
    word, offset = divmod(start, 64)
    mask = np.uint64((1 << width) - 1)
    if offset + width <= 64:
        value = (big_endian[:, word] >> np.uint64(64 - offset - width)) & mask
    else:
        low = offset + width - 64
        high = big_endian[:, word] & np.uint64((1 << (64 - offset)) - 1)
        value = (high << np.uint64(low)) | (big_endian[:, word + 1] >> np.uint64(64 - low))
    return value.astype(np.uint32)


def _as_int(query: np.ndarray) -> int:
    """The 256 bits of a (32,) uint8 hash as one Python integer (first byte highest)."""
    return int.from_bytes(np.ascontiguousarray(query, dtype=np.uint8).reshape(32), "big")


class _MultiIndex:
    """Multi-index hashing over (N, 32) uint8 hashes; returns candidate row numbers (duplicates kept).

    Layout: `order` holds, chunk after chunk, the row numbers sorted by that chunk's value; `offsets` holds
    every chunk's bucket table back to back (where each value's rows begin in `order`) and one final
    sentinel, so a bucket ends where the next slot begins, even at the end of a chunk's table (the next
    chunk starts there). Widths never grow from one chunk to the next, so each table starts at a multiple
    of its own size: base + value == base | value, and a probe's slot is (base | value) ^ mask, one xor."""

    def __init__(self, hashes: np.ndarray, threshold: int) -> None:
        self.threshold = threshold
        n = len(hashes)
        self.m = choose_chunks(n, threshold)
        self.widths = _widths(self.m)
        self.starts = np.cumsum([0, *self.widths[:-1]]).tolist()
        index_type = np.int32 if self.m * n < 2**31 else np.int64
        big = np.ascontiguousarray(hashes).view(">u8").reshape(-1, 4).astype(np.uint64)
        self.bases = np.cumsum([0, *[1 << w for w in self.widths[:-1]]]).astype(np.int64)
        self.offsets: np.ndarray = np.empty(int(sum(1 << w for w in self.widths)) + 1, dtype=index_type)
        self.order = np.empty(self.m * n, dtype=index_type)
        for j, (start, width) in enumerate(zip(self.starts, self.widths, strict=True)):
            column = _chunk_values(big, start, width)
            self.order[j * n : (j + 1) * n] = np.argsort(column, kind="stable")
            base = int(self.bases[j])
            table = self.offsets[base : base + (1 << width)]
            table[0] = 0
            np.cumsum(np.bincount(column, minlength=1 << width)[:-1], out=table[1:])
            table += j * n
        self.offsets[-1] = self.m * n
        del big
        self._setup()

    def _setup(self) -> None:
        # Per chunk (right shift, mask, table base) to cut a query held as one integer.
        self._cuts = [
            (256 - s - w, (1 << w) - 1, int(b)) for s, w, b in zip(self.starts, self.widths, self.bases, strict=True)
        ]
        self._ends = self.offsets[1:]  # where each bucket ends: the next slot's start
        self._plans: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.order.nbytes)

    def subset(self, keep: np.ndarray) -> _MultiIndex:
        """The same index over the rows where `keep` is true, renumbered 0.. in their order (no re-sorting:
        each bucket keeps its rows in order, so only the bucket bounds move)."""
        n = len(keep)
        kept = int(keep.sum())
        renumber = np.cumsum(keep) - 1
        index_type = np.int32 if self.m * kept < 2**31 else np.int64
        out = object.__new__(_MultiIndex)
        out.threshold, out.m, out.widths, out.starts, out.bases = (
            self.threshold,
            self.m,
            self.widths,
            self.starts,
            self.bases,
        )
        out.order = np.empty(self.m * kept, dtype=index_type)
        out.offsets = np.empty(len(self.offsets), dtype=index_type)
        for j, width in enumerate(self.widths):
            block = self.order[j * n : (j + 1) * n]
            stays = keep[block]
            out.order[j * kept : (j + 1) * kept] = renumber[block[stays]]
            before = np.concatenate(([0], np.cumsum(stays)))  # kept rows before each position of the block
            base = int(self.bases[j])
            bounds = self.offsets[base : base + (1 << width)].astype(np.int64) - j * n
            out.offsets[base : base + (1 << width)] = before[bounds] + j * kept
        out.offsets[-1] = self.m * kept
        out._setup()
        return out

    def _plan(self, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chunk number, xor mask, table base) of every probe for radius r."""
        plan = self._plans.get(r)
        if plan is None:
            chunks, masks = [], []
            for j, (width, radius) in enumerate(zip(self.widths, _radii(self.m, r), strict=True)):
                if radius >= 0:
                    found = _masks(width, radius)
                    chunks.append(np.full(len(found), j, dtype=np.int64))
                    masks.append(found)
            chunk_of = np.concatenate(chunks)
            plan = self._plans[r] = (chunk_of, np.concatenate(masks), self.bases[chunk_of])
        return plan

    def candidates(self, whole: int, r: int) -> np.ndarray:
        """Candidate rows for one hash given as an integer (`_as_int`): ten array operations, as methods
        (numpy's module-level wrappers cost about as much again as the work on a thousand elements)."""
        chunk_of, masks, _ = self._plan(r)
        slots = np.array([b | ((whole >> s) & k) for s, k, b in self._cuts]).take(chunk_of)
        slots ^= masks
        starts = self.offsets.take(slots)
        ends = self._ends.take(slots)
        lengths = ends - starts
        cumulative = lengths.cumsum(dtype=self.order.dtype)
        total = int(cumulative[-1])
        if total == 0:
            return self.order[:0]
        # Positions of every candidate in `order`, a ragged concatenation of ranges without a Python loop:
        # the i-th candidate overall, k-th of its bucket b, is at starts[b] + k = (ends - cumulative)[b] + i,
        # and b is the number of buckets starting at or before i, less one (empty buckets start where the
        # next one does and count before it). Counting that beats repeat(), whose loop over the bucket
        # sizes mispredicts a branch per bucket.
        bucket = np.bincount(cumulative - lengths, minlength=total + 1)[:total].cumsum()
        bucket -= 1
        positions = (ends - cumulative).take(bucket)
        positions += np.arange(total, dtype=positions.dtype)
        return self.order.take(positions)

    def candidates_many(self, queries: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
        """(query number, candidate row) for a batch of (B, 32) queries, in one pass of array operations."""
        chunk_of, masks, base_of = self._plan(r)
        big = np.ascontiguousarray(queries).view(">u8").reshape(-1, 4).astype(np.uint64)
        values = np.stack(
            [_chunk_values(big, s, w).astype(np.int64) for s, w in zip(self.starts, self.widths, strict=True)], axis=1
        )
        slots = (base_of[None, :] | (values[:, chunk_of] ^ masks[None, :])).ravel()
        starts = self.offsets[slots].astype(np.int64)
        lengths = self.offsets[slots + 1] - starts
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        if total == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        shifts = np.repeat(starts - (ends - lengths), lengths)
        rows = np.take(self.order, np.arange(total) + shifts).astype(np.int64)
        per_query = lengths.reshape(len(queries), -1).sum(axis=1)
        return np.repeat(np.arange(len(queries)), per_query), rows


class Hits(NamedTuple):
    """Rows within the threshold, nearest first (at most `limit` of them if one was asked), and how many
    rows were within the threshold in all."""

    rows: np.ndarray
    distances: np.ndarray
    total: int


_NOTHING = np.empty(0, dtype=np.int64)
_NOTHING.flags.writeable = False
NO_HITS = Hits(_NOTHING, _NOTHING, 0)


def _hits(keys: np.ndarray, limit: int | None) -> Hits:
    """Hits from keys distance * 2**32 + row: sorted, they are nearest first (ties by row)."""
    total = len(keys)
    if limit is not None and total > limit:
        keys = np.partition(keys, limit - 1)[:limit] if limit > 0 else keys[:0]
    if len(keys) > 1:
        keys.sort()
    return Hits(keys & _LOW32, keys >> 32, total)


class PdqIndex:
    """Immutable exact index over (N, 32) uint8 hashes; rows are positions in that array.

    Stored: the clustered hashes as (4, C) uint64 columns (cluster by cluster, each sorted by distance to
    its centre: slices are scanned whole, and columns make each operation one long loop), and the others
    as (S, 4) uint64 rows (gathered by the multi-index, so each hash is one 32-byte read)."""

    def __init__(
        self,
        hashes: np.ndarray,
        threshold: int = DEFAULT_THRESHOLD,
        *,
        cluster_radius: int = CLUSTER_RADIUS,
        min_cluster: int = MIN_CLUSTER,
    ) -> None:
        if hashes.ndim != 2 or hashes.shape[1] != 32 or hashes.dtype != np.uint8:
            raise ValueError("PdqIndex wants an (N, 32) uint8 array")
        if not 0 <= threshold <= MAX_THRESHOLD:
            raise ValueError(f"threshold {threshold} out of range 0..{MAX_THRESHOLD}")
        if len(hashes) >= 2**32:
            raise ValueError("PdqIndex holds fewer than 2**32 hashes")  # rows share an int64 with distances
        self.threshold = threshold
        self.size = len(hashes)
        hashes = np.ascontiguousarray(hashes)
        full = _MultiIndex(hashes, threshold) if self.size >= BRUTE_FORCE_BELOW else None
        members, centres, radii, bounds = _clusters(hashes, full, cluster_radius, min_cluster)
        row_type = np.int32 if self.size < 2**31 else np.int64
        clustered = np.concatenate(members) if members else np.empty(0, dtype=np.int64)
        self.clustered = len(clustered)
        self.cluster_rows = clustered.astype(row_type)
        self.cluster_columns = np.ascontiguousarray(_words(hashes[clustered]).T)
        self.centres = centres
        self.centre_columns = np.ascontiguousarray(centres.T)
        self.radii = np.asarray(radii, dtype=np.int64)
        # bounds[c][t]: stored position where cluster c's members at distance >= t from the centre begin.
        self.bounds = np.asarray(bounds, dtype=np.int64).reshape(len(radii), cluster_radius + 2)
        self._bounds = self.bounds.tolist()  # plain lists: a query reads a few of them one by one
        self._radii = self.radii.tolist()
        # A centre farther than this has no member within the threshold (at most 47 + 47: fits a byte).
        self._reach = (self.radii + threshold).astype(np.uint8)
        if not members:  # nothing crowded: the index over every hash is the one to keep
            self.single_rows: np.ndarray | None = None  # stored position == row
            self.words = _words(hashes)
            self.multi = full
            return
        rest = np.ones(self.size, dtype=bool)
        rest[clustered] = False
        singles = np.flatnonzero(rest)
        self.single_rows = singles.astype(row_type)
        self.words = _words(hashes[singles])
        assert full is not None  # clusters are only looked for with a multi-index
        self.multi = full.subset(rest) if len(singles) >= BRUTE_FORCE_BELOW else None

    def __len__(self) -> int:
        return self.size

    @property
    def clusters(self) -> int:
        return len(self.radii)

    @property
    def rows(self) -> np.ndarray:
        """Row of every stored hash: the clustered ones, then the others."""
        singles = self.single_rows if self.single_rows is not None else np.arange(self.size)
        return np.concatenate((self.cluster_rows, singles)).astype(np.int64)

    @property
    def nbytes(self) -> int:
        own = self.words.nbytes + self.cluster_rows.nbytes + self.cluster_columns.nbytes + self.bounds.nbytes
        own += self.single_rows.nbytes if self.single_rows is not None else 0
        return int(own + self.centres.nbytes * 2 + (self.multi.nbytes if self.multi is not None else 0))

    def query(self, query: np.ndarray, threshold: int | None = None, limit: int | None = None) -> Hits:
        """Every row within `threshold` (default: the index's; at most it) of one (32,) uint8 hash."""
        r = self.threshold if threshold is None else min(threshold, self.threshold)
        if r < 0 or not self.size:
            return NO_HITS
        q = np.ascontiguousarray(query, dtype=np.uint8).reshape(32).view(np.uint64)
        parts: list[np.ndarray] = []
        if self.clusters:
            # One popcount per centre, as (4, K) columns: four long loops, and byte sums that overflow only
            # for an exact complement (256 -> 0, told apart below).
            counts = np.bitwise_count(self.centre_columns ^ q[:, None])
            near = counts[0] + counts[1]
            near += counts[2]
            near += counts[3]
            reach = self._reach if r == self.threshold else np.minimum(self.radii + r, 255).astype(np.uint8)
            for c in (near <= reach).nonzero()[0].tolist():
                x = int(near[c])
                if x == 0 and counts[0, c]:
                    continue  # the complement of the centre: 256 bits away
                # Members at distance t from the centre can match only if |x - t| <= r; each is then at most
                # x + t <= 2 * 47 + 47 bits from the query, so its byte sums below cannot overflow.
                lo = self._bounds[c][max(0, x - r)]
                hi = self._bounds[c][min(self._radii[c], x + r) + 1]
                if hi > lo:
                    member = np.bitwise_count(self.cluster_columns[:, lo:hi] ^ q[:, None])
                    total = member[0] + member[1]
                    total += member[2]
                    total += member[3]
                    hit = (total <= r).nonzero()[0]
                    if len(hit):
                        parts.append((total.take(hit).astype(np.int64) << 32) | self.cluster_rows.take(hit + lo))
        if self.multi is not None or len(self.words):
            if self.multi is not None:
                found = self.multi.candidates(int.from_bytes(q.view(np.uint8), "big"), r)
                words = self.words.take(found, axis=0)
            else:
                found, words = None, self.words
            n = len(words)
            # Broadcasting a (4,) row over (n, 4) runs n inner loops of 4; a repeated copy is one long loop.
            other = q.reshape(1, 4).repeat(n, axis=0) if n > 32 else q
            counts4 = np.bitwise_count(words ^ other).view(np.uint32).reshape(-1)  # four byte counts a row
            summed = counts4 * _BYTE_SUM  # their sum in the top byte: only 4 x 64 overflows (to 0)
            hit = (summed < np.uint32((r + 1) << 24)).nonzero()[0]
            if len(hit):
                hit = hit[counts4.take(hit) != _COMPLEMENT]
                rows = hit if found is None else found.take(hit)
                if self.single_rows is not None:
                    rows = self.single_rows.take(rows)
                keys = ((summed.take(hit) >> np.uint32(24)).astype(np.int64) << 32) | rows
                if len(keys) > 1 and found is not None:  # a row found through several chunks: keep it once
                    keys.sort()
                    repeated = keys[1:] == keys[:-1]
                    if repeated.any():
                        keys = keys[np.concatenate(([True], ~repeated))]
                parts.append(keys)
        if not parts:
            return NO_HITS
        return _hits(parts[0] if len(parts) == 1 else np.concatenate(parts), limit)

    def pairs(self, queries: np.ndarray, threshold: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(query number, row) of every row within the threshold of each of (B, 32) queries: the hashes
        outside clusters are looked up for the whole batch at once (what grouping many hashes needs)."""
        r = self.threshold if threshold is None else min(threshold, self.threshold)
        words = _words(queries)
        found_q: list[np.ndarray] = []
        found_rows: list[np.ndarray] = []
        if self.clusters:
            for start in range(0, len(queries), 256):  # (256, 4, K) words at a time
                block = words[start : start + 256]
                near = np.bitwise_count(block[:, :, None] ^ self.centre_columns[None, :, :]).sum(axis=1, dtype=np.int64)
                for i, c in zip(*np.nonzero(near <= r + self.radii[None, :]), strict=True):
                    x = int(near[i, c])
                    lo = self._bounds[c][max(0, x - r)]
                    hi = self._bounds[c][min(self._radii[c], x + r) + 1]
                    if hi > lo:
                        hit, _ = _within_columns(self.cluster_columns[:, lo:hi], words[start + i], r)
                        found_q.append(np.full(len(hit), start + i, dtype=np.int64))
                        found_rows.append(self.cluster_rows[hit + lo].astype(np.int64))
        singles = len(self.words)
        if self.multi is not None:
            for start in range(0, len(queries), 1024):
                q_of, candidates = self.multi.candidates_many(queries[start : start + 1024], r)
                counts = np.bitwise_count(np.take(self.words, candidates, axis=0) ^ words[start + q_of])
                within = counts.sum(axis=1, dtype=np.int64) <= r
                key = np.unique((q_of[within] + start) * (singles + 1) + candidates[within])
                found_q.append(key // (singles + 1))
                found_rows.append(self._single_rows(key % (singles + 1)))
        elif singles:
            for i in range(len(queries)):
                hit, _ = _within(self.words, words[i], r)
                found_q.append(np.full(len(hit), i, dtype=np.int64))
                found_rows.append(self._single_rows(hit))
        if not found_q:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        return np.concatenate(found_q), np.concatenate(found_rows)

    def _single_rows(self, positions: np.ndarray) -> np.ndarray:
        return (positions if self.single_rows is None else self.single_rows[positions]).astype(np.int64)

    def search(self, query: np.ndarray, threshold: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, distances) of every row within the threshold, nearest first."""
        hits = self.query(query, threshold)
        return hits.rows, hits.distances

    def search_many(self, queries: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self.search(q) for q in queries]


def _clusters(
    hashes: np.ndarray, finder: _MultiIndex | None, radius: int, min_size: int
) -> tuple[list[np.ndarray], np.ndarray, list[int], list[np.ndarray]]:
    """Groups of near-copies around centres proposed by crowded buckets (see the module docstring).

    Returns each cluster's rows sorted by distance to its centre, the centres as (K, 4) uint64 words, each
    cluster's largest member distance, and per cluster the offsets (in the clustered hashes' stored order)
    at which the members at distance >= t begin, for t = 0..radius+1."""
    n = len(hashes)
    words = _words(hashes)
    if finder is None:
        return [], np.empty((0, 4), dtype=np.uint64), [], []
    crowded_at = max(min_size // 2, 8 * n / 2 ** min(finder.widths))
    assigned = np.zeros(n, dtype=bool)
    members: list[np.ndarray] = []
    centres: list[np.ndarray] = []
    radii: list[int] = []
    bounds: list[np.ndarray] = []
    stored = 0
    for j, width in enumerate(finder.widths):
        base = int(finder.bases[j])
        counts = np.diff(finder.offsets[base : base + (1 << width) + 1])
        for bucket in np.flatnonzero(counts >= crowded_at)[np.argsort(-counts[counts >= crowded_at])].tolist():
            start = int(finder.offsets[base + bucket])
            rows = finder.order[start : start + int(counts[bucket])]
            rows = rows[~assigned[rows]]
            if len(rows) < min_size:
                continue
            sample = rows[:: max(1, len(rows) // 512)]
            majority = np.unpackbits(hashes[sample], axis=1).mean(axis=0) > 0.5
            centre = np.packbits(majority.astype(np.uint8))
            centre_words = _words(centre.reshape(1, 32))[0]
            # Probing at the index's own radius is enough to find nearly every member (a copy 40 bits away
            # still keeps some chunk within it); one missed stays outside the cluster, which costs speed only.
            near = np.unique(finder.candidates(_as_int(centre), finder.threshold))
            near = near[~assigned[near]]
            d = distances(np.take(words, near, axis=0), centre_words)
            keep = d <= radius
            if int(keep.sum()) < min_size:
                continue
            near, d = near[keep], d[keep]
            order = np.argsort(d, kind="stable")
            near, d = near[order], d[order]
            assigned[near] = True
            members.append(near)
            centres.append(centre_words)
            radii.append(int(d[-1]))
            bounds.append(stored + np.searchsorted(d, np.arange(radius + 2), side="left"))
            stored += len(near)
    centre_array = np.array(centres, dtype=np.uint64).reshape(-1, 4)
    return members, centre_array, radii, bounds


def components(hashes: np.ndarray, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """Per row, the smallest row of its group: rows are linked when their hashes are within `threshold`
    bits, and groups are the connected components of those links (exact: no link is missed).

    Each row is looked up in the index, except the core of each cluster (members within threshold // 2 of
    the centre, all within the threshold of each other), which is linked at once; a core's links to other
    rows are found from the other side, and between two cores by comparing them directly."""
    n = len(hashes)
    parent = np.arange(n, dtype=np.int64)
    if n == 0:
        return parent
    index = PdqIndex(hashes, threshold)
    half = threshold // 2

    def roots(rows: np.ndarray) -> np.ndarray:
        while True:
            up = parent[rows]
            if (up == rows).all():
                return rows
            parent[rows] = parent[up]  # path halving keeps the trees flat
            rows = up

    def link(rows: np.ndarray) -> None:
        found = np.unique(roots(rows))
        parent[found] = found[0]  # the smallest root: every root stays the smallest row of its tree

    skip = np.zeros(n, dtype=bool)
    cores: list[tuple[int, int, int]] = []  # (cluster, first, end) stored positions of each core
    for c in range(index.clusters):
        lo, hi = int(index.bounds[c, 0]), int(index.bounds[c, half + 1])
        if hi > lo:
            link(index.cluster_rows[lo:hi].astype(np.int64))
            skip[index.cluster_rows[lo:hi]] = True
            cores.append((c, lo, hi))
    columns = index.cluster_columns
    for a, (ca, alo, ahi) in enumerate(cores):
        for cb, blo, bhi in cores[a + 1 :]:
            if int(distances(index.centres[ca : ca + 1], index.centres[cb])[0]) > threshold + 2 * half:
                continue  # no member of one core can be within the threshold of the other's
            for position in range(alo, ahi):
                if len(_within_columns(columns[:, blo:bhi], columns[:, position], threshold)[0]):
                    link(np.array([index.cluster_rows[alo], index.cluster_rows[blo]], dtype=np.int64))
                    break
    rest = np.flatnonzero(~skip)
    for start in range(0, len(rest), 8192):
        batch = rest[start : start + 8192]
        query_of, rows = index.pairs(hashes[batch])
        mine = batch[query_of]
        other = rows != mine
        for left, right in zip(mine[other].tolist(), rows[other].tolist(), strict=True):
            if parent[left] != parent[right]:
                link(np.array([left, right], dtype=np.int64))
    return roots(np.arange(n, dtype=np.int64))
