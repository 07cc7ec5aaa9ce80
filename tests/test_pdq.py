"""The shared PDQ index (shieldwall.pdq) must find every hash within the threshold: compared with brute force
on uniform banks and on banks crowded with near-copies of popular pictures (clusters)."""

from __future__ import annotations

import numpy as np
import pytest

from shieldwall.pdq import PdqIndex, choose_chunks, hex_to_bytes


def flip_bits(hashes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    bits = np.unpackbits(hashes, axis=1)
    for row, count in enumerate(counts):
        bits[row, rng.choice(256, int(count), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def brute_force(bank: np.ndarray, query: np.ndarray, threshold: int) -> dict[int, int]:
    distances = np.unpackbits(bank ^ query, axis=1).sum(axis=1)
    return {int(i): int(distances[i]) for i in np.flatnonzero(distances <= threshold)}


def crowded_bank(rng: np.random.Generator, size: int = 30_000) -> np.ndarray:
    """A third near-copies (0..40 bits) of 12 popular pictures with heavy-tailed popularity."""
    bank = rng.integers(0, 256, (size, 32), dtype=np.uint8)
    originals = rng.integers(0, 256, (12, 32), dtype=np.uint8)
    weights = 1 / np.arange(1, 13)
    source = rng.choice(12, size // 3, p=weights / weights.sum())
    bank[: size // 3] = flip_bits(originals[source], rng.integers(0, 41, size // 3), rng)
    return bank


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
        assert dict(zip(rows.tolist(), found.tolist(), strict=True)) == brute_force(bank, query, 31)


def test_crowded_banks_are_clustered_and_still_exact() -> None:
    rng = np.random.default_rng(3)
    bank = crowded_bank(rng)
    index = PdqIndex(bank)
    assert index.clusters >= 5 and index.clustered > len(bank) // 5  # the popular pictures became clusters
    queries = flip_bits(bank[rng.integers(0, len(bank), 200)], np.arange(200) % 32, rng)
    for query in queries:
        hits = index.query(query)
        truth = brute_force(bank, query, 31)
        assert hits.total == len(truth)
        assert dict(zip(hits.rows.tolist(), hits.distances.tolist(), strict=True)) == truth
        assert (np.diff(hits.distances) >= 0).all()  # nearest first
        # A smaller threshold per query, still exact.
        assert set(index.search(query, threshold=12)[0].tolist()) == set(brute_force(bank, query, 12))


def test_a_limit_keeps_the_nearest_and_reports_the_total() -> None:
    rng = np.random.default_rng(5)
    bank = crowded_bank(rng)
    index = PdqIndex(bank)
    query = bank[0]
    everything = index.query(query)
    assert everything.total > 20
    capped = index.query(query, limit=20)
    assert capped.total == everything.total and len(capped.rows) == 20
    assert capped.distances.tolist() == everything.distances[:20].tolist()
    assert index.query(query, limit=0).total == everything.total


def test_beyond_the_threshold_is_not_a_match_and_other_thresholds_work() -> None:
    rng = np.random.default_rng(7)
    bank = rng.integers(0, 256, (5_000, 32), dtype=np.uint8)
    far = flip_bits(bank[:50], np.full(50, 40), rng)
    strict = PdqIndex(bank, threshold=31)
    loose = PdqIndex(bank, threshold=45)
    for i, query in enumerate(far):
        assert i not in strict.search(query)[0].tolist()
        assert i in loose.search(query)[0].tolist()
        assert set(loose.search(query)[0].tolist()) == set(brute_force(bank, query, 45))


def test_small_banks_are_scanned_and_the_complement_is_far() -> None:
    rng = np.random.default_rng(9)
    bank = rng.integers(0, 256, (100, 32), dtype=np.uint8)
    index = PdqIndex(bank)
    assert index.multi is None
    assert index.search(bank[7])[0].tolist() == [7]
    assert index.search(~bank[7])[0].tolist() == []  # 256 bits apart, not 0


@pytest.mark.parametrize("size", [10_000, 1_000_000, 10_000_000])
def test_chunks_stay_within_their_memory_budget(size: int) -> None:
    m = choose_chunks(size, 31)
    widths = [256 // m + (i < 256 % m) for i in range(m)]
    assert sum(widths) == 256 and max(widths) <= 24
    assert m == 16 or sum(2**w for w in widths) <= 2 * m * size


def test_empty_index_and_hex_parsing() -> None:
    empty = PdqIndex(np.empty((0, 32), dtype=np.uint8))
    assert len(empty.search(np.zeros(32, dtype=np.uint8))[0]) == 0
    assert empty.query(np.zeros(32, dtype=np.uint8)).total == 0
    assert hex_to_bytes(["ff" * 32]).shape == (1, 32)
    for bad in (["ab"], ["zz" * 32]):
        with pytest.raises(ValueError, match="64 hex digits"):
            hex_to_bytes(bad)


def test_components_link_every_pair_within_the_threshold() -> None:
    from shieldwall.pdq import components

    rng = np.random.default_rng(11)
    bank = crowded_bank(rng, 6_000)
    # Two copies 0..31 bits apart, placed far apart in the array, are one group, whatever else is there.
    base = rng.integers(0, 256, (40, 32), dtype=np.uint8)
    copies = flip_bits(base, np.arange(40) % 32, rng)
    bank = np.concatenate((base, bank, copies))
    labels = components(bank, 31)
    assert all(labels[i] == labels[len(bank) - 40 + i] for i in range(40))
    # The same groups as brute force: every pair's distance, then union-find.
    n = len(bank)
    words = bank.view(np.uint64).reshape(-1, 4)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in range(n):
        near = np.flatnonzero(np.bitwise_count(words[i + 1 :] ^ words[i]).sum(axis=1) <= 31) + i + 1
        for j in near.tolist():
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    truth = np.array([find(i) for i in range(n)])
    assert (labels == truth).all()


def test_detect_groups_reposts_of_one_picture_at_every_distance_up_to_31() -> None:
    """detect/pdq.py uses this index: copies 0..31 bits apart share no exact 32-bit block most of the time
    (the block scheme detect had before missed them); every one is grouped now, and 32+ bits is not."""
    import pyarrow as pa

    from shieldwall.detect.pdq import media_groups

    rng = np.random.default_rng(12)
    originals = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    copies = flip_bits(originals, np.arange(32), rng)  # copy i is i bits from its original
    far = flip_bits(originals, np.full(32, 40), rng)
    noise = rng.integers(0, 256, (5_000, 32), dtype=np.uint8)
    hexes = [bytes(h).hex() for h in np.concatenate((originals, noise, copies, far))]
    groups = media_groups(pa.array(hexes), max_distance=31)
    for i in range(32):
        assert groups[i] == groups[32 + 5_000 + i] == i
        assert groups[32 + 5_000 + 32 + i] != i


def test_batched_pairs_are_exactly_the_single_lookups() -> None:
    rng = np.random.default_rng(21)
    bank = crowded_bank(rng, 12_000)
    index = PdqIndex(bank)
    queries = flip_bits(bank[rng.integers(0, len(bank), 300)], np.arange(300) % 32, rng)
    query_of, rows = index.pairs(queries)
    for i, query in enumerate(queries):
        assert set(rows[query_of == i].tolist()) == set(index.search(query)[0].tolist())


def _nearest_first(truth: dict[int, int]) -> list[tuple[int, int]]:
    return sorted(truth.items(), key=lambda item: (item[1], item[0]))


@pytest.mark.parametrize("seed", [31, 32])
def test_every_path_of_a_crowded_bank_agrees_with_brute_force_in_order(seed: int) -> None:
    """Queries near big clusters, near singles and far from both: every hit, nearest first (ties by row),
    with per-query thresholds from 0 to the index's."""
    rng = np.random.default_rng(seed)
    bank = crowded_bank(rng, 20_000)
    bank[100:110] = bank[5]  # identical hashes are distinct rows
    index = PdqIndex(bank)
    assert index.clusters and index.multi is not None
    sources = rng.integers(0, len(bank), 150)
    queries = flip_bits(bank[sources], np.arange(150) % 40, rng)  # some beyond the threshold
    for query in [*queries, bank[5]]:
        for threshold in (31, 17, 0):
            hits = index.query(query, threshold=threshold)
            truth = brute_force(bank, query, threshold)
            assert hits.total == len(truth)
            assert list(zip(hits.rows.tolist(), hits.distances.tolist(), strict=True)) == _nearest_first(truth)
    assert set(index.search(bank[5])[0].tolist()) >= {5, *range(100, 110)}


def test_threshold_zero_and_the_maximum_threshold() -> None:
    rng = np.random.default_rng(41)
    bank = crowded_bank(rng, 12_000)
    exact = PdqIndex(bank, threshold=0)
    widest = PdqIndex(bank, threshold=47)
    queries = flip_bits(bank[rng.integers(0, len(bank), 60)], np.arange(60) % 50, rng)
    for query in [*queries, bank[0], bank[len(bank) - 1]]:
        assert set(exact.search(query)[0].tolist()) == set(brute_force(bank, query, 0))
        truth = brute_force(bank, query, 47)
        hits = widest.query(query)
        assert list(zip(hits.rows.tolist(), hits.distances.tolist(), strict=True)) == _nearest_first(truth)
        assert set(widest.search(query, threshold=31)[0].tolist()) == set(brute_force(bank, query, 31))
    assert widest.query(queries[0], threshold=-1).total == 0


def test_limits_keep_the_nearest_hits_from_clusters_and_singles_together() -> None:
    rng = np.random.default_rng(43)
    bank = crowded_bank(rng, 15_000)
    index = PdqIndex(bank)
    for source in rng.integers(0, len(bank) // 3, 20).tolist():  # near-copies: clusters and singles both hit
        query = flip_bits(bank[source : source + 1], np.array([6]), rng)[0]
        ordered = _nearest_first(brute_force(bank, query, 31))
        for limit in (0, 1, 7, len(ordered) - 1, len(ordered), len(ordered) + 5):
            if limit < 0:
                continue
            capped = index.query(query, limit=limit)
            assert capped.total == len(ordered)
            assert list(zip(capped.rows.tolist(), capped.distances.tolist(), strict=True)) == ordered[:limit]


def test_complements_of_centres_and_members_are_256_bits_away() -> None:
    """Byte-sized popcount sums wrap 256 to 0: a complement must never come back as an exact match."""
    rng = np.random.default_rng(47)
    bank = crowded_bank(rng, 12_000)
    index = PdqIndex(bank)
    centre = index.centres[0].view(np.uint8).copy()
    bank = np.concatenate((bank, np.repeat(centre[None, :], 3, axis=0)))  # members equal to the centre
    index = PdqIndex(bank)
    assert any((c.view(np.uint8) == centre).all() for c in index.centres)
    for query in (~centre, ~bank[0], ~bank[-1], ~bank[len(bank) // 2]):
        assert set(index.search(query)[0].tolist()) == set(brute_force(bank, query, 31))
        assert 0 not in index.search(query)[1].tolist()


def test_few_hashes_beside_big_clusters_are_scanned_whole() -> None:
    rng = np.random.default_rng(53)
    original = rng.integers(0, 256, (2, 32), dtype=np.uint8)
    copies = flip_bits(original[np.arange(6_000) % 2], rng.integers(0, 30, 6_000), rng)
    bank = np.concatenate((copies, rng.integers(0, 256, (500, 32), dtype=np.uint8)))
    index = PdqIndex(bank)
    assert index.clusters >= 2 and index.multi is None and len(index.words) < 4096
    for query in flip_bits(bank[rng.integers(0, len(bank), 40)], np.arange(40) % 32, rng):
        hits = index.query(query)
        assert list(zip(hits.rows.tolist(), hits.distances.tolist(), strict=True)) == _nearest_first(
            brute_force(bank, query, 31)
        )
