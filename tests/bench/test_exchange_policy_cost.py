"""Smoke test of the policy-cost benchmark's code on tiny sizes: a hub seeded by the code's own CLI, served by
`shieldwall serve` in a subprocess, measured and summarised, so the figures come from what they claim to time.
Both sides are the current code here (no git worktree needed); the real run puts the baseline commit on one."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.exchange_policy_cost import (
    REPO,
    Code,
    Figures,
    Sizes,
    VersionServer,
    cost,
    cost_range,
    measure_round,
    summarise,
)
from bench.exchange_taxii import http_client, running
from bench.report import Report


def test_cost_is_extra_time_for_rates_and_latencies() -> None:
    assert cost(100.0, 80.0, higher_is_better=True) == pytest.approx(25.0)  # 80 objects/s: 25% more time each
    assert cost(10.0, 9.0, higher_is_better=False) == pytest.approx(-10.0)
    assert cost_range([100.0, 100.0], [50.0, 125.0], higher_is_better=True) == "rounds -20.0%..+100.0%"


@pytest.mark.slow
def test_seed_serve_measure_and_summarise(tmp_path: Path) -> None:
    sizes = Sizes(objects=200, bundle=100, rounds=2, walks=1, repeats=2)
    code = Code("current", REPO / "src", "this tree")
    with running(VersionServer(code, tmp_path, sizes.rounds)) as server:
        assert server.token.startswith("swt_") and len(set(server.collection_ids)) == 2
        assert Path(server.package).is_relative_to(REPO / "src")
        figures = Figures()
        with http_client(server.auth) as client:
            for round_index in range(sizes.rounds):
                measure_round([server], {"current": client}, {"current": figures}, sizes, round_index)
            # Each round wrote its own collection: the first holds only its own 200 objects.
            first = client.get(f"{server.collection_url(0)}objects/", params={"limit": 1000}).json()
            assert len(first["objects"]) == 200 and not first.get("more")
    assert len(figures.post_rate) == 2 and min(figures.post_rate) > 0
    assert [len(figures.page_ms[limit]) for limit in (1000, 100)] == [2, 4]
    assert all(len(figures.single_ms[p]) == 2 for p in ("start", "middle", "end"))
    # The server's CPU time was seen: storing and serving objects costs it something.
    assert min(figures.post_cpu) > 0 and min(figures.walk_cpu[1000]) > 0 and min(figures.single_cpu["start"]) > 0

    report = Report("exchange_policy_cost_smoke")
    summarise(report, sizes, figures, figures)
    assert any(line.startswith("GET cost of the policy work: 0.0% (goal < 10%): met") for line in report.lines)
