"""Detect: quality (account-level F1 against planted truth) and speed against coordination-network-toolkit.

Same synthetic data for both, in the same run. The toolkit runs co_link + co_retweet + co_similar_tweet
(60 s windows, similarity 0.8, edges of weight >= 2 count as coordination; n_threads=2) on its own CSV
format; Shieldwall runs its full pipeline (load, all signals, clustering, all outputs) on that same
CSV, and on the full posts file (hashtags and pictures included, which the toolkit CSV cannot carry).
The toolkit runs at the small sizes here; detect_toolkit_scaling measures it up to 1M posts.
Big runs go to child processes so peak memory (ru_maxrss) is the detection's own.

    python -m bench.detect_quality_speed [--quick] [--huge-only]

--huge-only runs the 10M-post run alone (the toolkit's sizes are in detect_toolkit_scaling).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Report

TOOLKIT_WINDOW = 60
TOOLKIT_SIMILARITY = 0.8
TOOLKIT_MIN_WEIGHT = 2


def _generate(n_posts: int, n_accounts: int, folder: Path) -> dict[str, str]:
    """Write the posts as Parquet and as the toolkit's CSV, plus the planted truth; return the paths."""
    import duckdb
    import pyarrow.parquet as pq

    from shieldwall.detect.synthetic import generate

    data = generate(n_posts=n_posts, n_accounts=n_accounts, seed=2026)
    parquet = folder / f"posts_{n_posts}.parquet"
    toolkit_csv = folder / f"toolkit_{n_posts}.csv"
    truth = folder / f"truth_{n_posts}.json"
    pq.write_table(data.posts, parquet)
    con = duckdb.connect()
    con.register("posts", data.posts)
    con.execute(
        "COPY (SELECT post_id AS message_id, account_id AS user_id, account_id AS username, "
        "coalesce(reshare_of, '') AS repost_id, '' AS reply_id, replace(coalesce(text, ''), chr(10), ' ') AS message, "
        "epoch(created_at)::BIGINT AS timestamp, array_to_string(urls, ' ') AS urls FROM posts) "
        f"TO '{toolkit_csv}' (HEADER, DELIMITER ',')"
    )
    truth.write_text(json.dumps(data.truth))
    return {"parquet": str(parquet), "toolkit_csv": str(toolkit_csv), "truth": str(truth)}


def _detect_child(posts: str, truth: str, outdir: str) -> None:
    """Child process: the full Shieldwall pipeline on one file; prints one JSON line."""
    from shieldwall.detect.loaders import load_posts
    from shieldwall.detect.outputs import RunInfo, write_outputs
    from shieldwall.detect.pipeline import run_duckdb
    from shieldwall.detect.settings import DetectSettings
    from shieldwall.detect.synthetic import score_accounts
    from shieldwall.stix.tlp import TLP

    started = time.perf_counter()
    table, _ = load_posts([posts])
    loaded = time.perf_counter()
    # SHIELDWALL_BENCH_FAN_OUT: the pairing bound to run with (default: DetectSettings' own).
    fan_out = os.environ.get("SHIELDWALL_BENCH_FAN_OUT")
    result = run_duckdb(table, DetectSettings(fan_out=int(fan_out)) if fan_out else DetectSettings())
    run = RunInfo(run_id="bench", inputs=[posts], started="", engine="duckdb", tlp="TLP:AMBER", posts=table.num_rows)
    write_outputs(result, Path(outdir), run, TLP.AMBER)
    seconds = time.perf_counter() - started
    score = score_accounts(set(result.membership.column("account_id").to_pylist()), json.loads(Path(truth).read_text()))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "load_seconds": loaded - started,
                "posts": table.num_rows,
                "precision": score.precision,
                "recall": score.recall,
                "f1": score.f1,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "stats": result.stats,
            }
        )
    )


def _run_child(*args: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.detect_quality_speed", *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed: {completed.stderr[-2000:]}")
    result: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _toolkit(toolkit_csv: str, truth: dict[str, int], folder: Path) -> dict[str, float]:
    """coordination-network-toolkit's preprocessing and the three networks, timed; accounts in edges scored."""
    import contextlib
    import io
    import sqlite3

    from coordination_network_toolkit import compute_networks, preprocess

    from shieldwall.detect.synthetic import score_accounts

    db = str(folder / f"toolkit_{Path(toolkit_csv).stem}.db")
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        preprocess.preprocess_csv_files(db, [toolkit_csv])
        compute_networks.compute_co_link_network(db, TOOLKIT_WINDOW, n_threads=2, min_edge_weight=TOOLKIT_MIN_WEIGHT)
        compute_networks.compute_co_retweet_parallel(
            db, TOOLKIT_WINDOW, n_threads=2, min_edge_weight=TOOLKIT_MIN_WEIGHT
        )
        compute_networks.compute_co_similar_tweet(
            db,
            TOOLKIT_WINDOW,
            n_threads=2,
            similarity_threshold=TOOLKIT_SIMILARITY,
            min_edge_weight=TOOLKIT_MIN_WEIGHT,
        )
    seconds = time.perf_counter() - started
    con = sqlite3.connect(db)
    flagged: set[str] = set()
    for table in ("co_link_network", "co_retweet_network", "co_similar_tweet_network"):
        for user_1, user_2 in con.execute(f"SELECT user_1, user_2 FROM {table} WHERE user_1 != user_2"):
            flagged.update((str(user_1), str(user_2)))
    con.close()
    score = score_accounts(flagged, truth)
    return {
        "seconds": seconds,
        "precision": score.precision,
        "recall": score.recall,
        "f1": score.f1,
        "flagged": len(flagged),
    }


