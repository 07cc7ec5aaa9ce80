"""Pick the engine for a run: DuckDB on one machine, or Spark."""

from __future__ import annotations

import pyarrow as pa

from shieldwall.detect.pipeline import DetectionResult, StageCallback, run_duckdb
from shieldwall.detect.settings import DetectSettings

ENGINES = ("duckdb", "spark")


def run_engine(
    engine: str,
    posts: pa.Table,
    settings: DetectSettings,
    on_stage: StageCallback | None = None,
    master: str = "local[2]",
    groups: dict[str, list[str]] | None = None,
) -> DetectionResult:
    if engine == "duckdb":
        return run_duckdb(posts, settings, on_stage, groups)
    if engine == "spark":
        if groups:
            raise ValueError("--why runs with the duckdb engine only")
        from shieldwall.detect.spark_engine import run_spark

        return run_spark(posts, settings, on_stage, master=master)
    raise ValueError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
