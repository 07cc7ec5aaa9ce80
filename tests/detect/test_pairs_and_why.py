"""Pairs (--min-cluster-size 2), the strongest pairs in the report, and --why: for a group of accounts
given by the analyst, why it was or was not flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from shieldwall.cli import app
from tests.detect.link_posts import link_posts

START = 1_700_000_000


def _write_posts(path: Path) -> None:
    rows: list[tuple[str, int, str]] = []
    for episode in range(8):  # a group of four, eight fresh links, within 20 s
        rows += [(f"g{m}", START + episode * 86_400 + 5 * m, f"https://rare.example/{episode}") for m in range(4)]
    for episode in range(6):  # a pair, six fresh links, within 10 s
        rows += [(f"pair{m}", START + episode * 90_000 + 10 * m, f"https://duo.example/{episode}") for m in range(2)]
    rows += [("once0", START + 5_000, "https://one.example/x"), ("once1", START + 5_004, "https://one.example/x")]
    rows += [(f"o{i % 50}", START + 977 * i, f"https://site.example/{i % 40}") for i in range(2_000)]
    pq.write_table(link_posts(rows), path)


@pytest.fixture(scope="module")
def posts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("why") / "posts.parquet"
    _write_posts(path)
    return path


def _detect(posts: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(app, ["detect", str(posts), "-o", str(out), "--signals", "co_link", *extra])
    assert result.exit_code == 0, result.output


def test_pairs_are_reported_with_min_cluster_size_2_and_listed_outside_clusters_otherwise(
    posts: Path, tmp_path: Path
) -> None:
    _detect(posts, tmp_path / "three")
    clusters = pq.read_table(tmp_path / "three" / "clusters.parquet").to_pylist()
    assert [c["accounts"] for c in clusters] == [["g0", "g1", "g2", "g3"]]
    report = (tmp_path / "three" / "report.html").read_text()
    assert "Significant pairs outside the clusters" in report and "pair0 · pair1" in report
    assert "Strongest pairs" in report and "g0 · g1" in report
    _detect(posts, tmp_path / "two", "--min-cluster-size", "2")
    clusters = pq.read_table(tmp_path / "two" / "clusters.parquet").to_pylist()
    assert [c["accounts"] for c in clusters] == [["g0", "g1", "g2", "g3"], ["pair0", "pair1"]]


def test_why_says_for_each_group_why_it_was_or_was_not_flagged(posts: Path, tmp_path: Path) -> None:
    groups = tmp_path / "groups.csv"
    rows = [("group", "account_id")]
    rows += [("four", f"g{m}") for m in range(4)] + [("duo", "pair0"), ("duo", "pair1")]
    rows += [("once", "once0"), ("once", "once1"), ("ghosts", "nobody1"), ("ghosts", "nobody2")]
    rows += [("apart", "o1"), ("apart", "pair0")]
    groups.write_text("".join(f"{g},{a}\n" for g, a in rows))
    _detect(posts, tmp_path / "out", "--why", str(groups))
    verdicts = {g["group"]: g for g in json.loads((tmp_path / "out" / "run.json").read_text())["groups"]}
    assert verdicts["four"]["verdict"] == "flagged: 4 of 4 accounts in c1"
    assert verdicts["duo"]["verdict"].startswith("not flagged: 1 significant pair, but the community")
    assert verdicts["once"]["verdict"].startswith("not flagged: its closest pair co-acted 1 time;")
    assert verdicts["ghosts"]["verdict"] == "not flagged: 0 of its 2 accounts are in the data"
    assert verdicts["apart"]["verdict"] == (
        "not flagged: no two of its accounts acted on the same item within the window"
    )
    assert "Groups asked about (--why)" in (tmp_path / "out" / "report.html").read_text()


def test_why_file_errors_are_named(posts: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("group,account_id\nonly-one-field\n")
    result = CliRunner().invoke(app, ["detect", str(posts), "-o", str(tmp_path / "o"), "--why", str(bad)])
    assert result.exit_code == 2 and "bad.csv:2" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["detect", str(posts), "-o", str(tmp_path / "o"), "--min-cluster-size", "1"])
    assert result.exit_code == 2


def test_the_pairing_budget_bounds_the_pairs_and_keeps_a_crowded_group(tmp_path: Path) -> None:
    """Forty accounts sharing eight fresh links within 40 s: with --fan-out 4 each item is crowded (39
    others in reach), so its accounts pair only within hash buckets of about four, the same buckets on
    every item; every member co-acts with its bucket mates eight times and the group is still found whole."""
    rows = [
        (f"n{m}", START + episode * 86_400 + m, f"https://crowd.example/{episode}")
        for episode in range(8)
        for m in range(40)
    ]
    # Background: the group stays a small share of all actions (its items would set the expectation otherwise).
    rows += [(f"o{i % 500}", START + 31 * i, f"https://site.example/{i % 4_000}") for i in range(20_000)]
    posts = tmp_path / "crowd.parquet"
    pq.write_table(link_posts(rows), posts)
    _detect(posts, tmp_path / "wide")
    _detect(posts, tmp_path / "narrow", "--fan-out", "4")
    wide, narrow = (json.loads((tmp_path / d / "run.json").read_text())["stats"] for d in ("wide", "narrow"))
    assert wide["co_action_pairs"] == 8 * 40 * 39 // 2  # 39 in reach: below twice the default budget
    assert narrow["co_action_pairs"] < wide["co_action_pairs"] / 3
    for run in ("wide", "narrow"):
        clusters = pq.read_table(tmp_path / run / "clusters.parquet").to_pylist()
        assert sorted(a for c in clusters for a in c["accounts"]) == sorted(f"n{m}" for m in range(40)), run
    edges = pq.read_table(tmp_path / "narrow" / "edges.parquet").to_pylist()
    assert {e["co_actions"] for e in edges} == {8}  # bucket mates meet on every item
