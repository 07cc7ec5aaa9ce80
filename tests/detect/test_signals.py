"""The building blocks: canonical URLs, near-duplicate texts, PDQ grouping, and popularity-aware pruning."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa

from shieldwall.detect.canonical import DUCKDB_MACROS, canonical_url
from shieldwall.detect.minhash import near_duplicate_groups
from shieldwall.detect.pdq import media_groups
from shieldwall.detect.pipeline import run_duckdb
from shieldwall.detect.settings import DetectSettings

URLS = [
    ("HTTPS://WWW.Example.COM/a/b/?utm_source=x&b=2&a=1&fbclid=zz#frag", "http://example.com/a/b?a=1&b=2"),
    ("example.com", "http://example.com"),
    ("http://example.com:80/", "http://example.com"),
    ("https://news.example/story?gclid=1&id=7", "http://news.example/story?id=7"),
    ("https://news.example/Story", "http://news.example/Story"),  # paths keep their case
]


def test_canonical_urls_in_python_and_duckdb_agree() -> None:
    con = duckdb.connect()
    con.execute(DUCKDB_MACROS)
    for raw, expected in URLS:
        assert canonical_url(raw) == expected
        assert con.execute("SELECT sw_canon_url(?)", [raw]).fetchall()[0][0] == expected


def test_near_duplicates_in_any_script_and_not_unrelated_texts() -> None:
    texts = pa.array(
        [
            "Vote for the candidate tomorrow at the town hall!!",
            "vote for the candidate tomorrow at the town hall",
            "completely different text about cats and dogs today",
            "选举日快乐，大家记得去投票站投票啊朋友们今天",
            "选举日快乐，大家记得去投票站投票啊朋友们今天！！",
            "short",
            None,
        ]
    )
    groups = near_duplicate_groups(texts, threshold=0.6, num_perm=32, shingle=5, min_chars=10, seed=1)
    assert groups[0] == groups[1]
    assert groups[2] not in (groups[0], groups[3])
    assert groups[3] == groups[4]
    assert groups[5] == -1 and groups[6] == -1


def test_pdq_hashes_within_the_distance_are_one_picture() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, 32, dtype=np.uint8)
    near = base.copy()
    near[[1, 9, 20]] ^= 0b1001  # six bits differ
    other = rng.integers(0, 256, 32, dtype=np.uint8)
    hashes = pa.array([bytes(base).hex(), bytes(near).hex(), bytes(other).hex(), bytes(base).hex().upper()])
    groups = media_groups(hashes.cast(pa.string()), max_distance=31)
    assert groups[0] == groups[1] != groups[2]
    assert media_groups(pa.array([bytes(base).hex(), bytes(near).hex()]), max_distance=4)[1] == 1


def _posts(rows: list[tuple[str, str, int, str]]) -> pa.Table:
    return pa.table(
        {
            "post_id": [f"p{i}" for i in range(len(rows))],
            "account_id": [r[0] for r in rows],
            "created_at": pa.array([datetime.fromtimestamp(r[2], UTC) for r in rows], pa.timestamp("us", tz="UTC")),
            "text": [r[3] for r in rows],
            "urls": pa.array([[r[1]] if r[1] else [] for r in rows], pa.list_(pa.string())),
            "reshare_of": pa.array([None] * len(rows), pa.string()),
            "hashtags": pa.array([[] for _ in rows], pa.list_(pa.string())),
            "media_pdq": pa.array([[] for _ in rows], pa.list_(pa.string())),
        }
    )


def test_viral_bursts_do_not_tie_accounts_but_repeated_rare_co_links_do() -> None:
    rng = np.random.default_rng(5)
    rows: list[tuple[str, str, int, str]] = []
    # Background: 400 accounts sharing Zipf-popular links at random times over a week.
    for _ in range(6000):
        rank = int(min(rng.zipf(1.3), 3000))
        rows.append((f"o{rng.integers(400)}", f"https://site.example/{rank}", int(rng.integers(0, 604800)), "x"))
    # Five viral bursts: 150 of the same accounts each time, all within three minutes.
    for burst in range(5):
        start = int(rng.integers(0, 600000))
        for account in rng.choice(400, 150, replace=False):
            rows.append((f"o{account}", f"https://viral.example/{burst}", start + int(rng.integers(0, 180)), "x"))
    # A small group: eight accounts sharing eight fresh links, each within two minutes of each other.
    for episode in range(8):
        start = int(rng.integers(0, 600000))
        for member in range(8):
            rows.append((f"g{member}", f"https://rare.example/{episode}", start + int(rng.integers(0, 120)), "x"))
    settings = DetectSettings(signals=("co_link",))
    result = run_duckdb(_posts(rows), settings)
    flagged = set(result.membership.column("account_id").to_pylist())
    assert flagged == {f"g{m}" for m in range(8)}
    assert result.clusters.column("signals").to_pylist() == [["co_link"]]
    # A raw count would have tied the burst participants: they co-shared up to five items within minutes.
    # Each burst is crowded (149 others in reach): its accounts pair within hash buckets, the same pairs
    # in every burst (a few thousand per burst, not 11,175), and chance still explains them.
    assert 10_000 < result.stats["co_action_pairs"] < 5 * 150 * 149 // 2