def _quality(prefix: str, result: dict[str, object]) -> str:
    return (
        f"{prefix}: precision {float(result['precision']):.3f} recall {float(result['recall']):.3f} "  # type: ignore[arg-type]
        f"F1 {float(result['f1']):.3f}"
    )  # type: ignore[arg-type]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-generate":
        n_posts, n_accounts, folder = int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
        print(json.dumps(_generate(n_posts, n_accounts, folder)))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-detect":
        _detect_child(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    quick = "--quick" in sys.argv
    toolkit_sizes = [(5_000, 500), (10_000, 1_000)] if quick else [(50_000, 5_000), (100_000, 10_000)]
    big = (20_000, 2_000) if quick else (1_000_000, 100_000)
    huge = (50_000, 5_000) if quick else (10_000_000, 1_000_000)
    report = Report("detect_quality_speed_10m" if "--huge-only" in sys.argv else "detect_quality_speed")

    def emit(text: str) -> None:
        report.line(text)
        report.save()  # after every figure, so a failure later keeps what was measured

    with tempfile.TemporaryDirectory(prefix="bench_detect_") as tmp:
        folder = Path(tmp)
        huge_only = "--huge-only" in sys.argv
        for n_posts, n_accounts in [] if huge_only else toolkit_sizes:
            files = _run_child("--child-generate", str(n_posts), str(n_accounts), str(folder))
            truth = json.loads(Path(str(files["truth"])).read_text())
            peer = _toolkit(str(files["toolkit_csv"]), truth, folder)
            ours_same = _run_child("--child-detect", str(files["toolkit_csv"]), str(files["truth"]), str(folder / "o1"))
            ours_full = _run_child("--child-detect", str(files["parquet"]), str(files["truth"]), str(folder / "o2"))
            label = f"{n_posts:,} posts / {n_accounts:,} accounts"
            emit(
                f"{label}: toolkit co_link+co_retweet+co_similar_tweet {peer['seconds']:.1f} s; "
                + _quality("toolkit", peer)
                + f" ({int(peer['flagged'])} accounts in edges)"
            )
            ratio = peer["seconds"] / float(ours_same["seconds"])  # type: ignore[arg-type]
            emit(
                f"{label}: shieldwall full pipeline on the same toolkit CSV {float(ours_same['seconds']):.1f} s "  # type: ignore[arg-type]
                f"({ratio:.1f}x faster than the toolkit); " + _quality("shieldwall", ours_same)
            )
            emit(
                f"{label}: "
                + _quality("shieldwall on the full posts file (all 7 signals)", ours_full)
                + f"; toolkit F1 {peer['f1']:.3f} on the same data"
            )
        n_big, a_big = big
        if not huge_only:
            files = _run_child("--child-generate", str(n_big), str(a_big), str(folder))
            ours_same = _run_child("--child-detect", str(files["toolkit_csv"]), str(files["truth"]), str(folder / "o3"))
            ours_full = _run_child("--child-detect", str(files["parquet"]), str(files["truth"]), str(folder / "o4"))
            big_label = f"{n_big:,} posts / {a_big:,} accounts"
            emit(
                f"{big_label}: shieldwall full pipeline on the toolkit CSV {float(ours_same['seconds']):.1f} s, "  # type: ignore[arg-type]
                f"peak {float(ours_same['peak_mb']):.0f} MB (the toolkit at this size, measured in the same run as "
                "Shieldwall: bench/results/detect_toolkit_scaling.txt)"
            )  # type: ignore[arg-type]
            emit(
                f"{big_label}: shieldwall on the full posts file {float(ours_full['seconds']):.1f} s, "  # type: ignore[arg-type]
                f"peak {float(ours_full['peak_mb']):.0f} MB; " + _quality("shieldwall", ours_full)
            )  # type: ignore[arg-type]
            for path in folder.glob("*"):
                if path.is_file() and path.suffix in (".csv", ".db", ".parquet"):
                    path.unlink()
        n_huge, a_huge = huge
        files = _run_child("--child-generate", str(n_huge), str(a_huge), str(folder))
        huge_run = _run_child("--child-detect", str(files["parquet"]), str(files["truth"]), str(folder / "o5"))
        emit(
            f"{n_huge:,} posts / {a_huge:,} accounts: shieldwall full pipeline {float(huge_run['seconds']):.1f} s "  # type: ignore[arg-type]
            f"(load {float(huge_run['load_seconds']):.1f} s), peak memory {float(huge_run['peak_mb']) / 1024:.2f} GB; "  # type: ignore[arg-type]
            + _quality("shieldwall", huge_run)
        )
    report.save()


if __name__ == "__main__":
    main()
