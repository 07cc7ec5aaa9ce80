"""The detection pipeline on DuckDB: co-action items -> significant pairs -> Leiden clusters -> evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from shieldwall.detect.actions import account_names, build_actions, with_names
from shieldwall.detect.cluster import EVIDENCE_ACTS_SQL, cluster_summaries, evidence_table, intra_cluster_pairs_sql
from shieldwall.detect.coaction import FIXED_RULE_SQL, build_pairs, edge_threshold, significant_edges
from shieldwall.detect.communities import JOIN_P_CAP, Query, cluster_accounts
from shieldwall.detect.duck import connect
from shieldwall.detect.settings import NO_NULL, DetectSettings
from shieldwall.detect.why import explain_groups

STAGES = ("co-action items", "pairs and null model", "significance", "clustering", "evidence")
StageCallback = Callable[[str], None]


@dataclass
class DetectionResult:
    clusters: pa.Table
    edges: pa.Table  # significant account pairs, with cluster ids where both ends are in one cluster
    evidence: pa.Table
    membership: pa.Table
    stats: dict[str, int] = field(default_factory=dict)
    groups: list[dict[str, Any]] = field(default_factory=list)  # why.explain_groups, when groups were given


def run_duckdb(
    posts: pa.Table,
    settings: DetectSettings,
    on_stage: StageCallback | None = None,
    groups: dict[str, list[str]] | None = None,
) -> DetectionResult:
    def stage(name: str) -> None:
        if on_stage:
            on_stage(name)

    settings = settings.for_posts(posts.num_rows, _span_seconds(posts))
    con = connect(threads=settings.threads, memory_limit=settings.memory_limit)
    try:
        build_actions(con, posts, settings)
        stage(STAGES[0])
        build_pairs(con, settings)
        stage(STAGES[1])
        names = account_names(con)
        formed = int(con.execute("SELECT count(*) FROM pairs").fetchall()[0][0])
        edges = with_names(significant_edges(con, settings, JOIN_P_CAP), names, ("src", "dst"))
        stage(STAGES[2])
        strong_p = edge_threshold(settings, formed)
        result = finish(con, posts, edges, names, settings, stage, strong_p, formed)
        if groups:
            # `why` reports against the family-wise threshold a pair must reach on its own.
            strong = replace(settings, max_p_value=strong_p)
            result.groups = explain_groups(con, groups, result.edges, result.membership, strong)
        return result
    finally:
        con.close()


def finish(
    con: duckdb.DuckDBPyConnection,
    posts: pa.Table,
    edges: pa.Table,
    names: pa.Array,
    settings: DetectSettings,
    stage: StageCallback,
    strong_p: float,
    formed: int,
) -> DetectionResult:
    """Cluster the edges and summarise; `formed` is the count of in-window pairs (the `pairs` table)."""
    con.execute("CREATE OR REPLACE TEMP VIEW account_keys AS SELECT code AS key, name FROM accounts")
    accounts = int(con.execute("SELECT count(*) FROM accounts").fetchall()[0][0])
    membership, edges = cluster_accounts(edges, settings, strong_p, duckdb_query(con), joined_edges(con), accounts)
    stage(STAGES[3])
    # The cluster queries join the coded pairs and acts: membership by code first, by name after.
    _replace(con, "cm_named", membership)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE cm AS SELECT a.code AS account_id, m.cluster_id "
        "FROM cm_named m JOIN accounts a ON a.name = m.account_id"
    )
    evidence_acts = with_names(con.sql(EVIDENCE_ACTS_SQL).to_arrow_table(), names, ("account_id",))
    intra_pairs = with_names(con.sql(intra_cluster_pairs_sql()).to_arrow_table(), names, ("src", "dst"))
    _replace(con, "cm", membership)
    _replace(con, "evidence_acts", evidence_acts)
    _replace(con, "intra_pairs", intra_pairs)
    counts = {
        "co_action_items": int(con.execute("SELECT count(*) FROM acts").fetchall()[0][0]),
        "co_action_pairs": formed,
    }
    if membership.num_rows == 0 and settings.null_model != NO_NULL:  # for the run's "no cluster" advice
        pairs, accounts = con.execute(FIXED_RULE_SQL, {"min": int(settings.min_co_actions)}).fetchall()[0]
        counts.update(fixed_rule_pairs=int(pairs), fixed_rule_accounts=int(accounts))
    return summarise(con, posts, edges, membership, settings, stage, counts)


def summarise(
    con: duckdb.DuckDBPyConnection,
    posts: pa.Table,
    edges: pa.Table,
    membership: pa.Table,
    settings: DetectSettings,
    stage: StageCallback,
    counts: dict[str, int],
) -> DetectionResult:
    """Evidence, cluster summaries and labelled edges from the small tables `cm`, `evidence_acts`, `intra_pairs`.

    Shared by the engines: Spark hands its (already small) results over to a DuckDB connection.
    """
    evidence = evidence_table(con)
    _replace(con, "evidence", evidence)
    con.register("edges_arrow", edges)
    con.execute("CREATE OR REPLACE TEMP VIEW cluster_edges AS SELECT src, dst, signals FROM edges_arrow")
    clusters = cluster_summaries(con, settings)
    labelled = con.sql(
        "SELECT e.src, e.dst, e.weight, e.k AS co_actions, e.expected AS expected_co_actions, e.p_value, "
        "e.signals, to_timestamp(e.first_ts) AS first_seen, to_timestamp(e.last_ts) AS last_seen, "
        "CASE WHEN a.cluster_id = b.cluster_id THEN a.cluster_id END AS cluster_id "
        "FROM edges_arrow e LEFT JOIN cm a ON a.account_id = e.src LEFT JOIN cm b ON b.account_id = e.dst "
        "ORDER BY e.src, e.dst"
    ).to_arrow_table()
    stage(STAGES[4])
    stats = {
        "posts": posts.num_rows,
        **counts,
        "significant_edges": edges.num_rows,
        "clusters": clusters.num_rows,
        "accounts_in_clusters": membership.num_rows,
    }
    return DetectionResult(clusters=clusters, edges=labelled, evidence=evidence, membership=membership, stats=stats)


def duckdb_query(con: duckdb.DuckDBPyConnection) -> Query:
    def query(sql: str, tables: dict[str, pa.Table]) -> pa.Table:
        for name, table in tables.items():
            _replace(con, name, table)
        return con.sql(sql).to_arrow_table()

    return query


def joined_edges(con: duckdb.DuckDBPyConnection) -> Callable[[pa.Table], pa.Table]:
    """communities.JOINED_PAIRS_SQL rows (per pair and signal) as edge rows (coaction.CANDIDATES_SQL's shape)."""

    def edges(rows: pa.Table) -> pa.Table:
        con.register("joined_rows", rows)
        try:
            return con.sql(
                "SELECT src, dst, CAST(sum(k) AS BIGINT) AS k, CAST(sum(expected) AS DOUBLE) AS expected, "
                "round(CAST(sum(weight) AS DOUBLE), 6) AS weight, min(first_ts) AS first_ts, max(last_ts) AS last_ts, "
                "list(DISTINCT signal ORDER BY signal) AS signals FROM joined_rows GROUP BY src, dst ORDER BY src, dst"
            ).to_arrow_table()
        finally:
            con.unregister("joined_rows")

    return edges


def _replace(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register(f"{name}_arrow", table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")


def _span_seconds(posts: pa.Table) -> float:
    if posts.num_rows == 0:
        return 1.0
    bounds = pc.min_max(posts.column("created_at"))
    first, last = bounds["min"].as_py(), bounds["max"].as_py()
    return max((last - first).total_seconds(), 1.0) if first is not None and last is not None else 1.0
