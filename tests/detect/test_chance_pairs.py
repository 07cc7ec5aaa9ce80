"""The family-wise bar holds at CooRTweet's 2 co-actions: only pairs that co-acted are tested, so each is tested
given that it co-acted at all (P(K >= k) / P(K >= 1)). Tested unconditionally, a pair of ordinary accounts that
met twice on rare objects looked like 1e-7 while a run forms about 90,000 such pairs: 2 to 20 ordinary accounts
were flagged in every run of 100,000 organic shares (measured before the change on these seeds)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from shieldwall.detect.loaders import load_posts
from shieldwall.detect.pipeline import run_duckdb
from shieldwall.detect.settings import DetectSettings
from shieldwall.detect.synthetic import organic_object_shares

AT_COORTWEETS_SETTINGS = DetectSettings(windows={"co_object": 10}, min_co_actions=2, min_cluster_size=2)


def flagged(tmp_path: Path, seed: int, **sizes: int) -> tuple[set[str], set[str]]:
    data = organic_object_shares(seed=seed, **sizes)
    pq.write_table(data.shares, tmp_path / "shares.parquet")
    posts, _ = load_posts([tmp_path / "shares.parquet"])
    return set(run_duckdb(posts, AT_COORTWEETS_SETTINGS).membership.column("account_id").to_pylist()), data.coordinated


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_organic_shares_flag_nobody_at_two_co_actions(tmp_path: Path, seed: int) -> None:
    accounts, _ = flagged(tmp_path, seed, n_accounts=5000, shares_each=20, n_objects=2000)
    assert accounts == set()


@pytest.mark.parametrize("seed", [1, 2])
def test_a_network_among_organic_shares_is_found_whole_and_alone(tmp_path: Path, seed: int) -> None:
    accounts, network = flagged(
        tmp_path, seed, n_accounts=20000, shares_each=10, n_objects=5000, network=10, campaign_objects=4
    )
    assert accounts == network and len(network) == 10
