"""Detect on the two real data sets in shared/data/coordination, side by side with CooRTweet's figures.

german_elections (218,971 object shares of the 2021 German federal election, Facebook and Twitter) at
30 s windows over its four object types (URL -> co_link, domain -> co_domain, hashtag -> co_hashtag,
picture -> media), and russian_coord_tweets (35,125 retweets) at 60 s over its objects (co_object),
both loaded as CooRTweet ships them (detect/objects.py, no conversion). Each runs with CooRTweet's
min_participation (2 co-actions: --min-co-actions 2) and, for german_elections, also with the default
of 3; then each with `--null none` (CooRTweet's own rule: enough co-actions within the window, no test
against chance), what a user whose data was collected around the campaign would run. Reported:
clusters, accounts, clusters of 3+, runtime, and what each cluster rests on.

CooRTweet 2.1.3 (R) cannot be installed here (CRAN is unreachable), so its answer comes from
bench/coortweet_reference.py, a re-implementation of its detect_groups + generate_coordinated_network
(edge_weight 0.5) that reproduces the figures CooRTweet printed for issue 12 exactly (german_elections:
444 accounts in 113 components, 38 of 3+; russian_coord_tweets: 94 accounts in 34 components, 60 edges);
the bench checks that agreement before comparing. A CooRTweet group of 3+ is recovered when most of its
accounts are in one Shieldwall cluster (also reported: most of its accounts flagged at all); each group
that is not gets the run's own verdict (why.py). CooRTweet's own runtime (88.9 s on german_elections)
is the issue's measurement.

    python -m bench.detect_real_data [--data DIR]
"""

from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.report import Report

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "coordination"
# What CooRTweet 2.1.3 printed for issue 12 (accounts, components, components of 3+ or None, edges or None).
COORTWEET_PRINTED = {"german_elections": (444, 113, 38, None), "russian_coord_tweets": (94, 34, None, 60)}
COORTWEET_SECONDS = {"german_elections": 88.9}
GERMAN = ("co_link", "co_domain", "co_hashtag", "media")
# (data set, signals, window, min co-actions, null model): "none" is CooRTweet's own rule, no test against chance.
RUNS = (
    ("german_elections", GERMAN, 30, 2, "data"),
    ("german_elections", GERMAN, 30, 3, "data"),
    ("german_elections", GERMAN, 30, 2, "none"),
    ("russian_coord_tweets", ("co_object",), 60, 2, "data"),
    ("russian_coord_tweets", ("co_object",), 60, 2, "none"),
)


def main() -> None:
    from bench import coortweet_reference
    from shieldwall.detect.loaders import load_posts
    from shieldwall.detect.pipeline import run_duckdb
    from shieldwall.detect.settings import DetectSettings

    folder = Path(sys.argv[sys.argv.index("--data") + 1]) if "--data" in sys.argv else DATA
    report = Report("detect_real_data")
    report.line(f"data from {folder.resolve()}; load average {os.getloadavg()[0]:.1f} at the start")
    for name, signals, window, min_co_actions, null_model in RUNS:
        path = folder / f"{name}.parquet"
        if not path.exists():
            report.line(f"{name}: {path} not found, skipped")
            continue
        reference = (
            coortweet_reference.german_elections(path, window)
            if name == "german_elections"
            else coortweet_reference.object_shares(path, window)
        )
        groups = {str(i + 1): g for i, g in enumerate(reference.of_size(3))}
        started = time.perf_counter()
        posts, _ = load_posts([path])
        loaded = time.perf_counter()
        settings = DetectSettings(
            signals=signals,
            windows={s: window for s in signals},
            min_co_actions=min_co_actions,
            min_cluster_size=2,
            null_model=null_model,
        )
        result = run_duckdb(posts, settings, groups=groups)
        seconds = time.perf_counter() - started
        clusters = result.clusters.to_pylist()
        big = [c for c in clusters if c["n_accounts"] >= 3]
        report.line(
            f"{name}, {window} s windows, signals {','.join(signals)}, min co-actions {min_co_actions}, "
            f"null {null_model}{' (CooRTweet rule)' if null_model == 'none' else ''}: "
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
        _side_by_side(report, name, reference, result)
        report.save()
    report.line(f"load average {os.getloadavg()[0]:.1f} at the end")
    report.save()


def _side_by_side(report: Report, name: str, reference: Any, result: Any) -> None:
    """CooRTweet's groups (the reference) against the run's clusters: recovered, account overlap, and why not."""
    accounts, components, big, edges = COORTWEET_PRINTED[name]
    agrees = (
        (reference.accounts, len(reference.groups)) == (accounts, components)
        and (big is None or len(reference.of_size(3)) == big)
        and (edges is None or reference.edges == edges)
    )
    report.line(
        f"  CooRTweet (reference, {'agrees with' if agrees else 'DIFFERS FROM'} CooRTweet's printed figures): "
        f"{reference.accounts} accounts in {len(reference.groups)} components, {len(reference.of_size(3))} of 3+, "
        f"{reference.edges} edges"
        + (f"; CooRTweet ran {COORTWEET_SECONDS[name]} s" if name in COORTWEET_SECONDS else "")
    )
    membership = result.membership
    cluster_of = dict(
        zip(membership.column("account_id").to_pylist(), membership.column("cluster_id").to_pylist(), strict=True)
    )
    in_one = flagged = 0
    for group in reference.of_size(3):
        hits = [cluster_of[a] for a in group if a in cluster_of]
        flagged += 2 * len(hits) > len(group)
        in_one += bool(hits) and 2 * collections.Counter(hits).most_common(1)[0][1] > len(group)
    theirs = {a for g in reference.groups for a in g}
    ours = set(cluster_of)
    union = len(theirs | ours) or 1
    report.line(
        f"  CooRTweet's {len(reference.of_size(3))} groups of 3+: {in_one} recovered (most accounts in one cluster), "
        f"{flagged} with most accounts flagged; accounts: both {len(theirs & ours)}, CooRTweet only "
        f"{len(theirs - ours)}, Shieldwall only {len(ours - theirs)}, Jaccard {len(theirs & ours) / union:.2f}"
    )
    for verdict in result.groups:
        group = reference.of_size(3)[int(verdict["group"]) - 1]
        largest = collections.Counter(cluster_of[a] for a in group if a in cluster_of).most_common(1)
        if not largest or 2 * largest[0][1] <= len(group):
            report.line(f"    CooRTweet group {verdict['group']} ({len(group)} accounts): {verdict['verdict']}")


if __name__ == "__main__":
    main()
