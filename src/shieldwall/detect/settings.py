"""Tunable parameters of a detection run, with defaults that suit a few days of platform data."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

SIGNALS = (
    "co_link",
    "co_domain",
    "co_reshare",
    "near_text",
    "media",
    "co_hashtags",
    "co_hashtag",
    "sync_timing",
    "co_object",
)
# Signals whose item is used again and again (a website, a hashtag, an object id in CooRTweet's input
# shape): each burst of use is a separate item (see actions.episode_items_sql), so the same pair can
# co-act on it many times. The other items (a link, an original post, a text, a picture) are fresh.
REPEATED_SIGNALS = ("co_domain", "co_hashtag", "co_object")

# What a pair is tested against (DetectSettings.null_model): the data's own null, or none (CooRTweet's rule).
NULL_MODELS = ("data", "none")
NO_NULL = "none"

# Per-signal time windows in seconds: two accounts co-act when they act on the same item this close.
DEFAULT_WINDOWS: dict[str, int] = {
    "co_link": 600,
    "co_domain": 300,
    "co_reshare": 300,
    "near_text": 900,
    "media": 900,
    "co_hashtags": 900,
    "co_hashtag": 300,
    "sync_timing": 10,  # the item is the time bin of this width itself
    "co_object": 60,
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
    # Pairing budget B: an item on which some action has more than B others within the window is split
    # into buckets by a hash of the account, so that each action pairs with about B others (at most 2B
    # per partition, two partitions), the same pairs on every crowded item (see coaction.pair_queries).
    fan_out: int = 32
    # Time bins and single hashtags are crowded by nature (a busy second, a trending tag): co-presence
    # there is weak evidence, so fewer neighbours are worth their cost.
    fan_out_crowded: int = 16
    timing_posts_per_bin: int = 20  # sync_timing bins shrink (down to 1 s) when the data is denser than this
    memory_limit: str | None = None  # DuckDB memory limit (e.g. "12GB"); beyond it DuckDB spills to disk
    min_co_actions: int = 3  # a pair must co-act on at least this many distinct items in one signal
    # A pair is a strong edge, which builds clusters, at p <= min(max_p_value, chance_pairs / F) in a run
    # forming F in-window co-actions (family-wise: about chance_pairs pairs per run pass by chance, at 20k
    # posts as at 10M; see coaction.py). chance_pairs also bounds the accounts joining a cluster by chance
    # on pairs too weak alone (communities.py).
    max_p_value: float = 1e-6
    chance_pairs: float = 0.05
    # The null model's own uncertainty: co-action counts are tested as negative binomial with variance
    # E + dispersion * E^2 (an expectation trusted to within a factor of about two), not Poisson (see coaction.py).
    dispersion: float = 0.5
    # "data": pairs are tested against the null model estimated from the data (above). "none": CooRTweet's
    # fixed rule, a pair with min_co_actions co-actions in one signal within the window is an edge. For posts
    # collected around a suspected campaign, where the campaign is most of the data: the null, estimated
    # from that data, then reads the campaign's items as popular and its accounts as active, and explains
    # it away (200 accounts of 300 sharing the same 30 links within 2 minutes each: no cluster). On organic
    # data the fixed rule flags busy accounts that meet by chance (thousands at 200,000 posts).
    null_model: str = "data"
    min_cluster_size: int = 3
    leiden_resolution: float = 1.0
    seed: int = 42
    shortener_map: dict[str, str] = field(default_factory=dict)
    threads: int | None = None

    def window(self, signal: str) -> int:
        return int(self.windows.get(signal, DEFAULT_WINDOWS[signal]))

    def fan_out_for(self, signal: str) -> int:
        crowded = signal in ("sync_timing", "co_hashtag")
        return int(min(self.fan_out, self.fan_out_crowded) if crowded else self.fan_out)

    def episode_span(self, signal: str) -> int:
        """Longest episode of a repeated item: a hashtag in constant use is split into items this long."""
        return max(3_600, 20 * self.window(signal))

    def for_posts(self, n_posts: int, span_seconds: float) -> DetectSettings:
        """Adapt the sync_timing bin to the data's density (same result for every engine)."""
        rate = n_posts / max(span_seconds, 1.0)
        width = max(1, min(self.window("sync_timing"), int(self.timing_posts_per_bin / max(rate, 1e-9))))
        return replace(self, windows={**self.windows, "sync_timing": width})
