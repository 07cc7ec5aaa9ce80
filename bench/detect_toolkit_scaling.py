"""Detect: Shieldwall's full pipeline against coordination-network-toolkit's co_link + co_retweet +
co_similar_tweet on the same CSV files, every size measured (no extrapolation), up to the issue's
1,000,000 posts / 100,000 accounts. The toolkit needs about half an hour at 1M posts.

    python -m bench.detect_toolkit_scaling [--quick] [--only POSTS]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from bench.detect_quality_speed import _run_child, _toolkit
from bench.report import Report


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = [(5_000, 500), (20_000, 2_000)] if quick else [(100_000, 10_000), (200_000, 20_000), (1_000_000, 100_000)]
    if "--only" in sys.argv:  # one size alone, e.g. --only 1000000 (accounts: a tenth of the posts)
        posts = int(sys.argv[sys.argv.index("--only") + 1])
        sizes = [(posts, posts // 10)]
    report = Report("detect_toolkit_scaling")

    def emit(text: str) -> None:
        report.line(text)
        report.save()  # after every figure: the 1M toolkit run is long

    with tempfile.TemporaryDirectory(prefix="bench_detect_scaling_") as tmp:
        folder = Path(tmp)
        for n_posts, n_accounts in sizes:
            files = _run_child("--child-generate", str(n_posts), str(n_accounts), str(folder))
            truth = json.loads(Path(str(files["truth"])).read_text())
            load_before = os.getloadavg()[0]
            peer = _toolkit(str(files["toolkit_csv"]), truth, folder)
            ours = _run_child("--child-detect", str(files["toolkit_csv"]), str(files["truth"]), str(folder / "out"))
            ours_seconds = float(ours["seconds"])  # type: ignore[arg-type]
            emit(
                f"{n_posts:,} posts / {n_accounts:,} accounts, same toolkit CSV: toolkit co_link+co_retweet+"
                f"co_similar_tweet {peer['seconds']:.1f} s (F1 {peer['f1']:.3f}); shieldwall full pipeline "
                f"{ours_seconds:.1f} s, peak {float(ours['peak_mb']):.0f} MB (F1 {float(ours['f1']):.3f}); "  # type: ignore[arg-type]
                f"ratio {peer['seconds'] / ours_seconds:.1f}x (both measured; load average "
                f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after)"
            )
            for path in folder.glob("*"):
                if path.is_file():
                    path.unlink()


if __name__ == "__main__":
    main()
