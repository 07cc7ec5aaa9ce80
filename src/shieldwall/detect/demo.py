"""Demo: a small synthetic dataset with planted coordinated groups, detected and stored as a TLP:CLEAR run."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.console import Console

from shieldwall.config import Settings
from shieldwall.detect.outputs import RunInfo, write_outputs
from shieldwall.detect.pipeline import run_duckdb
from shieldwall.detect.runs import runs_dir
from shieldwall.detect.settings import DetectSettings
from shieldwall.detect.synthetic import generate, score_accounts
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database

DEMO_RUN = "demo-synthetic"


def load(database: Database, settings: Settings, console: Console) -> None:
    del database  # detection findings live as files under the data dir, not in tables
    started = time.perf_counter()
    data = generate(n_posts=20_000, n_accounts=2_000, seed=3)
    result = run_duckdb(data.posts, DetectSettings())
    run = RunInfo(
        run_id=DEMO_RUN,
        inputs=["synthetic (shieldwall.detect.synthetic, seed 3)"],
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        engine="duckdb",
        tlp=TLP.CLEAR.label,
        posts=data.posts.num_rows,
        stats=result.stats,
        seconds=round(time.perf_counter() - started, 3),
    )
    outdir = runs_dir(settings.data_dir) / DEMO_RUN
    write_outputs(result, outdir, run, TLP.CLEAR)
    score = score_accounts(set(result.membership.column("account_id").to_pylist()), data.truth)
    console.print(
        f"demo: detect found {result.clusters.num_rows} clusters in {data.posts.num_rows} synthetic posts "
        f"({score.line()}); see /detect"
    )
