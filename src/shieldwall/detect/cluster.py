"""Each cluster's evidence and summary (the clusters themselves: communities.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from scipy.stats import poisson

from shieldwall.detect.coaction import pair_signal_sql
from shieldwall.detect.explain import explain_cluster
from shieldwall.detect.settings import DetectSettings

EVIDENCE_PER_CLUSTER = 200


# The co-actions that counted: in-window pairs (the `pairs` table) whose two accounts are in one cluster.
# Each account's action on an item is evidence only through such a pair, and carries the gap to its
# nearest counted partner: an action with no member within the window is never listed.
EVIDENCE_ACTS_SQL = """
WITH counted AS (
  SELECT a.cluster_id, p.signal, p.item, p.src, p.dst, abs(p.ts_src - p.ts_dst) AS gap
  FROM pairs p JOIN cm a ON a.account_id = p.src JOIN cm b ON b.account_id = p.dst
  WHERE a.cluster_id = b.cluster_id
),
ends AS (
  SELECT cluster_id, signal, item, src AS account_id, gap FROM counted
  UNION ALL SELECT cluster_id, signal, item, dst AS account_id, gap FROM counted
),
nearest AS (
  SELECT cluster_id, signal, item, account_id, min(gap) AS gap_seconds FROM ends
  GROUP BY cluster_id, signal, item, account_id
)
SELECT n.cluster_id, CAST(acts.signal AS STRING) AS signal, acts.item, acts.label, acts.account_id, acts.post_id,
       acts.ts, n.gap_seconds
FROM nearest n JOIN acts ON acts.signal = n.signal AND acts.item = n.item AND acts.account_id = n.account_id
"""


def intra_cluster_pairs_sql() -> str:
    """Every co-acting pair inside a cluster, candidates or not: a cluster's totals count them all."""
    return pair_signal_sql(
        "JOIN cm a ON a.account_id = p.src JOIN cm b ON b.account_id = p.dst AND a.cluster_id = b.cluster_id"
    )


