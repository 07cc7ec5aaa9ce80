"""Detect: how coordination-network-toolkit's time grows with the data, measured at growing sizes in one
run, against Shieldwall's full pipeline on the same files; the toolkit's 1M-post time is extrapolated
from its two largest measured sizes (it needs hours-scale time at 1M), Shieldwall's is measured.

    python -m bench.detect_toolkit_scaling [--quick]
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

from bench.detect_quality_speed import _run_child, _toolkit
from bench.report import Report


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = [(5_000, 500), (10_000, 1_000)] if quick else [(100_000, 10_000), (200_000, 20_000), (400_000, 40_000)]
    target = (20_000, 2_000) if quick else (1_000_000, 100_000)
    report = Report("detect_toolkit_scaling")

    def emit(text: str) -> None:
        report.line(text)
        report.save()

    measured: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench_detect_scaling_") as tmp:
        folder = Path(tmp)
        for n_posts, n_accounts in sizes:
            files = _run_child("--child-generate", str(n_posts), str(n_accounts), str(folder))
            truth = json.loads(Path(str(files["truth"])).read_text())
            peer = _toolkit(str(files["toolkit_csv"]), truth, folder)
            ours = _run_child("--child-detect", str(files["toolkit_csv"]), str(files["truth"]), str(folder / "out"))
            ours_seconds = float(ours["seconds"])  # type: ignore[arg-type]
            measured.append((n_posts, peer["seconds"], ours_seconds))
            emit(
                f"{n_posts:,} posts / {n_accounts:,} accounts, same toolkit CSV: toolkit co_link+co_retweet+"
                f"co_similar_tweet {peer['seconds']:.1f} s (F1 {peer['f1']:.3f}); shieldwall full pipeline "
                f"{ours_seconds:.1f} s (F1 {float(ours['f1']):.3f}); ratio {peer['seconds'] / ours_seconds:.1f}x"  # type: ignore[arg-type]
            )
            for path in folder.glob("*"):
                if path.is_file():
                    path.unlink()
        (n1, t1, _), (n2, t2, _) = measured[-2], measured[-1]
        exponent = math.log(t2 / t1) / math.log(n2 / n1) if t2 > t1 else 1.0
        n_big, a_big = target
        files = _run_child("--child-generate", str(n_big), str(a_big), str(folder))
        ours = _run_child("--child-detect", str(files["toolkit_csv"]), str(files["truth"]), str(folder / "big"))
        ours_seconds = float(ours["seconds"])  # type: ignore[arg-type]
        extrapolated = t2 * (n_big / n2) ** exponent
        emit(
            f"{n_big:,} posts / {a_big:,} accounts: shieldwall full pipeline {ours_seconds:.1f} s (measured); toolkit "
            f"{extrapolated:.0f} s extrapolated from {n1:,} and {n2:,} posts (time ~ n^{exponent:.2f}, not measured); "
            f"ratio {extrapolated / ours_seconds:.1f}x"
        )


if __name__ == "__main__":
    main()
