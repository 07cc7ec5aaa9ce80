"""Exact-recall Hamming range search over 256-bit PDQ hashes by multi-index hashing (Norouzi et al.).

Each hash is cut into 16 chunks of 16 bits. If two hashes differ in at most r bits, then by the pigeonhole
principle at least one chunk differs in at most floor(r / 16) bits; for the default r = 31 that is one
bit. So the candidates are the hashes whose chunk j equals the query's chunk j or one of its 16
one-bit neighbours, for some j: 16 x 17 bucket reads in CSR tables (argsort per chunk), about 4,000
candidates in a uniformly filled 1M bank instead of 1M, each verified by an exact popcount. Recall is
100% by construction, not by tuning; it only gets slower when buckets are crowded.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

CHUNKS = 16
CHUNK_BITS = 16
BUCKETS = 1 << CHUNK_BITS
DEFAULT_THRESHOLD = 31


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


def _flip_masks(radius: int) -> np.ndarray:
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(CHUNK_BITS), r)]
    return np.array(masks, dtype=np.uint32)


def _chunks(hashes: np.ndarray) -> np.ndarray:
    """(N, 16) big-endian 16-bit chunk values of (N, 32) uint8 hashes."""
    return (hashes[:, 0::2].astype(np.uint32) << 8) | hashes[:, 1::2]


class PdqIndex:
    """Immutable index over (N, 32) uint8 hashes; search returns row numbers and distances."""

    def __init__(self, hashes: np.ndarray, threshold: int = DEFAULT_THRESHOLD) -> None:
        if hashes.ndim != 2 or hashes.shape[1] != 32 or hashes.dtype != np.uint8:
            raise ValueError("PdqIndex wants an (N, 32) uint8 array")
        if not 0 <= threshold <= 3 * CHUNKS - 1:
            raise ValueError(f"threshold {threshold} out of range 0..{3 * CHUNKS - 1}")
        self.threshold = threshold
        self.size = len(hashes)
        self.words = np.ascontiguousarray(hashes).view(np.uint64).reshape(-1, 4)
        self.masks = _flip_masks(threshold // CHUNKS)
        chunks = _chunks(hashes)
        self.order = np.empty(CHUNKS * self.size, dtype=np.int32 if self.size < 2**31 else np.int64)
        self.offsets = np.empty((CHUNKS, BUCKETS + 1), dtype=np.int64)
        for j in range(CHUNKS):
            column = chunks[:, j]
            self.order[j * self.size : (j + 1) * self.size] = np.argsort(column, kind="stable")
            self.offsets[j, 0] = j * self.size
            np.cumsum(np.bincount(column, minlength=BUCKETS), out=self.offsets[j, 1:])
            self.offsets[j, 1:] += j * self.size
        self._chunk_rows = np.arange(CHUNKS)[:, None]

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        return int(self.words.nbytes + self.order.nbytes + self.offsets.nbytes)

    def search(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows within threshold of one (32,) uint8 query, and their distances, nearest first."""
        if self.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        q_chunks = _chunks(query.reshape(1, 32))[0]
        buckets = q_chunks[:, None] ^ self.masks[None, :]
        starts = self.offsets[self._chunk_rows, buckets].ravel()
        ends = self.offsets[self._chunk_rows, buckets + 1].ravel()
        lengths = ends - starts
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        # Positions of every candidate in `order`: a ragged concatenation of ranges without a loop.
        shifts = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        candidates = np.take(self.order, np.arange(total) + shifts)
        q_words = np.ascontiguousarray(query).view(np.uint64)
        # np.take and column sums are several times faster than 2-D fancy indexing and .sum(axis=1) here.
        bits = np.bitwise_count(np.take(self.words, candidates, axis=0) ^ q_words)
        distances = (bits[:, 0] + bits[:, 1]).astype(np.int64) + (bits[:, 2] + bits[:, 3])
        hit = distances <= self.threshold
        rows, first = np.unique(candidates[hit], return_index=True)
        dists = distances[hit][first]
        by_distance = np.argsort(dists, kind="stable")
        return rows[by_distance].astype(np.int64), dists[by_distance]

    def search_many(self, queries: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self.search(q) for q in queries]
