"""Side by side with CooRTweet on the real German 2021 election data (issue 12).

The reference (bench/coortweet_reference.py) must reproduce what CooRTweet 2.1.3 printed on the same data,
and Shieldwall at matched settings (30 s windows, 2 co-actions, pairs reported, CooRTweet's rule) must recover
at least 36 of CooRTweet's 38 groups of 3+ accounts, most of each group in one cluster; with the data null, the
groups whose pairs co-acted more often than chance explains.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from bench.coortweet_reference import german_elections, object_shares

from shieldwall.detect.loaders import load_posts
from shieldwall.detect.pipeline import run_duckdb
from shieldwall.detect.settings import DetectSettings

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "coordination"
pytestmark = pytest.mark.skipif(not (REAL / "german_elections.parquet").exists(), reason="shared data not present")
SIGNALS = ("co_link", "co_domain", "co_hashtag", "media")


def test_reference_reproduces_coortweets_printed_figures() -> None:
    german = german_elections(REAL / "german_elections.parquet", window=30)
    assert (german.accounts, len(german.groups), len(german.of_size(3)), german.edges) == (444, 113, 38, 1078)
    russian = object_shares(REAL / "russian_coord_tweets.parquet", window=60)
    assert (russian.accounts, len(russian.groups), russian.edges) == (94, 34, 60)


def recovered_groups(null_model: str) -> int:
    """CooRTweet's groups of 3+ with most of their accounts in one Shieldwall cluster, at 30 s and 2 co-actions."""
    groups = german_elections(REAL / "german_elections.parquet", window=30).of_size(3)
    posts, _ = load_posts([REAL / "german_elections.parquet"])
    settings = DetectSettings(
        signals=SIGNALS, windows=dict.fromkeys(SIGNALS, 30), min_co_actions=2, min_cluster_size=2, null_model=null_model
    )
    membership = run_duckdb(posts, settings).membership
    cluster_of = dict(
        zip(membership.column("account_id").to_pylist(), membership.column("cluster_id").to_pylist(), strict=True)
    )
    recovered = 0
    for group in groups:
        largest = collections.Counter(cluster_of[a] for a in group if a in cluster_of).most_common(1)
        recovered += bool(largest) and 2 * largest[0][1] > len(group)
    return recovered


def test_shieldwall_recovers_coortweets_groups_with_coortweets_rule() -> None:
    assert (found := recovered_groups("none")) >= 36, f"{found} of 38 CooRTweet groups recovered"


def test_the_data_null_keeps_the_groups_that_chance_does_not_explain() -> None:
    """Measured 27 of 38: the others rest on pairs that met twice, which among the pairs that met once is what
    chance gives (tests/detect/test_chance_pairs.py)."""
    assert (found := recovered_groups("data")) >= 24, f"{found} of 38 CooRTweet groups recovered"
