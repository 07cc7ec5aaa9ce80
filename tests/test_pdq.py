"""Multi-index hashing must find every hash within the threshold: compared with brute force."""

from __future__ import annotations

import numpy as np

from shieldwall.match.pdq_index import PdqIndex, hex_to_bytes


def flip_bits(hashes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    bits = np.unpackbits(hashes, axis=1)
    for row, count in enumerate(counts):
        bits[row, rng.choice(256, int(count), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def brute_force(bank: np.ndarray, query: np.ndarray, threshold: int) -> set[int]:
    distances = np.unpackbits(bank ^ query, axis=1).sum(axis=1)
    return set(np.flatnonzero(distances <= threshold).tolist())


def test_every_planted_near_duplicate_is_found_at_every_distance_up_to_31() -> None:
    rng = np.random.default_rng(42)
    bank = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    index = PdqIndex(bank)
    sources = rng.integers(0, len(bank), 320)
    distances = np.arange(320) % 32  # ten queries at each distance 0..31
    queries = flip_bits(bank[sources], distances, rng)
    for query, source, planted in zip(queries, sources, distances, strict=True):
        rows, found = index.search(query)
        assert source in rows.tolist()
        assert found[rows.tolist().index(source)] == planted
        assert set(rows.tolist()) == brute_force(bank, query, 31)


def test_beyond_the_threshold_is_not_a_match_and_other_thresholds_work() -> None:
    rng = np.random.default_rng(7)
    bank = rng.integers(0, 256, (5_000, 32), dtype=np.uint8)
    far = flip_bits(bank[:50], np.full(50, 40), rng)
    strict = PdqIndex(bank, threshold=31)
    loose = PdqIndex(bank, threshold=45)
    for i, query in enumerate(far):
        assert i not in strict.search(query)[0].tolist()
        assert i in loose.search(query)[0].tolist()
        assert set(loose.search(query)[0].tolist()) == brute_force(bank, query, 45)


def test_empty_index_and_hex_parsing() -> None:
    empty = PdqIndex(np.empty((0, 32), dtype=np.uint8))
    assert len(empty.search(np.zeros(32, dtype=np.uint8))[0]) == 0
    assert hex_to_bytes(["ff" * 32]).shape == (1, 32)
    for bad in (["ab"], ["zz" * 32]):
        try:
            hex_to_bytes(bad)
        except ValueError as error:
            assert "64 hex digits" in str(error)
        else:
            raise AssertionError("bad hex accepted")
