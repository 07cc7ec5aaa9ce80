"""Posts collected around a campaign, where the campaign is most of the data: the null model estimated
from the data explains it away, the run says so, and `--null none` (CooRTweet's fixed rule) finds it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from shieldwall.cli import app
from tests.detect.link_posts import Row, link_posts

START = 1_714_521_600  # 2024-05-01
WEEK = 7 * 86_400


def campaign_posts(seed: int = 1) -> list[Row]:
    """100 ordinary accounts sharing links from a pool by popularity over a week; 200 campaign accounts,
    80% of them on each of 30 campaign links within 2 minutes of its start."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, 2001) ** 1.1
    weights /= weights.sum()
    rows: list[Row] = []
    for account in range(100):
        for link in rng.choice(2000, max(1, rng.poisson(10)), p=weights):
            rows.append((f"ordinary{account}", START + int(rng.integers(WEEK)), f"https://news.example/{link}"))
    for link in range(30):
        start = START + int(rng.integers(WEEK))
        for member in rng.choice(200, 160, replace=False):
            rows.append((f"campaign{member}", start + int(rng.integers(120)), f"https://campaign.example/{link}"))
    return rows


@pytest.fixture(scope="module")
def posts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("campaign") / "posts.parquet"
    pq.write_table(link_posts(campaign_posts()), path)
    return path


def flagged(outdir: Path) -> set[str]:
    clusters = pq.read_table(outdir / "clusters.parquet").to_pylist()
    return {account for cluster in clusters for account in cluster["accounts"]}


def test_the_data_null_explains_a_dominant_campaign_away_and_says_what_to_do(posts: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["detect", str(posts), "-o", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "0 clusters" in said and "--null none applies CooRTweet's fixed rule" in said
    assert "here it would link 200 accounts" in said  # the campaign's, counted on the run's own pairs
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["null_model"] == "data"
    assert run["stats"]["fixed_rule_accounts"] == 200 and run["stats"]["fixed_rule_pairs"] > 5_000


def test_the_fixed_rule_finds_the_campaign_and_not_the_ordinary_accounts(posts: Path, tmp_path: Path) -> None:
    outdir = tmp_path / "run"
    result = CliRunner().invoke(app, ["detect", str(posts), "-o", str(outdir), "--null", "none"])
    assert result.exit_code == 0, result.output
    accounts = flagged(outdir)
    assert {a for a in accounts if a.startswith("campaign")} == {f"campaign{i}" for i in range(200)}
    assert not {a for a in accounts if a.startswith("ordinary")}
    assert json.loads((outdir / "run.json").read_text())["null_model"] == "none"
    assert "CooRTweet's fixed rule" in (outdir / "report.html").read_text()
    assert "--null none applies" not in result.output


def test_an_unknown_null_model_is_refused(posts: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["detect", str(posts), "-o", str(tmp_path / "run"), "--null", "maybe"])
    assert result.exit_code == 2 and "use one of data, none" in " ".join(result.output.split())


def test_coortweets_own_simulated_data_needs_its_rule_and_gets_exactly_its_answer(tmp_path: Path) -> None:
    """CooRTweet's simulate_data (its documented example: 100 coordinated, 50 others, 20 objects, 2 times, 10 s)
    is only the campaign: no organic background for the data null to measure chance against. Read from CSV in
    CooRTweet's shape, the default run flags none of the 100 and says what to do; CooRTweet's rule finds them all,
    and every pair the generator made coordinated, and nothing else."""
    from pyarrow import csv as arrow_csv

    from shieldwall.detect.synthetic import coortweet_simulation

    data = coortweet_simulation(
        n_coordinated=100, n_other=50, n_objects=20, min_participation=2, rate_coordinated=1, rate_other=2, seed=3
    )
    shares = tmp_path / "shares.csv"
    arrow_csv.write_csv(data.shares, shares)
    default = CliRunner().invoke(app, ["detect", str(shares), "-o", str(tmp_path / "default")])
    assert default.exit_code == 0, default.output
    assert not flagged(tmp_path / "default") & data.coordinated
    assert "--null none applies CooRTweet's fixed rule" in " ".join(default.output.split())
    # at the default 60 s the rule would link the 50 others too: their shares come 11 to 20 s apart
    assert "here it would link 150 accounts" in " ".join(default.output.split())
    rule = ["--null", "none", "--window", "co_object=10", "--min-co-actions", "2", "--min-cluster-size", "2"]
    result = CliRunner().invoke(app, ["detect", str(shares), "-o", str(tmp_path / "rule"), *rule])
    assert result.exit_code == 0, result.output
    assert flagged(tmp_path / "rule") == data.coordinated
    edges = pq.read_table(tmp_path / "rule" / "edges.parquet")
    found = set(zip(edges.column("src").to_pylist(), edges.column("dst").to_pylist(), strict=True))
    assert found == data.pairs
