"""Tunable parameters of a detection run, with defaults that suit a few days of platform data."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

SIGNALS = ("co_link", "co_domain", "co_reshare", "near_text", "media", "co_hashtags", "sync_timing")

# Per-signal time windows in seconds: two accounts co-act when they act on the same item this close.
DEFAULT_WINDOWS: dict[str, int] = {
    "co_link": 600,
    "co_domain": 300,
    "co_reshare": 300,
    "near_text": 900,
    "media": 900,
    "co_hashtags": 900,
    "sync_timing": 10,  # the item is the time bin of this width itself
}


@dataclass(frozen=True)
class DetectSettings:
    windows: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    signals: tuple[str, ...] = SIGNALS
    text_threshold: float = 0.6  # Jaccard similarity of character shingles for near-duplicates
    text_num_perm: int = 32
    text_shingle: int = 5
    text_min_chars: int = 25
    pdq_max_distance: int = 31  # Hamming distance (of 256 bits) at which two PDQ hashes are the same picture
    # Items acted on by more accounts than this say nothing about any pair (viral news, popular
    # sites); they are dropped before pairing, which also bounds the pair count.
    max_item_accounts: int = 300
    # Domains and time slots are crowded by nature: a slot shared by more accounts than this is busy, not
    # coordinated, and all-pairs over it would dominate the run.
    max_item_accounts_crowded: int = 60
    timing_posts_per_bin: int = 20  # sync_timing bins shrink (down to 1 s) when the data is denser than this
    memory_limit: str | None = None  # DuckDB memory limit (e.g. "12GB"); beyond it DuckDB spills to disk
    min_co_actions: int = 3  # a pair must co-act on at least this many distinct items in one signal
    max_p_value: float = 1e-6  # significance of the pair's co-actions against the popularity null model
    min_cluster_size: int = 3
    leiden_resolution: float = 1.0
    seed: int = 42
    shortener_map: dict[str, str] = field(default_factory=dict)
    threads: int | None = None

    def window(self, signal: str) -> int:
        return int(self.windows.get(signal, DEFAULT_WINDOWS[signal]))

    def max_accounts(self, signal: str) -> int:
        crowded = signal in ("co_domain", "sync_timing")
        return int(self.max_item_accounts_crowded if crowded else self.max_item_accounts)

    def for_posts(self, n_posts: int, span_seconds: float) -> DetectSettings:
        """Adapt the sync_timing bin to the data's density (same result for every engine)."""
        rate = n_posts / max(span_seconds, 1.0)
        width = max(1, min(self.window("sync_timing"), int(self.timing_posts_per_bin / max(rate, 1e-9))))
        return replace(self, windows={**self.windows, "sync_timing": width})
