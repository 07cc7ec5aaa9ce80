"""Detect on the two real data sets in shared/data/coordination, side by side with CooRTweet's figures.

german_elections (218,971 object shares of the 2021 German federal election, Facebook and Twitter) at
30 s windows over its four object types (URL -> co_link, domain -> co_domain, hashtag -> co_hashtag,
picture -> media), and russian_coord_tweets (35,125 retweets) at 60 s over its objects (co_object),
both loaded as CooRTweet ships them (detect/objects.py, no conversion). Each runs with CooRTweet's
min_participation (2 co-actions: --min-co-actions 2) and, for german_elections, also with the default
of 3. Reported: clusters, accounts, clusters of 3+, runtime, and what each cluster rests on.

CooRTweet 2.1.3 (R) cannot be installed here (CRAN is unreachable from this machine): its figures
below are those given in issue 12, measured by the issue's author on the same data with matched
windows, not re-run in this bench.

    python -m bench.detect_real_data [--data DIR]
"""

from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path

from bench.report import Report

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "coordination"
COORTWEET = {
    "german_elections": "CooRTweet 2.1.3 (issue 12): 444 accounts in 113 components, 38 of 3+ accounts, 88.9 s",
    "russian_coord_tweets": "CooRTweet 2.1.3 (issue 12): 94 accounts in 34 components (28 of its 60 edges from "
    "one account retweeting the same tweet twice)",
}
RUNS = (
    ("german_elections", ("co_link", "co_domain", "co_hashtag", "media"), 30, 2),
    ("german_elections", ("co_link", "co_domain", "co_hashtag", "media"), 30, 3),
    ("russian_coord_tweets", ("co_object",), 60, 2),
)


def main() -> None:
    from shieldwall.detect.loaders import load_posts
    from shieldwall.detect.pipeline import run_duckdb
    from shieldwall.detect.settings import DetectSettings

    folder = Path(sys.argv[sys.argv.index("--data") + 1]) if "--data" in sys.argv else DATA
    report = Report("detect_real_data")
    report.line(f"data from {folder.resolve()}; load average {os.getloadavg()[0]:.1f} at the start")
    for name, signals, window, min_co_actions in RUNS:
        path = folder / f"{name}.parquet"
        if not path.exists():
            report.line(f"{name}: {path} not found, skipped")
            continue
        started = time.perf_counter()
        posts, _ = load_posts([path])
        loaded = time.perf_counter()
        settings = DetectSettings(
            signals=signals, windows={s: window for s in signals}, min_co_actions=min_co_actions, min_cluster_size=2
        )
        result = run_duckdb(posts, settings)
        seconds = time.perf_counter() - started
        clusters = result.clusters.to_pylist()
        big = [c for c in clusters if c["n_accounts"] >= 3]
        report.line(
            f"{name}, {window} s windows, signals {','.join(signals)}, min co-actions {min_co_actions}: "
            f"{posts.num_rows:,} posts; {len(clusters)} clusters with {sum(c['n_accounts'] for c in clusters)} "
            f"accounts ({len(big)} of 3+ accounts, {sum(c['n_accounts'] for c in big)} accounts; "
            f"{len(clusters) - len(big)} pairs); {seconds:.1f} s (load {loaded - started:.1f} s)"
        )
        rests = collections.Counter(" + ".join(c["signals"]) for c in clusters)
        report.line("  what the clusters rest on: " + "; ".join(f"{k}: {v}" for k, v in rests.most_common()))
        for cluster in big:
            report.line(
                f"  {cluster['cluster_id']}: {cluster['n_accounts']} accounts, {cluster['co_actions']} co-actions "
                f"(chance {cluster['expected_co_actions']:.2g}), {cluster['n_evidence_items']} evidence items, "
                f"signals {', '.join(cluster['signals'])}"
            )
        report.line(f"  side by side: {COORTWEET[name]}")
        report.save()
    report.line(f"load average {os.getloadavg()[0]:.1f} at the end")
    report.save()


if __name__ == "__main__":
    main()
