"""Co-action pairs and their significance against a popularity-aware null model, in DuckDB.

For each signal, two accounts co-act when they act on the same item within the signal's window (and,
on crowded items, are among each other's nearest `fan_out` actions in time: see pair_queries).
Under the null model every account keeps its activity (d = items it acted on) and every item its
popularity (n = accounts acting on it), but who acts on what is random; the expected number of
co-actions of accounts i and j is then

    E_ij = f * d_i * d_j * sum_x n_x (n_x - 1) / M^2        (M = sum of d)

where f is the share of same-item pairs that fall inside the window. A viral item shared by
hundreds of accounts in minutes makes n_x and f large, so one co-share is expected and tells
nothing; heavy posters have large d. A pair is kept only if its observed co-actions K (over all
signals) are improbable under Poisson(E): p <= max_p_value, with K >= min_co_actions.

One global E would let co-actions on rare items drown in the expectation set by popular ones, so
items are split into popularity strata (n in [2,4), [4,8), ... by powers of two; E splits into a
sum over strata with the same d and M and each stratum's own sum of n(n-1) and f) and the test runs
per signal and stratum; a pair's p is its smallest stratum p times the number of strata it was
tested in (Bonferroni within the pair). A stratum needs min_co_actions (3) co-actions to count: two
coincidences in one stratum (a link and its website, say) are too easily had among millions of pairs.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from scipy.stats import poisson

from shieldwall.detect.settings import DetectSettings


def poisson_p(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """P(K >= observed) for K ~ Poisson(expected)."""
    return poisson.sf(observed - 1, np.maximum(expected, 1e-12))


def pair_queries(settings: DetectSettings, dialect: str = "duckdb") -> list[tuple[str, str]]:
    """(table, SELECT) steps from `acts` to `pair_signal`, in SQL DuckDB and Spark both run.

    Pairing: on each item, actions are numbered in time order; an action pairs with
    the following ones up to the last within the window (a RANGE frame finds it) and at most
    `fan_out` of them (fan_out_crowded for time bins and single hashtags). No item is
    dropped for being popular and no item costs more than n * fan_out
    pairs to enumerate.

    The bound only bites on crowded items (more than fan_out actions within one window): a viral
    link at its peak, a network of thousands acting within seconds. There two accounts are paired
    when they are close in time (within fan_out actions of each other), and a network's members,
    acting together item after item, still meet often enough to tie up (fan_out is large enough for
    that: 2,000 accounts in minutes pair each member with 2 * fan_out of the others on every item).
    The null model's share f counts the pairs formed (so thinning lowers observed and expected alike).

    Ties in time (a burst of hundreds within a second) are ordered by a hash of the post, a different
    shuffle on every item: ordered by account, the same few accounts would be neighbours in every burst
    they share and meet far more often than the null model expects.

    Activity d and the total M count every action, including items nobody else touched: each is a
    chance to coincide, and leaving them out would let a coordinated group's own items dominate the
    null model in small data.
    """
    spread = "unnest(generate_series" if dialect == "duckdb" else "explode(sequence"
    double = "" if dialect == "duckdb" else "D"
    # last_rn: the last action in reach, within the window and the signal's fan-out.
    reach = " UNION ALL ".join(
        "SELECT signal, item, account_id, ts, n, stratum, rn, least(rn + "
        f"{settings.fan_out_for(signal)}, max(rn) OVER (PARTITION BY signal, item ORDER BY ts "
        f"RANGE BETWEEN CURRENT ROW AND {float(settings.window(signal))}{double} FOLLOWING)) AS last_rn "
        f"FROM ranked WHERE signal = '{signal}'"
        for signal in settings.signals
    )
    partners = (
        f"SELECT signal, item, account_id, ts, n, stratum, {spread}(rn + 1, last_rn)) AS partner "
        "FROM eligible WHERE last_rn > rn"
    )
    pairs = (
        "SELECT a.signal, a.item, least(a.account_id, b.account_id) AS src, "
        "greatest(a.account_id, b.account_id) AS dst, "
        "CASE WHEN a.account_id < b.account_id THEN a.ts ELSE b.ts END AS ts_src, "
        "CASE WHEN a.account_id < b.account_id THEN b.ts ELSE a.ts END AS ts_dst, a.n, a.stratum "
        f"FROM ({partners}) a JOIN eligible b ON b.signal = a.signal AND b.item = a.item AND b.rn = a.partner"
    )
    return [
        (
            "items",
            "SELECT signal, item, count(*) AS n, CAST(floor(log2(count(*)) - 1) AS INTEGER) AS stratum "
            "FROM acts GROUP BY signal, item",
        ),
        (
            "ranked",
            "SELECT a.signal, a.item, a.account_id, a.ts, i.n, i.stratum, "
            "row_number() OVER (PARTITION BY a.signal, a.item ORDER BY a.ts, md5(a.post_id), a.account_id) AS rn "
            "FROM acts a JOIN items i ON a.signal = i.signal AND a.item = i.item WHERE i.n >= 2",
        ),
        ("eligible", reach),
        ("pairs", pairs),
        ("degree", "SELECT signal, account_id, count(*) AS d FROM acts GROUP BY signal, account_id"),
        (
            "signal_stats",
            """
         WITH e AS (SELECT signal, stratum, sum(n * (n - 1)) AS s2, sum(n * (n - 1) / 2) AS all_pairs
                    FROM items WHERE n >= 2 GROUP BY signal, stratum),
              total AS (SELECT signal, sum(n) AS m FROM items GROUP BY signal),
              active AS (SELECT signal, count(DISTINCT account_id) AS accounts FROM acts GROUP BY signal),
              in_window AS (SELECT signal, stratum, count(*) AS in_window FROM pairs GROUP BY signal, stratum)
         SELECT e.signal, e.stratum, CAST(total.m AS DOUBLE) AS m, CAST(e.s2 AS DOUBLE) AS s2,
                CAST(e.all_pairs AS DOUBLE) AS all_pairs, CAST(coalesce(w.in_window, 0) AS DOUBLE) AS in_window,
                CAST(active.accounts AS DOUBLE) AS accounts
         FROM e JOIN total ON total.signal = e.signal JOIN active ON active.signal = e.signal
         LEFT JOIN in_window w ON w.signal = e.signal AND w.stratum = e.stratum""",
        ),
        # Only pairs with enough co-actions can pass the test: the per-signal statistics (three joins
        # per row) are computed for them alone, a few percent of all pairs.
        (
            "candidates",
            f"SELECT src, dst FROM pairs GROUP BY src, dst HAVING count(*) >= {int(settings.min_co_actions)}",
        ),
        ("pair_signal", pair_signal_sql("JOIN candidates c ON c.src = p.src AND c.dst = p.dst", dialect)),
    ]


def pair_signal_sql(restrict: str, dialect: str = "duckdb") -> str:
    """Per pair, signal and stratum: co-actions k, their surprise and expectation, first and last time.

    `restrict` is a join clause on `pairs p` choosing which pairs (a constant of ours, never user input).
    surprise = ln(accounts / item popularity), an IDF, weighs the edges. Two posts co-act once per
    signal however many of their tags, links or objects agree (a post pair with both #breaking and #news
    is one coincidence, not two): k counts distinct pairs of post times.
    """
    post_pair = "hash(p.ts_src, p.ts_dst)" if dialect == "duckdb" else "xxhash64(p.ts_src, p.ts_dst)"
    return f"""
         SELECT p.signal, p.stratum, p.src, p.dst, count(DISTINCT {post_pair}) AS k,
                sum(ln(s.accounts / p.n)) AS surprise,
                max(s.in_window / s.all_pairs * di.d * dj.d * s.s2 / (s.m * s.m)) AS expected,
                min(least(p.ts_src, p.ts_dst)) AS first_ts, max(greatest(p.ts_src, p.ts_dst)) AS last_ts
         FROM pairs p {restrict} JOIN signal_stats s ON s.signal = p.signal AND s.stratum = p.stratum
         JOIN degree di ON di.signal = p.signal AND di.account_id = p.src
         JOIN degree dj ON dj.signal = p.signal AND dj.account_id = p.dst
         GROUP BY p.signal, p.stratum, p.src, p.dst"""


def windows_table(settings: DetectSettings) -> pa.Table:
    return pa.table(
        {
            "signal": list(settings.signals),
            "w": [float(settings.window(s)) for s in settings.signals],
            "span": [float(settings.episode_span(s)) for s in settings.signals],
        }
    )


def build_pairs(con: duckdb.DuckDBPyConnection, settings: DetectSettings) -> None:
    """Create `pairs` (the in-window co-actions, see pair_queries) and `pair_signal` (per pair and signal)."""
    for name, query in pair_queries(settings):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query}")
    for name in ("ranked", "eligible"):
        con.execute(f"DROP TABLE {name}")


STRATA_SQL = "SELECT src, dst, k, expected FROM pair_signal ORDER BY src, dst"
CANDIDATES_SQL = """
SELECT src, dst, CAST(sum(k) AS BIGINT) AS k, CAST(sum(expected) AS DOUBLE) AS expected,
       CAST(sum(surprise) AS DOUBLE) AS weight, min(first_ts) AS first_ts, max(last_ts) AS last_ts,
       list(DISTINCT signal ORDER BY signal) AS signals
