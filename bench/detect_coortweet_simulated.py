"""Detect on data made the way CooRTweet's own simulator makes it, beside organic data in the same shape.

    python -m bench.detect_coortweet_simulated [--quick]

CooRTweet's `simulate_data` (re-written in shieldwall.detect.synthetic.coortweet_simulation) makes data that
is only the campaign: coordinated pairs that share within the window a few times each, other accounts that
never do, no organic background. Its truth is CooRTweet's fixed rule itself. The organic controls are shares
of Zipf-popular objects at random times over a week, with and without a planted network. Each data set runs
three ways: the defaults (the data null, co_object window 60 s, 3 co-actions), the data null with the
generator's window and participation, and CooRTweet's rule (`--null none`) with them. Account precision and
recall against the generator's coordinated accounts, pair recall against its coordinated pairs; for every
way, the worst cell over the grid and seeds. What it shows: on data that is only the campaign, the null
estimated from that data has nothing to compare the campaign with, and only the fixed rule finds it; on data
with an organic background, the fixed rule flags hundreds of ordinary accounts and the null none.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

import pyarrow.parquet as pq

from bench.report import Report

# (label, generator arguments): CooRTweet's defaults, its documented example, larger and wider variants.
SIMULATED: tuple[tuple[str, dict[str, float]], ...] = (
    ("CooRTweet defaults (5 coordinated, 4 others, 5 objects, 3 times, 10 s)", {}),
    (
        "CooRTweet's example (100 coordinated, 50 others, 20 objects, 2 times, 10 s)",
        dict(n_coordinated=100, n_other=50, n_objects=20, min_participation=2, rate_coordinated=1, rate_other=2),
    ),
    (
        "30 coordinated, 300 others, 50 objects, 2 times, 30 s",
        dict(n_coordinated=30, n_other=300, n_objects=50, min_participation=2, time_window=30, rate_other=1),
    ),
    (
        "20 coordinated, 500 others, 100 objects, 3 times, 60 s",
        dict(n_coordinated=20, n_other=500, n_objects=100, min_participation=3, time_window=60, rate_other=3),
    ),
)
# (label, organic_object_shares arguments): the controls; their truth is the planted network (or nobody).
ORGANIC: tuple[tuple[str, dict[str, int]], ...] = (
    (
        "organic, 5,000 accounts x 20 shares of 2,000 objects, no network",
        dict(n_accounts=5000, shares_each=20, n_objects=2000),
    ),
    (
        "organic, 20,000 accounts x 10 shares of 5,000 objects, network of 30 on 10 objects",
        dict(n_accounts=20000, shares_each=10, n_objects=5000, network=30, campaign_objects=10),
    ),
    (
        "organic, 2,000 accounts x 50 shares of 200 objects, no network",
        dict(n_accounts=2000, shares_each=50, n_objects=200),
    ),
)


def main() -> None:
    from shieldwall.detect.loaders import load_posts
    from shieldwall.detect.pipeline import run_duckdb
    from shieldwall.detect.settings import DetectSettings
    from shieldwall.detect.synthetic import ObjectShares, coortweet_simulation, organic_object_shares

    quick = "--quick" in sys.argv
    seeds = (1,) if quick else (1, 2, 3)
    report = Report("detect_coortweet_simulated_quick" if quick else "detect_coortweet_simulated")
    report.line(f"load average {os.getloadavg()[0]:.1f} at the start, {os.cpu_count()} cores")
    worst: dict[str, dict[str, float]] = {}

    def run(label: str, data: ObjectShares, window: int, participation: int, folder: Path) -> None:
        path = folder / "shares.parquet"
        pq.write_table(data.shares, path)
        posts, _ = load_posts([path])
        fitted = DetectSettings(windows={"co_object": window}, min_co_actions=participation, min_cluster_size=2)
        ways = (
            ("defaults", "defaults (data null, 60 s, 3)", DetectSettings()),
            ("data null, fitted", f"data null, {window} s, {participation}", fitted),
            (
                "CooRTweet's rule",
                f"--null none, {window} s, {participation} (CooRTweet's rule)",
                replace(fitted, null_model="none"),
            ),
        )
        for short, way, settings in ways:
            started = time.perf_counter()
            result = run_duckdb(posts, settings)
            seconds = time.perf_counter() - started
            flagged = set(result.membership.column("account_id").to_pylist())
            hits = len(flagged & data.coordinated)
            precision = hits / len(flagged) if flagged else (1.0 if not data.coordinated else 0.0)
            recall = hits / len(data.coordinated) if data.coordinated else 1.0
            edges = {
                tuple(sorted(e))
                for e in zip(
                    result.edges.column("src").to_pylist(), result.edges.column("dst").to_pylist(), strict=True
                )
            }
            pair_recall = len(edges & data.pairs) / len(data.pairs) if data.pairs else float("nan")
            pairs = f", pair recall {pair_recall:.3f}" if data.pairs else ""
            report.line(
                f"{label}: {way}: {data.shares.num_rows:,} shares; {len(flagged)} accounts flagged, "
                f"{hits} of {len(data.coordinated)} coordinated; precision {precision:.3f} recall {recall:.3f}"
                f"{pairs}; {seconds:.1f} s"
            )
            kind = "simulated" if data.pairs else "organic"
            key = f"{kind} data, {short}"
            cell = worst.setdefault(key, {"precision": 1.0, "recall": 1.0, "false": 0})
            cell["precision"] = min(cell["precision"], precision)
            cell["recall"] = min(cell["recall"], recall)
            cell["false"] = max(cell["false"], len(flagged - data.coordinated))

    with TemporaryDirectory() as folder:
        for seed in seeds:
            for label, arguments in SIMULATED:
                data = coortweet_simulation(seed=seed, **arguments)
                window = int(arguments.get("time_window", 10))
                participation = int(arguments.get("min_participation", 3))
                run(f"seed {seed}, {label}", data, window, participation, Path(folder))
            for label, sizes in ORGANIC:
                data = organic_object_shares(seed=seed, **sizes)
                run(f"seed {seed}, {label}", data, 10, 2, Path(folder))
            report.save()
    for key, cell in worst.items():
        report.line(
            f"worst over grid and seeds, {key}: precision {cell['precision']:.3f}, recall {cell['recall']:.3f}, "
            f"most accounts flagged that the generator did not make coordinated {int(cell['false'])}"
        )
    report.line(f"load average {os.getloadavg()[0]:.1f} at the end")
    report.save()


if __name__ == "__main__":
    main()
