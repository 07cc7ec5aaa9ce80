"""CooRTweet 2.1.3's detection, re-implemented in DuckDB as the side-by-side reference for detect_real_data.

CooRTweet (R) cannot be installed here (CRAN is unreachable), so the bench needs its answer another way.
This follows the package's documented steps, written afresh from its description:

detect_groups(x, time_window, min_participation, remove_loops=TRUE), per object type:
  1. keep accounts with at least min_participation rows;
  2. on each object, every pair of rows (each unordered pair once) at most time_window seconds apart;
  3. drop loops: the same content, the same account, or an object that is the content itself;
  4. min participation: among the contents left in the pairs, keep the accounts with at least
     min_participation of them, and keep a pair when either of its contents belongs to such an account.
generate_coordinated_network(edge_weight=0.5): the pairs of every object type together (rbindlist),
one undirected edge per account pair, weight = number of pairs; the full graph (no subgraph), so every
edge counts; groups are its connected components.

`check()` compares the result with the figures CooRTweet itself printed for issue 12 (444 accounts in
113 components on german_elections at 30 s): when they agree, the reference is CooRTweet's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# german_elections: (column, prefix) per object type, as CooRTweet's vignette prepares them.
GERMAN_TYPES = (("url_id", "url_"), ("domain_id", "domain_"), ("hashtag_id", "hashtag_"), ("phash_id", "hash_"))

PAIRS_SQL = """
WITH x1 AS (
    SELECT *, row_number() OVER () AS rid FROM shares
    WHERE account_id IN (SELECT account_id FROM shares GROUP BY account_id HAVING count(*) >= $min_participation)
), pairs AS (
    SELECT a.object_id, a.account_id AS account_a, b.account_id AS account_b,
           a.content_id AS content_a, b.content_id AS content_b
    FROM x1 a JOIN x1 b ON a.object_id = b.object_id AND a.rid < b.rid
     AND abs(a.timestamp_share - b.timestamp_share) <= $window
    WHERE a.content_id <> b.content_id AND a.account_id <> b.account_id
      AND a.object_id <> a.content_id AND a.object_id <> b.content_id
), contents AS (
    SELECT content_a AS content_id FROM pairs UNION SELECT content_b FROM pairs
), kept AS (
    SELECT x1.content_id FROM x1 JOIN contents USING (content_id)
    WHERE x1.account_id IN (
        SELECT x1.account_id FROM x1 JOIN contents USING (content_id)
        GROUP BY x1.account_id HAVING count(*) >= $min_participation)
)
SELECT least(account_a, account_b) AS account_a, greatest(account_a, account_b) AS account_b FROM pairs
WHERE content_a IN (SELECT content_id FROM kept) OR content_b IN (SELECT content_id FROM kept)
"""


@dataclass
class Components:
    groups: list[list[str]]  # connected components, largest first
    edges: int

    @property
    def accounts(self) -> int:
        return sum(len(g) for g in self.groups)

    def of_size(self, at_least: int) -> list[list[str]]:
        return [g for g in self.groups if len(g) >= at_least]


def coordinated_pairs(con: duckdb.DuckDBPyConnection, shares: str, window: float, min_participation: int) -> pa.Table:
    """detect_groups on one object type: `shares` is a relation with object_id, account_id, content_id,
    timestamp_share."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW shares AS {shares}")
    return con.sql(PAIRS_SQL, params={"window": window, "min_participation": min_participation}).to_arrow_table()


def components(pairs: list[pa.Table], edge_weight: float | None = 0.5) -> Components:
    """generate_coordinated_network on the combined pairs: the connected components of its edges whose weight
    exceeds the edge_weight quantile of all weights (subgraph=1), or of every edge (edge_weight None)."""
    table = pa.concat_tables(pairs)
    if table.num_rows == 0:
        return Components([], 0)
    con = duckdb.connect()
    con.register("p", table)
    edges = con.sql("SELECT account_a, account_b, count(*) AS weight FROM p GROUP BY ALL").to_arrow_table()
    if edge_weight is not None:  # R's quantile (type 7, linear) and a strict >, as CooRTweet marks its edges
        weights = edges.column("weight").to_numpy()
        edges = edges.filter(pa.array(weights > np.quantile(weights, edge_weight)))
        if edges.num_rows == 0:
            return Components([], 0)
    ends = [edges.column(c).to_numpy(zero_copy_only=False) for c in ("account_a", "account_b")]
    names, codes = np.unique(np.concatenate(ends), return_inverse=True)
    n, half = len(names), edges.num_rows
    graph = coo_matrix((np.ones(half), (codes[:half], codes[half:])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    groups = [sorted(names[order][i].tolist()) for i in np.split(np.arange(n), cuts)]
    return Components(sorted(groups, key=len, reverse=True), half)


def german_elections(
    path: Path, window: float = 30, min_participation: int = 2, edge_weight: float | None = 0.5
) -> Components:
    con = duckdb.connect()
    pairs = [
        coordinated_pairs(
            con,
            f"SELECT DISTINCT '{prefix}' || {column} AS object_id, account_id, CAST(post_id AS VARCHAR) AS content_id, "
            f"timestamp AS timestamp_share FROM read_parquet('{path}') WHERE {column} IS NOT NULL",
            window,
            min_participation,
        )
        for column, prefix in GERMAN_TYPES
    ]
    return components(pairs, edge_weight)


def object_shares(
    path: Path, window: float = 60, min_participation: int = 2, edge_weight: float | None = 0.5
) -> Components:
    """Data already in CooRTweet's shape (russian_coord_tweets)."""
    con = duckdb.connect()
    shares = f"SELECT object_id, account_id, content_id, timestamp_share FROM read_parquet('{path}')"
    return components([coordinated_pairs(con, shares, window, min_participation)], edge_weight)
