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

Hashes are (N, 32) uint8 arrays (the bytes of the 64-hex form); distances are bit counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations
from math import comb

import numpy as np

DEFAULT_THRESHOLD = 31
MAX_THRESHOLD = 47
CLUSTER_RADIUS = 47  # members are within this many bits of their cluster's centre
MIN_CLUSTER = 32  # fewer near-copies than this do not crowd a bucket enough to be worth a cluster
BRUTE_FORCE_BELOW = 4096  # so few hashes are scanned whole, faster than probing


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
    total = (counts * np.uint32(0x01010101)) >> np.uint32(24)
    total[counts == 0x40404040] = 256
    return total


def _within(words: np.ndarray, query_words: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, distances) of the rows within r: `distances` with the complement check on the few hits."""
    counts = np.bitwise_count(words ^ query_words).view(np.uint32).ravel()
    total = (counts * np.uint32(0x01010101)) >> np.uint32(24)
    hit = np.flatnonzero(total <= r)
    if len(hit):
        hit = hit[counts[hit] != 0x40404040]  # 256 bits apart wraps to 0
    return hit, total[hit]


def _words(hashes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(hashes).view(np.uint64).reshape(-1, 4)


# -- chunks for multi-index hashing ---------------------------------------------------------------------------


def _widths(m: int) -> list[int]:
    base, extra = divmod(256, m)
    return [base + 1] * extra + [base] * (m - extra)


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
    return np.array(masks, dtype=np.uint32)


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


class _MultiIndex:
    """Multi-index hashing over (N, 32) uint8 hashes; returns candidate row numbers (duplicates kept)."""

    def __init__(self, hashes: np.ndarray, threshold: int) -> None:
        self.threshold = threshold
        n = len(hashes)
        self.m = choose_chunks(n, threshold)
        self.widths = _widths(self.m)
        self.starts = np.cumsum([0, *self.widths[:-1]]).tolist()
        index_type = np.int32 if self.m * n < 2**31 else np.int64
        big = np.ascontiguousarray(hashes).view(">u8").reshape(-1, 4).astype(np.uint64)
        self.bases = np.cumsum([0, *[(1 << w) + 1 for w in self.widths[:-1]]]).astype(np.int64)
        self.offsets: np.ndarray = np.empty(int(sum((1 << w) + 1 for w in self.widths)), dtype=index_type)
        self.order = np.empty(self.m * n, dtype=index_type)
        for j, (start, width) in enumerate(zip(self.starts, self.widths, strict=True)):
            column = _chunk_values(big, start, width)
            sort = np.argsort(column, kind="stable")
            self.order[j * n : (j + 1) * n] = sort
            base = int(self.bases[j])
            self.offsets[base] = j * n
            np.cumsum(np.bincount(column, minlength=1 << width), out=self.offsets[base + 1 : base + (1 << width) + 1])
            self.offsets[base + 1 : base + (1 << width) + 1] += j * n
        del big
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
            bounds = self.offsets[base : base + (1 << width) + 1].astype(np.int64) - j * n
            out.offsets[base : base + (1 << width) + 1] = before[bounds] + j * kept
        out._plans = {}
        return out

    def _plan(self, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(chunk number, xor mask, bucket table base) of every probe for radius r."""
        plan = self._plans.get(r)
        if plan is None:
            chunks, masks = [], []
            for j, (width, radius) in enumerate(zip(self.widths, _radii(self.m, r), strict=True)):
                if radius >= 0:
                    found = _masks(width, radius)
                    chunks.append(np.full(len(found), j, dtype=np.int64))
                    masks.append(found)
            chunk_of = np.concatenate(chunks)
            plan = self._plans[r] = (chunk_of, np.concatenate(masks).astype(np.int64), self.bases[chunk_of])
        return plan

    def query_chunks(self, query: np.ndarray) -> np.ndarray:
        whole = int.from_bytes(query.tobytes(), "big")  # plain integers: cheaper than arrays for one hash
        return np.array(
            [(whole >> (256 - s - w)) & ((1 << w) - 1) for s, w in zip(self.starts, self.widths, strict=True)],
            dtype=np.int64,
        )

    def candidates_many(self, queries: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
        """(query number, candidate row) for a batch of (B, 32) queries, in one pass of array operations."""
        chunk_of, masks, base_of = self._plan(r)
        big = np.ascontiguousarray(queries).view(">u8").reshape(-1, 4).astype(np.uint64)
        values = np.stack(
            [_chunk_values(big, s, w).astype(np.int64) for s, w in zip(self.starts, self.widths, strict=True)], axis=1
        )
        slots = (base_of[None, :] + (values[:, chunk_of] ^ masks[None, :])).ravel()
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

    def candidates(self, query: np.ndarray, r: int) -> np.ndarray:
        chunk_of, masks, base_of = self._plan(r)
        slots = base_of + (self.query_chunks(query)[chunk_of] ^ masks)
        starts = self.offsets[slots]
        lengths = self.offsets[slots + 1] - starts
        ends = np.cumsum(lengths)
        total = int(ends[-1])
        if total == 0:
            return np.empty(0, dtype=np.int64)
        # Positions of every candidate in `order`: a ragged concatenation of ranges without a Python loop.
        shifts = np.repeat(starts - (ends - lengths), lengths)
        return np.take(self.order, np.arange(total) + shifts)


@dataclass(frozen=True)
class Hits:
    """Rows within the threshold, nearest first (at most `limit` of them if one was asked), and how many
    rows were within the threshold in all."""

    rows: np.ndarray
    distances: np.ndarray
    total: int


def _nearest_first(rows: np.ndarray, dists: np.ndarray, limit: int | None) -> Hits:
    total = len(rows)
    if total <= 1 and (limit is None or limit >= total):
        return Hits(rows, dists.astype(np.int64), total)
    if limit is not None and total > limit:
        keep = np.argpartition(dists, limit - 1)[:limit] if limit > 0 else np.empty(0, dtype=np.int64)
        rows, dists = rows[keep], dists[keep]
    # Distances are small integers: a stable sort of bytes is a radix sort, cheap for many hits.
    order = np.argsort(dists.astype(np.uint16), kind="stable")
    return Hits(rows[order], dists[order].astype(np.int64), total)


class PdqIndex:
    """Immutable exact index over (N, 32) uint8 hashes; rows are positions in that array."""

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
        self.threshold = threshold
        self.size = len(hashes)
        hashes = np.ascontiguousarray(hashes)
        full = _MultiIndex(hashes, threshold) if self.size >= BRUTE_FORCE_BELOW else None
        members, centres, radii, bounds = _clusters(hashes, full, cluster_radius, min_cluster)
        clustered = np.concatenate(members) if members else np.empty(0, dtype=np.int64)
        self.clustered = len(clustered)
        self.centres = centres
        self.radii = np.asarray(radii, dtype=np.int64)
        # bounds[c][t]: stored position where cluster c's members at distance >= t from the centre begin.
        self.bounds = np.asarray(bounds, dtype=np.int64).reshape(len(radii), cluster_radius + 2)
        self._reach = (self.radii + threshold).astype(np.uint32)  # a centre farther than this: no member
        row_type = np.int32 if self.size < 2**31 else np.int64
        if not members:  # nothing crowded: the index over every hash is the one to keep
            self.rows = np.arange(self.size, dtype=row_type)
            self.words = _words(hashes)
            self.multi = full
            return
        rest = np.ones(self.size, dtype=bool)
        rest[clustered] = False
        singles = np.flatnonzero(rest)
        # Stored order: cluster by cluster (each sorted by distance to its centre), then every other hash.
        self.rows = np.concatenate((clustered, singles)).astype(row_type)
        self.words = _words(hashes[self.rows])
        assert full is not None  # clusters are only looked for with a multi-index
        self.multi = full.subset(rest) if len(singles) >= BRUTE_FORCE_BELOW else None

    def __len__(self) -> int:
        return self.size

    @property
    def clusters(self) -> int:
        return len(self.radii)

    @property
    def nbytes(self) -> int:
        own = self.words.nbytes + self.rows.nbytes + self.centres.nbytes + self.bounds.nbytes
        return int(own + (self.multi.nbytes if self.multi is not None else 0))

    def query(self, query: np.ndarray, threshold: int | None = None, limit: int | None = None) -> Hits:
        """Every row within `threshold` (default: the index's; at most it) of one (32,) uint8 hash."""
        r = self.threshold if threshold is None else min(threshold, self.threshold)
        q = np.ascontiguousarray(query, dtype=np.uint8).reshape(32).view(np.uint64)
        found_rows: list[np.ndarray] = []
        found_dists: list[np.ndarray] = []
        if self.clusters:
            # One popcount per centre; an exact complement wraps to 0 here, which only costs a slice scan.
            counts = np.bitwise_count(self.centres ^ q).view(np.uint32).ravel()
            near = (counts * np.uint32(0x01010101)) >> np.uint32(24)
            reach = self._reach if r == self.threshold else self.radii + r
            for c in np.flatnonzero(near <= reach).tolist():
                x = int(near[c])
                # Members at distance t from the centre can match only if |x - t| <= r.
                lo = self.bounds[c, max(0, x - r)]
                hi = self.bounds[c, min(int(self.radii[c]), x + r) + 1]
                if hi > lo:
                    hit, d = _within(self.words[lo:hi], q, r)
                    found_rows.append(hit + lo)
                    found_dists.append(d)
        if self.multi is not None:
            candidates = self.multi.candidates(query, r)
            if self.clustered:
                candidates += self.clustered
            hit, found_d = _within(np.take(self.words, candidates, axis=0), q, r)
            found = candidates[hit]
            if len(found) > 1:  # a hash may be a candidate through several chunks: keep it once
                found, first = np.unique(found, return_index=True)
                found_d = found_d[first]
            found_rows.append(found)
            found_dists.append(found_d)
        elif self.size > self.clustered:
            hit, d = _within(self.words[self.clustered :], q, r)
            found_rows.append(hit + self.clustered)
            found_dists.append(d)
        if not found_rows:
            return Hits(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), 0)
        if len(found_rows) == 1:
            positions, dists = found_rows[0], found_dists[0]
        else:
            positions, dists = np.concatenate(found_rows), np.concatenate(found_dists)
        return _nearest_first(self.rows[positions].astype(np.int64), dists, limit)

    def pairs(self, queries: np.ndarray, threshold: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(query number, row) of every row within the threshold of each of (B, 32) queries: the hashes
        outside clusters are looked up for the whole batch at once (what grouping many hashes needs)."""
        r = self.threshold if threshold is None else min(threshold, self.threshold)
        words = _words(queries)
        found_q: list[np.ndarray] = []
        found_rows: list[np.ndarray] = []
        if self.clusters:
            for start in range(0, len(queries), 256):  # (256, K, 4) words at a time
                block = words[start : start + 256]
                near = np.bitwise_count(block[:, None, :] ^ self.centres[None, :, :]).sum(axis=2, dtype=np.int64)
                for i, c in zip(*np.nonzero(near <= r + self.radii[None, :]), strict=True):
                    x = int(near[i, c])
                    lo = self.bounds[c, max(0, x - r)]
                    hi = self.bounds[c, min(int(self.radii[c]), x + r) + 1]
                    if hi > lo:
                        hit, _ = _within(self.words[lo:hi], words[start + i], r)
                        found_q.append(np.full(len(hit), start + i, dtype=np.int64))
                        found_rows.append(hit + lo)
        if self.multi is not None:
            for start in range(0, len(queries), 1024):
                q_of, candidates = self.multi.candidates_many(queries[start : start + 1024], r)
                candidates += self.clustered
                counts = np.bitwise_count(np.take(self.words, candidates, axis=0) ^ words[start + q_of])
                within = counts.sum(axis=1, dtype=np.int64) <= r
                key = np.unique((q_of[within] + start) * (self.size + 1) + candidates[within])
                found_q.append(key // (self.size + 1))
                found_rows.append(key % (self.size + 1))
        elif self.size > self.clustered:
            for i in range(len(queries)):
                hit, _ = _within(self.words[self.clustered :], words[i], r)
                found_q.append(np.full(len(hit), i, dtype=np.int64))
                found_rows.append(hit + self.clustered)
        if not found_q:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        return np.concatenate(found_q), self.rows[np.concatenate(found_rows)].astype(np.int64)

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
    cluster's largest member distance, and per cluster the offsets (in the final stored order) at which the
    members at distance >= t begin, for t = 0..radius+1."""
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
            near = np.unique(finder.candidates(centre, finder.threshold))
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
            link(index.rows[lo:hi].astype(np.int64))
            skip[index.rows[lo:hi]] = True
            cores.append((c, lo, hi))
    for a, (ca, alo, ahi) in enumerate(cores):
        for cb, blo, bhi in cores[a + 1 :]:
            if int(distances(index.centres[ca : ca + 1], index.centres[cb])[0]) > threshold + 2 * half:
                continue  # no member of one core can be within the threshold of the other's
            for position in range(alo, ahi):
                if len(_within(index.words[blo:bhi], index.words[position], threshold)[0]):
                    link(np.array([index.rows[alo], index.rows[blo]], dtype=np.int64))
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
