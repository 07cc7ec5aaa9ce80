"""The Spark engine (local mode) finds the same clusters, with the same evidence, as DuckDB."""

from __future__ import annotations

import pytest

from shieldwall.detect.pipeline import run_duckdb
from shieldwall.detect.settings import DetectSettings
from shieldwall.detect.spark_engine import run_spark
from shieldwall.detect.synthetic import generate, score_accounts

pytest.importorskip("pyspark")


@pytest.mark.slow
def test_spark_and_duckdb_find_the_same_clusters() -> None:
    data = generate(n_posts=4_000, n_accounts=400, n_groups=3, seed=2)
    settings = DetectSettings()
    duck = run_duckdb(data.posts, settings)
    spark = run_spark(data.posts, settings, master="local[2]")
    assert duck.membership.num_rows > 0
    assert spark.membership.equals(duck.membership)
    columns = ["cluster_id", "n_accounts", "accounts", "signals", "co_actions"]
    assert spark.clusters.select(columns).equals(duck.clusters.select(columns))
    evidence = ["cluster_id", "signal", "label", "post_ids", "n_accounts"]
    assert spark.evidence.select(evidence).equals(duck.evidence.select(evidence))
    assert spark.stats == duck.stats
    assert score_accounts(set(spark.membership.column("account_id").to_pylist()), data.truth).precision == 1.0
