"""The same pipeline on Apache Spark (PySpark), for data beyond one machine.

Spark builds the co-action items, the pairs, the null model and the per-pair statistics with the
same SQL as the DuckDB engine (coaction.pair_queries); only the small results (candidate pairs,
cluster evidence) come back to the driver, where the shared code tests significance, runs Leiden
and writes the summaries. Near-duplicate texts are grouped on the executors (spark_text.py); PDQ
media grouping runs the shared NumPy index on the driver (it needs only the hash column).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import pyarrow as pa

from shieldwall.detect.actions import episode_items_sql, media_group_table, signal_selects, union_of
from shieldwall.detect.canonical import TRACKING_RE, URL_RE
from shieldwall.detect.cluster import EVIDENCE_ACTS_SQL, intra_cluster_pairs_sql
from shieldwall.detect.coaction import edge_threshold, pair_queries, significant_edges, windows_table
from shieldwall.detect.communities import JOIN_P_CAP, cluster_accounts
from shieldwall.detect.duck import connect
from shieldwall.detect.errors import EngineUnavailable
from shieldwall.detect.pipeline import (
    STAGES,
    DetectionResult,
    StageCallback,
    _replace,
    _span_seconds,
    joined_edges,
    summarise,
)
from shieldwall.detect.settings import DetectSettings
from shieldwall.detect.spark_text import text_groups_view


def _sql_string(value: str) -> str:
    """A Spark SQL string literal (backslash is an escape character there)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def canonical_url_sql(column: str) -> str:
    """Spark SQL twin of the sw_canon_url DuckDB macro."""
    with_scheme = (
        f"CASE WHEN trim({column}) RLIKE {_sql_string('^[a-zA-Z][a-zA-Z0-9+.-]*://')} THEN trim({column}) "
        f"ELSE concat('http://', trim({column})) END"
    )
    url_re = _sql_string(URL_RE)
    host = (
        f"regexp_replace(regexp_replace(lower(regexp_extract({with_scheme}, {url_re}, 2)), "
        f"{_sql_string('^www[.]')}, ''), {_sql_string(':(80|443)$')}, '')"
    )
    path = f"regexp_replace(regexp_extract({with_scheme}, {url_re}, 3), '/+$', '')"
    query = (
        f"array_join(array_sort(filter(split(regexp_replace(regexp_extract({with_scheme}, {url_re}, 4), "
        f"{_sql_string('^[?]')}, ''), '&'), q -> q <> '' AND NOT lower(q) RLIKE {_sql_string(TRACKING_RE)})), '&')"
    )
    return (
        f"CASE WHEN {column} IS NULL OR trim({column}) = '' THEN NULL ELSE concat('http://', {host}, {path}, "
        f"CASE WHEN {query} = '' THEN '' ELSE concat('?', {query}) END) END"
    )


