"""Co-action pairs and their significance against a popularity-aware null model, in DuckDB.

For each signal, two accounts co-act when they act on the same item within the signal's window.
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
tested in (Bonferroni within the pair). A stratum needs at least two co-actions to count.
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


def build_pairs(con: duckdb.DuckDBPyConnection, settings: DetectSettings) -> None:
    """Create `pairs` (every in-window co-action on an eligible item) and `pair_signal` (per pair and signal)."""
    windows = pa.table({"signal": list(settings.signals), "w": [float(settings.window(s)) for s in settings.signals]})
    con.register("windows_t", windows)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE items AS SELECT signal, item, count(*) AS n FROM acts GROUP BY signal, item"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE eligible AS SELECT a.signal, a.item, a.account_id, a.ts, i.n, "
        "CAST(floor(log2(i.n) - 1) AS INTEGER) AS stratum "
        "FROM acts a JOIN items i USING (signal, item) WHERE i.n >= 2 AND i.n <= ?",
        [settings.max_item_accounts],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE pairs AS "
        "SELECT a.signal, a.item, a.account_id AS src, b.account_id AS dst, a.ts AS ts_src, b.ts AS ts_dst, a.n, "
        "CAST(floor(log2(a.n) - 1) AS INTEGER) AS stratum "
        "FROM eligible a JOIN eligible b ON a.signal = b.signal AND a.item = b.item AND a.account_id < b.account_id "
        "JOIN windows_t w ON w.signal = a.signal WHERE abs(a.ts - b.ts) <= w.w"
    )
    # Per-signal null-model constants and per-account activity. Activity d and the total M count every
    # action, including items nobody else touched: each is a chance to coincide, and leaving them out
    # would let a coordinated group's own items dominate the null model in small data.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE degree AS SELECT signal, account_id, count(*) AS d FROM acts GROUP BY ALL"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE signal_stats AS "
        "SELECT e.signal, e.stratum, (SELECT sum(n) FROM items i WHERE i.signal = e.signal)::DOUBLE AS m, "
        "e.s2, e.all_pairs, "
        "coalesce(pc.in_window, 0)::DOUBLE AS in_window, "
        "(SELECT count(DISTINCT account_id) FROM acts a WHERE a.signal = e.signal)::DOUBLE AS accounts "
        "FROM (SELECT signal, CAST(floor(log2(n) - 1) AS INTEGER) AS stratum, sum(n)::DOUBLE AS m, "
        "      sum(n * (n - 1))::DOUBLE AS s2, sum(n * (n - 1) / 2)::DOUBLE AS all_pairs "
        "      FROM items WHERE n >= 2 AND n <= ? GROUP BY ALL) e "
        "LEFT JOIN (SELECT signal, stratum, count(*) AS in_window FROM pairs GROUP BY ALL) pc "
        "USING (signal, stratum)",
        [settings.max_item_accounts],
    )
    # surprise: information content of each co-action, ln(accounts / item popularity) (an IDF).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE pair_signal AS "
        "SELECT p.signal, p.stratum, p.src, p.dst, count(*) AS k, sum(ln(s.accounts / p.n)) AS surprise, "
        "any_value(s.in_window / s.all_pairs * di.d * dj.d * s.s2 / (s.m * s.m)) AS expected, "
        "min(least(p.ts_src, p.ts_dst)) AS first_ts, max(greatest(p.ts_src, p.ts_dst)) AS last_ts "
        "FROM pairs p JOIN signal_stats s USING (signal, stratum) "
        "JOIN degree di ON di.signal = p.signal AND di.account_id = p.src "
        "JOIN degree dj ON dj.signal = p.signal AND dj.account_id = p.dst "
        "GROUP BY p.signal, p.stratum, p.src, p.dst"
    )


def significant_edges(con: duckdb.DuckDBPyConnection, settings: DetectSettings) -> pa.Table:
    """Edges (src, dst, weight, k, expected, p_value, signals, first_ts, last_ts) that pass the test."""
    strata = con.sql(
        "SELECT src, dst, k, expected FROM pair_signal WHERE (src, dst) IN "
        f"(SELECT (src, dst) FROM pair_signal GROUP BY src, dst HAVING sum(k) >= {int(settings.min_co_actions)}) "
        "ORDER BY src, dst"
    ).to_arrow_table()
    candidates = con.sql(
        "SELECT src, dst, sum(k)::BIGINT AS k, sum(expected)::DOUBLE AS expected, sum(surprise)::DOUBLE AS weight, "
        "list(DISTINCT signal ORDER BY signal) AS signals, "
        "min(first_ts) AS first_ts, max(last_ts) AS last_ts "
        f"FROM pair_signal GROUP BY src, dst HAVING sum(k) >= {int(settings.min_co_actions)} ORDER BY src, dst"
    ).to_arrow_table()
    if candidates.num_rows == 0:
        return candidates.append_column("p_value", pa.array([], pa.float64()))
    k = strata.column("k").to_numpy()
    stratum_p = np.where(k >= 2, poisson_p(k, strata.column("expected").to_numpy()), 1.0)
    # Both tables are sorted by (src, dst): the strata of candidate i are one contiguous run.
    src = strata.column("src").to_numpy(zero_copy_only=False)
    dst = strata.column("dst").to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.r_[True, (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])])
    tests = np.diff(np.r_[starts, len(k)])
    p_values = np.minimum(np.minimum.reduceat(stratum_p, starts) * tests, 1.0)
    candidates = candidates.append_column("p_value", pa.array(p_values))
    keep = np.flatnonzero(p_values <= settings.max_p_value)
    return candidates.take(pa.array(keep))
