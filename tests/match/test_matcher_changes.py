"""A matcher snapshot takes a few added and removed signals without a rebuild (Matcher.apply_changes): an added
signal matches at once, a removed one never again, and PDQ hashes added beyond the small side index are merged
into a new main index without losing or reviving anything."""

from __future__ import annotations

import numpy as np
import pytest

from shieldwall.match import matcher as matcher_module
from shieldwall.match.matcher import BankInfo, Matcher, SignalRows
from shieldwall.match.service import match_value
from shieldwall.match.text import normalise_text
from shieldwall.match.urls import split_url
from shieldwall.stix.tlp import TLP

TEXT = "Vote early, vote often: the polls close at noon on Tuesday, not Wednesday!"


def random_hexes(rng: np.random.Generator, count: int) -> list[str]:
    return [bytes(h).hex() for h in rng.integers(0, 256, (count, 32), dtype=np.uint8)]


def flipped(hex_hash: str, bits: int, rng: np.random.Generator) -> str:
    value = np.unpackbits(np.frombuffer(bytes.fromhex(hex_hash), dtype=np.uint8))
    value[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(value).tobytes().hex()


def signal(rows: SignalRows, signal_id: int, bank_id: int, kind: str, value: str) -> None:
    rows.append(signal_id, bank_id, kind, value, f"source-{signal_id}", int(TLP.CLEAR), f"signal {signal_id}")


def ids(matcher: Matcher, kind: str, raw: str) -> list[int]:
    result = match_value(matcher, kind, raw)
    assert result.error is None, result.error
    return [hit.signal_id for hit in result.matches]


@pytest.fixture
def bank() -> tuple[Matcher, list[str]]:
    """5,000 PDQ signals (enough for the multi-index), a URL and a text."""
    rng = np.random.default_rng(61)
    hexes = random_hexes(rng, 5_000)
    rows = SignalRows()
    for i, value in enumerate(hexes):
        signal(rows, i + 1, 1, "pdq", value)
    signal(rows, 9_001, 1, "url", split_url("https://example.com/a")[0])
    signal(rows, 9_002, 2, "text", normalise_text(TEXT))
    matcher = Matcher([BankInfo(1, "pictures"), BankInfo(2, "strict", pdq_threshold=20)], rows)
    assert matcher.pdq_index.multi is not None
    return matcher, hexes


def test_an_added_signal_matches_at_once_and_a_removed_one_never(bank: tuple[Matcher, list[str]]) -> None:
    matcher, hexes = bank
    rng = np.random.default_rng(62)
    new = random_hexes(rng, 2)
    assert ids(matcher, "pdq", flipped(new[0], 10, rng)) == []
    added = SignalRows()
    signal(added, 10_001, 1, "pdq", new[0])
    signal(added, 10_002, 2, "pdq", new[1])  # the strict bank: within 20 bits only
    signal(added, 10_003, 1, "url", split_url("https://example.org/b")[0])
    signal(added, 10_004, 1, "text", normalise_text("A brand new rumour about the count, shared widely today."))
    matcher.apply_changes(added, removed_ids=[1, 9_001, 9_002])

    assert ids(matcher, "pdq", flipped(new[0], 10, rng)) == [10_001]
    assert ids(matcher, "pdq", new[1]) == [10_002]
    assert ids(matcher, "pdq", flipped(new[1], 25, rng)) == []  # beyond its bank's threshold
    assert ids(matcher, "url", "https://example.org/b") == [10_003]
    assert ids(matcher, "text", "A brand new rumour about the count, shared widely today!") == [10_004]
    # Removed: signal 1 (PDQ, still in the main index), the URL and the text.
    assert ids(matcher, "pdq", hexes[0]) == [] and ids(matcher, "pdq", flipped(hexes[0], 5, rng)) == []
    assert ids(matcher, "url", "https://example.com/a") == []
    assert ids(matcher, "text", TEXT) == []
    assert ids(matcher, "pdq", hexes[1]) == [2]  # the others still match
    assert matcher.counts() == {"pdq": 5_001, "url": 1, "text": 1}
    # An added signal can be removed again.
    matcher.apply_changes(SignalRows(), removed_ids=[10_001])
    assert ids(matcher, "pdq", new[0]) == []


def test_hits_from_the_main_and_the_added_index_come_nearest_first(bank: tuple[Matcher, list[str]]) -> None:
    matcher, hexes = bank
    rng = np.random.default_rng(63)
    query = flipped(hexes[10], 4, rng)
    added = SignalRows()
    signal(added, 20_001, 1, "pdq", flipped(query, 2, rng))  # nearer than the bank's own copy
    signal(added, 20_002, 1, "pdq", flipped(query, 12, rng))  # farther
    matcher.apply_changes(added)
    hits = match_value(matcher, "pdq", query).matches
    assert [h.signal_id for h in hits] == [20_001, 11, 20_002]
    assert [h.distance for h in hits] == [2.0, 4.0, 12.0]


def test_many_added_hashes_are_merged_and_stay_exact(
    bank: tuple[Matcher, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    matcher, hexes = bank
    monkeypatch.setattr(matcher_module, "PDQ_MERGE_AT", 8)
    rng = np.random.default_rng(64)
    new = random_hexes(rng, 20)
    for i, value in enumerate(new):
        added = SignalRows()
        signal(added, 30_000 + i, 1, "pdq", value)
        matcher.apply_changes(added, removed_ids=[30_000 + i - 1] if i % 5 == 0 and i else ())
        assert ids(matcher, "pdq", flipped(value, 8, rng)) == [30_000 + i]  # at once
    assert len(matcher.pdq_index) > 5_000  # merged into the main index at least once
    assert len(matcher._pdq.added_rows) < 8
    for i, value in enumerate(new):
        expected = [] if (i + 1) % 5 == 0 and i + 1 < 20 else [30_000 + i]
        assert ids(matcher, "pdq", value) == expected
    assert ids(matcher, "pdq", hexes[3]) == [4]


def test_changes_naming_an_unknown_bank_or_a_bad_hash_change_nothing(bank: tuple[Matcher, list[str]]) -> None:
    matcher, _ = bank
    before = len(matcher.rows)
    for bank_id, value in ((7, "ab" * 32), (1, "not a hash")):
        added = SignalRows()
        signal(added, 40_001, bank_id, "pdq", value)
        with pytest.raises(ValueError):
            matcher.apply_changes(added)
        assert len(matcher.rows) == before


def test_many_removals_rebuild_the_pdq_index_without_the_dead(bank: tuple[Matcher, list[str]]) -> None:
    matcher, hexes = bank
    matcher.apply_changes(SignalRows(), removed_ids=range(1, 4_200))  # more than PDQ_MERGE_AT
    assert len(matcher.pdq_index) == 5_000 - 4_199  # rebuilt over the live hashes only
    rng = np.random.default_rng(65)
    for i in rng.integers(0, 5_000, 50).tolist():
        assert ids(matcher, "pdq", flipped(hexes[i], 3, rng)) == ([] if i < 4_199 else [i + 1])
    matcher.apply_changes(SignalRows(), removed_ids=[4_500])  # one more: no rebuild, still never matches
    assert len(matcher.pdq_index) == 801 and ids(matcher, "pdq", hexes[4_499]) == []
