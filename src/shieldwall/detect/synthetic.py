"""Synthetic platform data with planted coordinated groups and hard negatives, and scoring against them.

Organic activity: heavy-tailed account activity, a daily rhythm, Zipf-popular URLs (with tracking
parameters and case variants), reshares, hashtags and pictures; stock phrases reused organically;
viral bursts where hundreds of accounts share one item within minutes. Planted groups (one per
signal kind, repeated) act together on fresh items in a few episodes and otherwise post like
everybody else, under ordinary-looking account ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shieldwall.detect.settings import DEFAULT_WINDOWS

GROUP_KINDS = ("co_link", "co_domain", "co_reshare", "near_text", "media", "co_hashtags", "sync_timing")
START = 1_717_200_000  # 2024-06-01 00:00 UTC
STOCK_PHRASES = (
    "happy election day everyone, remember to vote and bring your id",
    "polls are open until eight tonight, find your polling station online",
    "thank you to all the volunteers working at the polling stations today",
    "breaking: turnout is higher than at the last election according to officials",
    "do not forget to check your registration before the deadline this week",
)


@dataclass
class SyntheticData:
    posts: pa.Table
    truth: dict[str, int]  # planted account id -> group number
    group_kinds: list[str]


def generate(
    n_posts: int = 20_000,
    n_accounts: int = 2_000,
    n_groups: int | None = None,
    *,
    days: int = 7,
    seed: int = 7,
    group_size: tuple[int, int] = (8, 30),
    spread: int = 240,
    cover: float = 1.0,
    bursts: int | None = None,
    burst_size: tuple[int, int] = (150, 500),
    signal_kinds: tuple[str, ...] = GROUP_KINDS,
) -> SyntheticData:
    """Posts with planted groups. The keywords set the quality grid's axes (bench/detect_quality_grid.py):
    group_size, the range of members per group (upper bound excluded); spread, the seconds over which a
    group's episode is spread (sync_timing groups always use 5); cover, how much more than an ordinary
    account of the same rank each member posts organically; bursts and burst_size, the organic viral
    bursts; signal_kinds, the kinds the groups cycle through."""
    rng = np.random.default_rng(seed)
    n_groups = n_groups if n_groups is not None else max(len(GROUP_KINDS), min(70, n_posts // 15_000))
    span = days * 86_400
    activity = 1.0 / np.arange(1, n_accounts + 1) ** 0.8
    activity = rng.permutation(activity / activity.sum())
    account_ids = np.array([f"u{i:07d}" for i in range(n_accounts)])
    words = np.array([f"{w}{rng.integers(10, 99)}" for w in _syllable_words(rng, 8_000)])

    parts: list[dict[str, np.ndarray]] = []
    planted: dict[str, int] = {}
    kinds: list[str] = []
    group_accounts = rng.permutation(n_accounts)
    cursor = 0
    for group in range(n_groups):
        kind = signal_kinds[group % len(signal_kinds)]
        size = int(rng.integers(*group_size))
        members = group_accounts[cursor : cursor + size]
        cursor += size
        kinds.append(kind)
        for m in members:
            planted[str(account_ids[m])] = group
        parts.append(_planted_group(rng, group, kind, members, span, words, spread))
    planted_posts = sum(len(p["account"]) for p in parts)
    if cover != 1.0:  # members post organically more (or less) than ordinary accounts of their rank
        members = group_accounts[:cursor]
        activity = activity.copy()
        activity[members] *= cover
        activity /= activity.sum()

    n_bursts = bursts if bursts is not None else max(2, n_posts // 20_000)
    for burst in range(n_bursts):
        parts.append(_viral_burst(rng, burst, activity, span, words, burst_size))
    burst_posts = sum(len(p["account"]) for p in parts) - planted_posts
    parts.append(_organic(rng, max(n_posts - planted_posts - burst_posts, 0), activity, span, words))

    columns = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(columns["ts"], kind="stable")
    columns = {k: v[order] for k, v in columns.items()}
    n = len(order)
    posts = pa.table(
        {
            "post_id": pa.array([f"p{i:09d}" for i in range(n)]),
            "account_id": pa.array(account_ids[columns["account"]]),
            "created_at": pa.array((START + columns["ts"]) * 1_000_000, pa.timestamp("us", tz="UTC")),
            "platform": pa.array(np.full(n, "synthetic")),
            "text": pa.array(columns["text"]),
            "urls": _lists(columns["url"]),
            "reshare_of": _null_if_empty(columns["reshare"]),
            "hashtags": _lists(columns["hashtags"]),
            "media_pdq": _lists(columns["media"]),
        }
    )
    return SyntheticData(posts=posts, truth=planted, group_kinds=kinds)


def _null_if_empty(values: np.ndarray) -> pa.Array:
    array = pa.array(values, pa.string())
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)


def _syllable_words(rng: np.random.Generator, count: int) -> list[str]:
    syllables = np.array(["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fi", "go", "ha", "ju", "pe"])
    picks = syllables[rng.integers(0, len(syllables), (count, 3))]
    return ["".join(p) for p in picks]


def _lists(values: np.ndarray) -> pa.Array:
    """Space-separated strings ('' for none) to a list<string> column, vectorised by Arrow."""
    return _drop_empty(pc.split_pattern(pa.array(values, pa.string()), " "))


def _drop_empty(split: pa.Array) -> pa.Array:
    flat = pc.list_flatten(split)
    parents = pc.list_parent_indices(split).to_numpy()
    keep = np.asarray(pc.not_equal(flat, "").to_numpy(zero_copy_only=False), dtype=bool)
    counts = np.bincount(parents[keep], minlength=len(split))
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int32)
    values = flat.filter(pa.array(keep))
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _texts(rng: np.random.Generator, words: np.ndarray, n: int, low: int = 8, high: int = 16) -> np.ndarray:
    lengths = rng.integers(low, high, n)
    # Zipf-ish word choice: common words are shared, whole sentences are not.
    picks = np.minimum(rng.zipf(1.3, int(lengths.sum())) - 1, len(words) - 1)
    offsets64 = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    lists = pa.LargeListArray.from_arrays(pa.array(offsets64), pa.array(words, pa.large_string()).take(pa.array(picks)))
    return np.asarray(
        pc.binary_join(lists, pa.scalar(" ", pa.large_string())).to_numpy(zero_copy_only=False), dtype=object
    )


def _hex(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    return np.array([bytes(r).hex() for r in raw], dtype=object) if n else np.zeros(0, dtype=object)


def _empty(n: int) -> np.ndarray:
    return np.full(n, "", dtype=object)


def _organic(
    rng: np.random.Generator, n: int, activity: np.ndarray, span: int, words: np.ndarray
) -> dict[str, np.ndarray]:
    account = rng.choice(len(activity), n, p=activity)
    day = rng.integers(0, span // 86_400, n)
    hour = (rng.normal(15, 4, n) % 24).astype(np.float64)
    ts = (day * 86_400 + hour * 3600 + rng.uniform(0, 3600, n)).astype(np.int64) % span
    text = _texts(rng, words, n)
    kind = rng.random(n)
    # Zipf-popular URLs with tracking parameters and case variants of the same page.
    url_rank = np.minimum(rng.zipf(1.15, n), 50_000)
    variant = rng.integers(0, 4, n)
    url = np.char.add(np.char.add("https://site", (url_rank % 3000).astype(str)), ".example/article/")
    url = np.char.add(url, url_rank.astype(str)).astype(object)
    url = np.where(variant == 1, np.char.add(url.astype(str), "?utm_source=share&utm_medium=social"), url)
    url = np.where(variant == 2, np.char.add(url.astype(str), "/"), url).astype(object)
    url = np.where(kind < 0.35, url, "").astype(object)
    reshare_rank = np.minimum(rng.zipf(1.2, n), 200_000)
    reshare = np.where((kind >= 0.35) & (kind < 0.6), np.char.add("orig", reshare_rank.astype(str)), "").astype(object)
    stock = rng.random(n) < 0.03
    text[stock] = np.array(STOCK_PHRASES, dtype=object)[rng.integers(0, len(STOCK_PHRASES), int(stock.sum()))]
    tag_count = np.where(rng.random(n) < 0.3, rng.integers(1, 4, n), 0)
    tags = np.array([f"#tag{i}" for i in range(2_000)])
    tag_picks = np.minimum(rng.zipf(1.4, int(tag_count.sum())) - 1, len(tags) - 1)
    offsets = np.r_[0, np.cumsum(tag_count)].astype(np.int32)
    tag_values = pa.array(tags).take(pa.array(tag_picks))
    hashtags = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), tag_values), " ")
    media_pool = _hex(rng, 5_000)
    has_media = rng.random(n) < 0.08
    media = _empty(n)
    media[has_media] = media_pool[np.minimum(rng.zipf(1.3, int(has_media.sum())) - 1, len(media_pool) - 1)]
    return {
        "account": account,
        "ts": ts,
        "text": text,
        "url": url,
        "reshare": reshare,
        "hashtags": np.asarray(hashtags.to_numpy(zero_copy_only=False), dtype=object),
        "media": media,
    }


def _viral_burst(
    rng: np.random.Generator,
    burst: int,
    activity: np.ndarray,
    span: int,
    words: np.ndarray,
    burst_size: tuple[int, int] = (150, 500),
) -> dict[str, np.ndarray]:
    """Hundreds of ordinary accounts sharing one item within minutes: organic, not coordinated."""
    size = int(rng.integers(*burst_size))
    # Shuffled: np.unique sorts, and sorted times given to sorted ids would make the same accounts post
    # one after the other in every burst, an order no organic crowd keeps. (A generator of its own, so
    # the main stream, and every other part of the data, stays as it was.)
    accounts = np.random.default_rng(burst).permutation(np.unique(rng.choice(len(activity), size, p=activity)))
    n = len(accounts)
    start = rng.integers(0, span - 3600)
    ts = start + np.sort(rng.exponential(90, n)).astype(np.int64)
    is_url = burst % 2 == 0
    url = np.full(n, f"https://bignews.example/story/{burst}" if is_url else "", dtype=object)
    reshare = np.full(n, "" if is_url else f"viral{burst}", dtype=object)
    return {
        "account": accounts,
        "ts": ts,
        "text": _texts(rng, words, n),
        "url": url,
        "reshare": reshare,
        "hashtags": np.full(n, "#breaking #news", dtype=object),
        "media": _empty(n),
    }


def _planted_group(
    rng: np.random.Generator,
    group: int,
    kind: str,
    members: np.ndarray,
    span: int,
    words: np.ndarray,
    spread: int = 240,
) -> dict[str, np.ndarray]:
    episodes = int(rng.integers(12, 20)) if kind == "sync_timing" else int(rng.integers(6, 12))
    # Spread wider than the detection window, only some of an episode's pairs fall within it: the group
    # acts more often, so its members co-act within the window as often as a tightly timed group's.
    episodes = int(np.ceil(episodes / _in_window_share(kind, spread)))
    keys = ("account", "ts", "text", "url", "reshare", "hashtags", "media")
    rows: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    episode_media = _hex(rng, episodes)
    for episode in range(episodes):
        taking_part = rng.random(len(members)) < 0.7
        if taking_part.sum() < 2:  # an episode is a co-action: at least two members take part
            taking_part[rng.choice(len(members), 2, replace=False)] = True
        active = members[taking_part]
        n = len(active)
        start = int(rng.integers(0, span - 3600))
        width = 5 if kind == "sync_timing" else spread
        if kind == "sync_timing":
            start -= start % 10
        ts = start + rng.integers(0, width, n)
        text = _texts(rng, words, n)
        url, reshare, hashtags, media = _empty(n), _empty(n), _empty(n), _empty(n)
        if kind == "co_link":
            base = f"https://Daily-Truth{group}.example/{episode}/story-{rng.integers(1_000_000)}"
            shouting_host = base.replace(f"Daily-Truth{group}", f"DAILY-TRUTH{group}")
            variants = np.array([base, base + "?utm_campaign=x&fbclid=abc", shouting_host + "/"], dtype=object)
            url = variants[rng.integers(0, 3, n)]
        elif kind == "co_domain":
            paths = rng.integers(0, 1_000_000_000, n).astype(str)
            url = np.char.add(f"https://portal{group}.example/{episode}/", paths).astype(object)
        elif kind == "co_reshare":
            reshare = np.full(n, f"op{group}x{episode}", dtype=object)
        elif kind == "near_text":
            template = " ".join(words[rng.integers(0, len(words), 14)])
            suffix = words[rng.integers(0, len(words), n)]
            text = np.array([f"{template} {s}" for s in suffix], dtype=object)
        elif kind == "media":
            hashes = np.tile(np.frombuffer(bytes.fromhex(episode_media[episode]), dtype=np.uint8), (n, 1))
            flip = rng.integers(0, 256, (n, 4))
            for column in range(4):  # a few bit flips: the same picture re-encoded
                hashes[np.arange(n), flip[:, column] // 8] ^= (1 << (flip[:, column] % 8)).astype(np.uint8)
            media = np.array([bytes(h).hex() for h in hashes.astype(np.uint8)], dtype=object)
        elif kind == "co_hashtags":
            picked = rng.choice(300, 3, replace=False)
            hashtags = np.full(n, " ".join(f"#tag{t}" for t in picked), dtype=object)
        for key, value in zip(rows, (active, ts, text, url, reshare, hashtags, media), strict=True):
            rows[key].append(np.asarray(value))
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in rows.items()}


def _in_window_share(kind: str, spread: int) -> float:
    """The share of an episode's member pairs (times uniform over `spread` seconds) within the kind's default
    detection window: 1 - (1 - w / spread)^2."""
    if kind == "sync_timing":
        return 1.0  # its episodes always last 5 s
    window = DEFAULT_WINDOWS[kind]
    return 1.0 if window >= spread else 1.0 - (1.0 - window / spread) ** 2


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    predicted: int
    planted: int

    def line(self) -> str:
        return (
            f"precision {self.precision:.3f} recall {self.recall:.3f} F1 {self.f1:.3f} "
            f"({self.predicted} accounts flagged, {self.planted} planted)"
        )


def score_accounts(flagged: set[str], truth: dict[str, int]) -> Score:
    """Account-level precision, recall and F1 of flagged accounts against the planted ones."""
    planted = set(truth)
    hits = len(flagged & planted)
    precision = hits / len(flagged) if flagged else 0.0
    recall = hits / len(planted) if planted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1, len(flagged), len(planted))


@dataclass
class ObjectShares:
    """Shares in CooRTweet's input shape (object_id, account_id, content_id, timestamp_share) with the
    account pairs the generator made coordinated."""

    shares: pa.Table
    coordinated: set[str]
    pairs: set[tuple[str, str]]  # (smaller name, larger name)


def coortweet_simulation(
    n_coordinated: int = 5,
    n_other: int = 4,
    n_objects: int = 5,
    min_participation: int = 3,
    time_window: int = 10,
    rate_coordinated: float = 2.0,
    rate_other: float = 0.5,
    seed: int = 0,
) -> ObjectShares:
    """Data as CooRTweet's `simulate_data` (2.x) describes it, written afresh from its documentation:
    every pair of coordinated accounts shares min_participation + Poisson(rate_coordinated) times, each
    time one random object, the second share within time_window seconds of the first; each pair of other
    accounts shares Poisson(rate_other) times, always more than time_window apart. Share events follow one
    another at intervals wider than twice the window, so no unplanned pair is ever in window. CooRTweet's
    own rule recovers exactly the coordinated pairs; there is no organic background."""
    rng = np.random.default_rng(seed)
    objects, accounts, times = [], [], []
    events = [
        (i, j)
        for i in range(n_coordinated)
        for j in range(i + 1, n_coordinated)
        for _ in range(min_participation + int(rng.poisson(rate_coordinated)))
    ]
    step, t = 2 * time_window + 1, 946_684_800 + int(rng.integers(0, 20 * 365 * 86_400))
    for (i, j), delay in zip(events, rng.integers(0, time_window + 1, len(events)), strict=True):
        objects += [int(rng.integers(n_objects))] * 2
        accounts += [i, j]
        times += [t, t + int(delay)]
        t += step
    others = range(n_coordinated, n_coordinated + n_other)
    quiet = [(i, j) for i in others for j in others if i < j for _ in range(int(rng.poisson(rate_other)))]
    gaps = 1 + time_window + rng.integers(1, time_window + 1, len(quiet))
    step = 2 * int(gaps.max()) if len(quiet) else step
    t = (times[-1] if times else t) + step
    for (i, j), gap in zip(quiet, gaps, strict=True):
        objects += [int(rng.integers(n_objects))] * 2
        accounts += [i, j]
        times += [t, t + int(gap)]
        t += step
    name = [f"account_{a}" for a in range(n_coordinated + n_other)]
    shares = pa.table(
        {
            "object_id": [f"object_{o}" for o in objects],
            "account_id": [name[a] for a in accounts],
            "content_id": [f"share_{k}" for k in range(len(objects))],
            "timestamp_share": pa.array(times, pa.int64()),
        }
    )
    pairs = {(min(name[i], name[j]), max(name[i], name[j])) for i, j in events}  # as edges name them
    return ObjectShares(shares, set(name[:n_coordinated]), pairs)


def organic_object_shares(
    n_accounts: int, shares_each: float, n_objects: int, network: int = 0, campaign_objects: int = 0, seed: int = 0
) -> ObjectShares:
    """Organic shares in CooRTweet's shape: Poisson(shares_each) shares per account of Zipf-popular objects at
    random times over a week; optionally a network whose members (80% each time) share each campaign object
    within 10 seconds. The control for coortweet_simulation: data that is not only the campaign."""
    rng = np.random.default_rng(seed)
    popularity = 1 / np.arange(1, n_objects + 1) ** 1.1
    counts = np.maximum(1, rng.poisson(shares_each, n_accounts))
    accounts = [f"account_{a}" for a in np.repeat(np.arange(n_accounts), counts)]
    objects = [f"object_{o}" for o in rng.choice(n_objects, int(counts.sum()), p=popularity / popularity.sum())]
    times = list(START + rng.integers(0, 7 * 86_400, int(counts.sum())))
    for item in range(campaign_objects):
        start = START + int(rng.integers(0, 7 * 86_400))
        members = rng.choice(network, max(2, int(network * 0.8)), replace=False)
        accounts += [f"member_{m}" for m in members]
        objects += [f"campaign_{item}"] * len(members)
        times += list(start + rng.integers(0, 11, len(members)))
    shares = pa.table(
        {
            "object_id": objects,
            "account_id": accounts,
            "content_id": [f"share_{k}" for k in range(len(objects))],
            "timestamp_share": pa.array(times, pa.int64()),
        }
    )
    planted = {f"member_{m}" for m in range(network)} if campaign_objects else set()
    return ObjectShares(shares, planted, set())
