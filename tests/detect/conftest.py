"""Small synthetic datasets and one real CLI run shared by the detect tests (kept small so tests stay fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.detect.synthetic import SyntheticData, generate


@dataclass
class CliRun:
    data: SyntheticData
    posts_path: Path
    outdir: Path
    output: str


@pytest.fixture(scope="session")
def synthetic_small() -> SyntheticData:
    return generate(n_posts=20_000, n_accounts=2_000, seed=11)


@pytest.fixture(scope="session")
def cli_run(synthetic_small: SyntheticData, tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    base = tmp_path_factory.mktemp("detect_run")
    posts_path = base / "posts.parquet"
    pq.write_table(synthetic_small.posts, posts_path)
    outdir = base / "out"
    result = CliRunner().invoke(app, ["detect", str(posts_path), "-o", str(outdir), "--tlp", "amber"])
    assert result.exit_code == 0, result.output
    return CliRun(synthetic_small, posts_path, outdir, result.output)
