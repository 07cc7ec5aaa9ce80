"""Accounts join a cluster on evidence too weak for any one pair: the third member of a group of three."""

from __future__ import annotations

import numpy as np

from shieldwall.detect.pipeline import run_duckdb
from shieldwall.detect.settings import DetectSettings
from tests.detect.link_posts import link_posts

START = 1_700_000_000


def test_the_third_member_of_a_trio_joins_the_pair_it_met_and_a_passer_by_does_not() -> None:
    rng = np.random.default_rng(3)
    rows: list[tuple[str, int, str]] = []
    # a and b share six fresh links 20 s apart; c shares four of them within the 600 s window of a alone
    # (590 s before it) or of b alone (590 s after it), so neither pair with c reaches three co-actions;
    # d shares two with both (two co-actions in all: too few to say anything).
    for episode in range(6):
        start, url = START + episode * 90_000, f"https://trio.example/{episode}"
        rows += [("a", start, url), ("b", start + 20, url)]
        if episode < 4:
            rows.append(("c", start - 590 if episode % 2 == 0 else start + 610, url))
    rows += [("d", START + 30, "https://trio.example/0"), ("d", START + 90_010, "https://trio.example/1")]
    # Background: 30,000 Zipf-popular shares by 1,000 accounts over a week.
    ranks = np.minimum(rng.zipf(1.3, 30_000), 5_000)
    times = rng.integers(0, 700_000, 30_000)
    accounts = rng.integers(0, 1_000, 30_000)
    background = zip(accounts, times, ranks, strict=True)
    rows += [(f"o{a}", START + int(t), f"https://s.example/{r}") for a, t, r in background]
    result = run_duckdb(link_posts(rows), DetectSettings(signals=("co_link",)))
    assert result.clusters.column("accounts").to_pylist() == [["a", "b", "c"]]
    edges = {(e["src"], e["dst"]): e for e in result.edges.to_pylist()}
    assert edges[("a", "b")]["co_actions"] == 6
    # c's edges carry the co-actions it joined on and the p of its join.
    assert edges[("a", "c")]["co_actions"] + edges[("b", "c")]["co_actions"] == 4
    assert edges[("a", "c")]["p_value"] <= DetectSettings().chance_pairs
    assert not any("d" in pair for pair in edges)
