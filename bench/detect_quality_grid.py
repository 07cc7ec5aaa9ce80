"""Detect: account-level quality over a grid of settings, every cell reported and the worst one named.

Axes (issue 12): planted group size (3, 30, 300, 2,000 accounts), account activity (5 or 25 posts per
account), cover activity (members posting 10x more organically than others of their rank), window
tightness (episodes spread over 4 or 30 minutes), and organic viral bursts (the default few, or
many bursts of 500-2,000 accounts sharing one item within minutes). Each group size is crossed with
the base cell and each other axis changed alone. Groups cycle through the seven signal kinds; planted
accounts are about 3% of all accounts (at least two groups). Every cell is generated anew and run
through the full DuckDB pipeline with default settings.

    python -m bench.detect_quality_grid [--quick] [--posts N]
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.report import Report

SIZES = (3, 30, 300, 2_000)


@dataclass(frozen=True)
class Cell:
    name: str
    posts_per_account: int = 5
    cover: float = 1.0
    spread: int = 240
    viral: bool = False


VARIANTS = (
    Cell("base"),
    Cell("busy accounts", posts_per_account=25),
    Cell("heavy cover", cover=10.0),
    Cell("loose window", spread=1_800),
    Cell("viral bursts", viral=True),
)


def run_cell(n_posts: int, size: int, cell: Cell, seed: int) -> dict[str, Any]:
    from shieldwall.detect.pipeline import run_duckdb
    from shieldwall.detect.settings import DetectSettings
    from shieldwall.detect.synthetic import generate, score_accounts

    n_accounts = max(n_posts // cell.posts_per_account, 3 * size * 2)
    n_groups = max(2, min(21, round(0.03 * n_accounts / size)))
    bursts = max(2, n_posts // 20_000)
    data = generate(
        n_posts=n_posts,
        n_accounts=n_accounts,
        n_groups=n_groups,
        seed=seed,
        group_size=(size, size + 1),
        spread=cell.spread,
        cover=cell.cover,
        bursts=bursts * 5 if cell.viral else bursts,
        burst_size=(500, 2_000) if cell.viral else (150, 500),
    )
    started = time.perf_counter()
    result = run_duckdb(data.posts, DetectSettings())
    seconds = time.perf_counter() - started
    score = score_accounts(set(result.membership.column("account_id").to_pylist()), data.truth)
    return {
        "score": score,
        "seconds": seconds,
        "groups": n_groups,
        "accounts": n_accounts,
        "posts": data.posts.num_rows,
    }


def main() -> None:
    quick = "--quick" in sys.argv
    n_posts = 20_000 if quick else 200_000
    if "--posts" in sys.argv:
        n_posts = int(sys.argv[sys.argv.index("--posts") + 1])
    sizes = SIZES[:2] if quick else SIZES
    report = Report("detect_quality_grid")
    report.line(
        f"{n_posts:,} posts per cell (not 1M: {len(sizes) * len(VARIANTS)} cells on a shared 2-core machine); "
        f"load average {os.getloadavg()[0]:.1f} at the start"
    )
    worst: tuple[float, str] | None = None
    for size in sizes:
        for index, cell in enumerate(VARIANTS):
            out = run_cell(n_posts, size, cell, seed=100 + index)
            score = out["score"]
            label = f"groups of {size:,} / {cell.name}"
            report.line(
                f"{label}: {score.line()}; {out['groups']} groups among {out['accounts']:,} accounts, "
                f"{out['posts']:,} posts, {out['seconds']:.1f} s"
            )
            report.save()
            if worst is None or score.f1 < worst[0]:
                worst = (score.f1, label)
    if worst is not None:
        report.line(
            f"WORST CELL: {worst[1]}, F1 {worst[0]:.3f} (goal >= 0.95); "
            f"load average {os.getloadavg()[0]:.1f} at the end"
        )
    report.save()


if __name__ == "__main__":
    main()