def spark_session(master: str) -> Any:
    from pyspark.sql import SparkSession

    if master.startswith("local"):
        # Python workers run our MinHash code: in local mode, the interpreter that has Shieldwall. On a
        # cluster, the executors need `pip install shieldwall[detect]` (or the package in --py-files).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # Local mode talks to itself on loopback: without these the JVM looks its host name up (a DNS
        # query that can stall for minutes on a machine whose name is not in /etc/hosts).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("SPARK_LOCAL_HOSTNAME", "localhost")
    builder = SparkSession.builder.master(master)
    if master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    return (
        builder.appName("shieldwall-detect")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def run_spark(
    posts: pa.Table,
    settings: DetectSettings,
    on_stage: StageCallback | None = None,
    *,
    master: str = "local[2]",
    stop_session: bool = True,
) -> DetectionResult:
    def stage(name: str) -> None:
        if on_stage:
            on_stage(name)

    settings = settings.for_posts(posts.num_rows, _span_seconds(posts))
    try:
        spark = spark_session(master)
    except Exception as error:  # no Java, a master that does not answer: PySpark raises many kinds
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise EngineUnavailable(f"Spark could not start with master {master!r}: {reason}") from None

    def view(name: str, query: str) -> None:
        # Materialised and cut from its lineage: each step reads the previous ones several times, and
        # plans nested ten steps deep grow past what the driver can analyse (or print).
        frame = spark.sql(query).localCheckpoint()
        frame.createOrReplaceTempView(name)

    def table(name: str, data: pa.Table) -> None:
        spark.createDataFrame(data).createOrReplaceTempView(name)

    indexed = posts.select(["post_id", "account_id", "created_at", "text", "urls", "reshare_of", "hashtags"])
    no_objects = pa.nulls(posts.num_rows, pa.list_(pa.string()))
    objects = posts.column("objects") if "objects" in posts.column_names else no_objects
    indexed = indexed.append_column("objects", objects)
    table("posts", indexed.append_column("post_index", pa.array(np.arange(posts.num_rows, dtype=np.int64))))
    view(
        "p",
        "SELECT post_index, post_id, account_id, CAST(unix_micros(created_at) AS DOUBLE) / 1000000 AS ts, text, "
        "urls, reshare_of, hashtags, coalesce(objects, array()) AS objects FROM posts",
    )
    table("windows_t", windows_table(settings))
    selects = _action_selects(spark, posts, settings, view, table)
    view("raw_acts", union_of(selects))
    view(
        "acts",
        "SELECT signal, xxhash64(item) AS item, first.label AS label, account_id, first.ts AS ts, "
        "first.post_id AS post_id FROM ("
        "SELECT signal, item, account_id, min(struct(ts, post_id, label)) AS first "
        f"FROM ({episode_items_sql('raw_acts')}) u WHERE item IS NOT NULL GROUP BY signal, item, account_id) g",
    )
    stage(STAGES[0])
    for name, step in pair_queries(settings, "spark"):
        view(name, step)
    stage(STAGES[1])
    # One Spark job brings back the per-signal rows of candidate pairs; the shared test runs on the driver.
    candidate_rows = spark.sql("SELECT * FROM pair_signal").toArrow()
    formed = int(spark.sql("SELECT count(*) AS n FROM pairs").collect()[0]["n"])
    con = connect()
    _replace(con, "pair_signal", _normalise_types(candidate_rows))
    edges = significant_edges(con, settings, JOIN_P_CAP)
    stage(STAGES[2])
    spark.sql("SELECT DISTINCT account_id AS key, account_id AS name FROM acts").createOrReplaceTempView("account_keys")

    def spark_query(sql: str, tables: dict[str, pa.Table]) -> pa.Table:
        for name, data in tables.items():
            table(name, data)
        return _normalise_types(spark.sql(sql).toArrow())

    strong_p = edge_threshold(settings, formed)
    accounts = int(spark.sql("SELECT count(DISTINCT account_id) AS n FROM p").collect()[0]["n"])
    membership, edges = cluster_accounts(edges, settings, strong_p, spark_query, joined_edges(con), accounts)
    table("cm", membership if membership.num_rows else _empty_membership())
    evidence_acts = spark.sql(EVIDENCE_ACTS_SQL).toArrow()
    intra_pairs = spark.sql(intra_cluster_pairs_sql()).toArrow()
    count_row = spark.sql(
        "SELECT (SELECT count(*) FROM acts) AS items, (SELECT count(*) FROM pairs) AS pairs"
    ).collect()
    counts = {"co_action_items": int(count_row[0]["items"]), "co_action_pairs": int(count_row[0]["pairs"])}
    try:
        _replace(con, "cm", membership)
        _replace(con, "evidence_acts", _normalise_types(evidence_acts))
        _replace(con, "intra_pairs", _normalise_types(intra_pairs))
        stage(STAGES[3])
        return summarise(con, posts, edges, membership, settings, stage, counts)
    finally:
        con.close()
        if stop_session:
            spark.stop()


def _empty_membership() -> pa.Table:
    return pa.table({"account_id": pa.array(["-"], pa.string()), "cluster_id": pa.array(["-none-"], pa.string())})


def _normalise_types(table: pa.Table) -> pa.Table:
    """Spark hands back large_string and int32 columns; make them the DuckDB engine's types."""
    fields = []
    for field in table.schema:
        kind = field.type
        if pa.types.is_large_string(kind):
            kind = pa.string()
        elif pa.types.is_integer(kind):
            kind = pa.int64()
        fields.append(pa.field(field.name, kind))
    return table.cast(pa.schema(fields))


def _action_selects(spark: Any, posts: pa.Table, settings: DetectSettings, view: Any, table: Any) -> list[str]:
    """The shared per-signal SELECTs (actions.signal_selects) over Spark views of the same tables."""
    wanted = set(settings.signals)
    view(
        "link",
        f"SELECT post_id, account_id, ts, {canonical_url_sql('u')} AS url FROM "
        "(SELECT post_id, account_id, ts, explode(urls) AS u FROM p WHERE reshare_of IS NULL) x"
        + ("" if wanted & {"co_link", "co_domain"} else " LIMIT 0"),
    )
    if settings.shortener_map and wanted & {"co_link", "co_domain"}:
        table(
            "shortener_raw",
            pa.table({"short": list(settings.shortener_map), "long": list(settings.shortener_map.values())}),
        )
        view(
            "link",
            f"SELECT l.post_id, l.account_id, l.ts, coalesce({canonical_url_sql('m.long')}, l.url) AS url "
            f"FROM link l LEFT JOIN (SELECT {canonical_url_sql('short')} AS short, first(long) AS long "
            f"FROM shortener_raw GROUP BY {canonical_url_sql('short')}) m ON l.url = m.short",
        )
    if "near_text" in wanted:
        text_groups_view(spark, settings, posts.num_rows)
    if "media" in wanted:
        table("media_groups_t", media_group_table(posts, settings))
    selects = signal_selects(settings, "explode", _time_label)
    if not selects:
        raise ValueError("no signals selected")
    return selects


def _time_label(seconds: str) -> str:
    return f"concat(date_format(timestamp_seconds({seconds}), 'yyyy-MM-dd HH:mm:ss'), ' UTC')"
