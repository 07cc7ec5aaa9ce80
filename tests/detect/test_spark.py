"""The Spark engine (local mode, through the CLI) finds the same clusters, with the same evidence, as DuckDB."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.detect.synthetic import generate, score_accounts

pytest.importorskip("pyspark")


@pytest.mark.slow
def test_spark_and_duckdb_find_the_same_clusters(tmp_path: Path) -> None:
    data = generate(n_posts=4_000, n_accounts=400, n_groups=3, seed=2)
    posts = tmp_path / "posts.parquet"
    pq.write_table(data.posts, posts)
    runner = CliRunner()
    duck = runner.invoke(app, ["detect", str(posts), "-o", str(tmp_path / "duck")])
    assert duck.exit_code == 0, duck.output
    spark = runner.invoke(
        app, ["detect", str(posts), "-o", str(tmp_path / "spark"), "--engine", "spark", "--master", "local[2]"]
    )
    assert spark.exit_code == 0, spark.output

    def read(engine: str, name: str) -> list[dict[str, object]]:
        return pq.read_table(tmp_path / engine / f"{name}.parquet").to_pylist()

    clusters = ["cluster_id", "n_accounts", "accounts", "signals", "co_actions", "first_seen", "last_seen"]
    duck_clusters = [{k: c[k] for k in clusters} for c in read("duck", "clusters")]
    assert duck_clusters and duck_clusters == [{k: c[k] for k in clusters} for c in read("spark", "clusters")]
    evidence = ["cluster_id", "signal", "label", "post_ids", "n_accounts"]
    assert [{k: e[k] for k in evidence} for e in read("duck", "evidence")] == [
        {k: e[k] for k in evidence} for e in read("spark", "evidence")
    ]
    edges = ["src", "dst", "co_actions", "cluster_id"]
    assert [{k: e[k] for k in edges} for e in read("duck", "edges")] == [
        {k: e[k] for k in edges} for e in read("spark", "edges")
    ]
    flagged = {str(a) for c in duck_clusters for a in c["accounts"]}  # type: ignore[attr-defined]
    assert score_accounts(flagged, data.truth).precision == 1.0