def evidence_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Items that two or more accounts of one cluster co-acted on, with who, which posts, when, and each
    action's gap to its nearest partner in the cluster (at most the signal's window).

    Reads `evidence_acts` (EVIDENCE_ACTS_SQL's rows, from either engine).
    """
    return con.sql(
        f"""
        WITH rows AS (
          SELECT cluster_id, signal, item, arg_min(label, ts) AS label,
                 count(*) AS n_accounts, to_timestamp(min(ts)) AS first_seen, to_timestamp(max(ts)) AS last_seen,
                 list(account_id ORDER BY ts, account_id) AS accounts,
                 list(post_id ORDER BY ts, account_id) AS post_ids,
                 list(to_timestamp(ts) ORDER BY ts, account_id) AS times,
                 list(round(gap_seconds, 3) ORDER BY ts, account_id) AS gaps_seconds,
                 round(max(gap_seconds), 3) AS max_gap_seconds
          FROM evidence_acts GROUP BY cluster_id, signal, item
        )
        SELECT * EXCLUDE (rank) FROM (
          SELECT *, row_number() OVER (PARTITION BY cluster_id ORDER BY n_accounts DESC, first_seen, item) AS rank
          FROM rows) WHERE rank <= {EVIDENCE_PER_CLUSTER} AND n_accounts >= 2
        ORDER BY cluster_id, first_seen, signal, item
        """
    ).to_arrow_table()


def cluster_summaries(con: duckdb.DuckDBPyConnection, settings: DetectSettings) -> pa.Table:
    """One row per cluster: accounts, first/last seen, signals on its edges, score and explanation.

    Reads `cm`, `intra_pairs`, `evidence` and `cluster_edges` (the significant edges, by account name).
    """
    per_stratum = con.sql(
        """
        SELECT a.cluster_id, ps.signal, ps.stratum, sum(ps.k)::BIGINT AS k, sum(ps.expected)::DOUBLE AS expected
        FROM intra_pairs ps JOIN cm a ON a.account_id = ps.src JOIN cm b ON b.account_id = ps.dst
        WHERE a.cluster_id = b.cluster_id GROUP BY ALL ORDER BY a.cluster_id, ps.signal, ps.stratum
        """
    ).to_arrow_table()
    members = con.sql(
        "SELECT cluster_id, list(account_id ORDER BY account_id) AS accounts, count(*) AS n_accounts "
        "FROM cm GROUP BY cluster_id"
    ).to_arrow_table()
    item_counts = con.sql(
        "SELECT cluster_id, signal, count(*) AS items, arg_max(label, n_accounts) AS example, "
        "min(first_seen) AS first_seen, max(last_seen) AS last_seen FROM evidence GROUP BY ALL"
    ).to_arrow_table()
    k = per_stratum.column("k").to_numpy()
    expected = per_stratum.column("expected").to_numpy()
    log10_p = poisson.logsf(k - 1, np.maximum(expected, 1e-12)) / np.log(10)
    # Per cluster and signal: totals, and the best stratum's p corrected for the strata tried.
    merged: dict[tuple[str, str], SignalStat] = {}
    clusters_col = per_stratum.column("cluster_id").to_pylist()
    signals_col = per_stratum.column("signal").to_pylist()
    for index, (cluster_id, signal) in enumerate(zip(clusters_col, signals_col, strict=True)):
        stat = merged.setdefault((cluster_id, signal), SignalStat(signal))
        stat.k += int(k[index])
        stat.expected += float(expected[index])
        stat.strata += 1
        if k[index] >= 2:
            stat.log10_p = min(stat.log10_p, float(log10_p[index]))
    by_cluster: dict[str, list[SignalStat]] = {}
    for (cluster_id, _), stat in merged.items():
        stat.log10_p += float(np.log10(stat.strata))
        by_cluster.setdefault(cluster_id, []).append(stat)
    items = {(str(r["cluster_id"]), str(r["signal"])): r for r in item_counts.to_pylist()}
    # A cluster's signals are every signal on its own edges (both ends inside it), strong or not.
    on_edges: dict[str, set[str]] = {}
    for row in con.sql(
        "SELECT DISTINCT a.cluster_id, s.signal FROM (SELECT src, dst, unnest(signals) AS signal FROM cluster_edges) s "
        "JOIN cm a ON a.account_id = s.src JOIN cm b ON b.account_id = s.dst WHERE a.cluster_id = b.cluster_id"
    ).fetchall():
        on_edges.setdefault(str(row[0]), set()).add(str(row[1]))
    out: list[dict[str, Any]] = []
    for member in sorted(members.to_pylist(), key=lambda m: int(str(m["cluster_id"])[1:])):
        cluster_id = str(member["cluster_id"])
        stats = by_cluster.get(cluster_id, [])
        fired = [s for s in stats if s.signal in on_edges.get(cluster_id, set())]
        total_k = sum(s.k for s in stats)
        total_expected = sum(s.expected for s in stats)
        # Orders of magnitude above chance: 3.0 means a thousand times more co-action than expected.
        score = float(np.log10(max(total_k, 1) / max(total_expected, 1e-9)))
        seen = [items[(cluster_id, s.signal)] for s in stats if (cluster_id, s.signal) in items]
        n_accounts = int(member["n_accounts"])
        out.append(
            {
                "cluster_id": cluster_id,
                "n_accounts": n_accounts,
                "accounts": member["accounts"],
                "signals": [s.signal for s in fired],
                "score": round(score, 2),
                "co_actions": total_k,
                "expected_co_actions": round(total_expected, 4),
                "n_evidence_items": sum(int(f["items"]) for f in seen),
                "first_seen": min((f["first_seen"] for f in seen), default=None),
                "last_seen": max((f["last_seen"] for f in seen), default=None),
                "explanation": explain_cluster(n_accounts, fired or stats, items, cluster_id, settings),
            }
        )
    return pa.Table.from_pylist(out, schema=CLUSTER_SCHEMA)


@dataclass
class SignalStat:
    signal: str
    k: int = 0
    expected: float = 0.0
    log10_p: float = 0.0
    strata: int = 0


CLUSTER_SCHEMA = pa.schema(
    [
        ("cluster_id", pa.string()),
        ("n_accounts", pa.int64()),
        ("accounts", pa.list_(pa.string())),
        ("signals", pa.list_(pa.string())),
        ("score", pa.float64()),
        ("co_actions", pa.int64()),
        ("expected_co_actions", pa.float64()),
        ("n_evidence_items", pa.int64()),
        ("first_seen", pa.timestamp("us", tz="UTC")),
        ("last_seen", pa.timestamp("us", tz="UTC")),
        ("explanation", pa.string()),
    ]
)