FROM pair_signal GROUP BY src, dst ORDER BY src, dst
"""


def significant_edges(con: duckdb.DuckDBPyConnection, settings: DetectSettings) -> pa.Table:
    """Edges (src, dst, k, expected, weight, first_ts, last_ts, signals, p_value) that pass the test.

    `pair_signal` holds only candidate pairs (at least min_co_actions co-actions over all signals).
    """
    strata = con.sql(STRATA_SQL).to_arrow_table()
    candidates = con.sql(CANDIDATES_SQL).to_arrow_table()
    return test_candidates(strata, candidates, settings)


def test_candidates(strata: pa.Table, candidates: pa.Table, settings: DetectSettings) -> pa.Table:
    """Keep the candidate pairs whose best stratum p-value (times the strata tried) is small enough.

    Both tables must be sorted by (src, dst); shared by the DuckDB and Spark engines.
    """
    if candidates.num_rows == 0:
        return candidates.append_column("p_value", pa.array([], pa.float64()))
    k = strata.column("k").to_numpy()
    stratum_p = np.where(k >= settings.min_co_actions, poisson_p(k, strata.column("expected").to_numpy()), 1.0)
    # The strata of candidate i are one contiguous run of the sorted strata table.
    src = strata.column("src").to_numpy(zero_copy_only=False)
    dst = strata.column("dst").to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.r_[True, (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])])
    tests = np.diff(np.r_[starts, len(k)])
    p_values = np.minimum(np.minimum.reduceat(stratum_p, starts) * tests, 1.0)
    candidates = candidates.append_column("p_value", pa.array(p_values))
    # Rounded so that engines summing in a different order hand Leiden identical weights.
    weight_index = candidates.schema.get_field_index("weight")
    candidates = candidates.set_column(
        weight_index, "weight", pa.array(np.round(candidates.column("weight").to_numpy(), 6))
    )
    keep = np.flatnonzero(p_values <= settings.max_p_value)
    return candidates.take(pa.array(keep))
