"""Co-action pairs and their significance against a popularity-aware null model, in DuckDB.

For each signal, two accounts co-act when they act on the same item within the signal's window (and,
on crowded items, are among each other's nearest `fan_out` actions in time: see pair_queries).
Under the null model every account keeps its activity (d = items it acted on) and every item its
popularity (n = accounts acting on it), but who acts on what is random; the expected number of
co-actions of accounts i and j is then

    E_ij = f * d_i * d_j * sum_x n_x (n_x - 1) / M^2        (M = sum of d)

where f is the share of same-item pairs that fall inside the window. A viral item shared by
hundreds of accounts in minutes makes n_x and f large, so one co-share is expected and tells
nothing; heavy posters have large d. A pair is kept only if its observed co-actions K are improbable:
K >= min_co_actions and P(K or more) small under a negative binomial of mean E and variance
E + dispersion * E^2. The extra variance is the null model's own uncertainty: it is estimated from the
data and misses common causes (two heavy accounts that join every viral burst also land in the same
seconds and hashtag episodes around it), so a 70% excess over an expectation of 800 is not evidence,
while 5 co-actions against 0.05 still is (for small E the distribution is Poisson's).

How small: a run tests every pair that co-acted, tens of millions at 1M posts, so a fixed per-pair
p of 1e-6 lets dozens of chance pairs through. The threshold is family-wise, min(max_p_value,
chance_pairs / co-actions formed): about `chance_pairs` chance edges per run whatever its size. The family
counts only pairs that co-acted, and among them a second coincidence of mean E has probability about E, not
E^2/2: so a test resting on two co-actions (min_co_actions 2, CooRTweet's) is taken given the first,
P(K >= 2) / P(K >= 1). Unconditionally, two accounts that met twice on rare items looked like p = 1e-7, and
every run of 100,000 organic shares flagged 2 to 20 ordinary accounts (tests/detect/test_chance_pairs.py).
From three co-actions on the tail is left unconditional: the quality grid at 1M posts (200,000 accounts)
admits no chance edge with it, and conditioning those tests too cost recall where a network is a large share
of the data (networks of 2,000 among 40,000 accounts: F1 0.97 -> 0.03).

One global E would let co-actions on rare items drown in the expectation set by popular ones, so
items are split into popularity strata (n in [2,4), [4,8), ... by powers of two, and crowd levels
within them, see pair_queries; E splits into a sum over strata with the same d and M and each
stratum's own sum of n(n-1) and f). Per signal, a pair is tested on the items up to each popularity:
its co-actions and expectation summed over the strata up to s, for each s it co-acted in; its p is
the smallest of these times the number of tests (Bonferroni within the pair). So co-actions on rare
items are not drowned by popular ones, and a pair whose co-actions fall in neighbouring strata (time
slots of 15 and of 20 posts) still adds them up. A test needs min_co_actions (3) co-actions: two
coincidences (a link and its website, say) are too easily had among millions of pairs.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pyarrow as pa
from scipy.stats import nbinom, poisson

from shieldwall.detect.settings import NO_NULL, DetectSettings


def tail_p(observed: np.ndarray, expected: np.ndarray, dispersion: float) -> np.ndarray:
    """P(K >= observed) for K of mean `expected` and variance expected + dispersion * expected^2
    (negative binomial; Poisson when dispersion is 0)."""
    mean = np.maximum(expected, 1e-12)
    if dispersion <= 0:
        return np.asarray(poisson.sf(observed - 1, mean))
    shape = 1.0 / dispersion
    return np.asarray(nbinom.sf(observed - 1, shape, shape / (shape + mean)))


def edge_threshold(settings: DetectSettings, formed: int) -> float:
    """The p a pair must reach in a run that formed `formed` in-window co-actions (family-wise, see above)."""
    return float(min(settings.max_p_value, settings.chance_pairs / max(formed, 1)))


def account_hash_sql(dialect: str) -> str:
    """(account_id, h1, h2): two independent 28-bit hashes of each account's name, the same in both engines.

    They split a crowded item's accounts into buckets (pair_queries); md5 of the name is the one hash
    DuckDB and Spark compute alike, so both engines form the same pairs.
    """
    if dialect == "duckdb":  # acts.account_id is the integer code of `accounts.name`
        return (
            "SELECT code AS account_id, CAST(('0x' || substr(md5(name), 1, 7)) AS BIGINT) AS h1, "
            "CAST(('0x' || substr(md5(name), 8, 7)) AS BIGINT) AS h2 FROM accounts"
        )
    return (
        "SELECT account_id, CAST(conv(substr(md5(account_id), 1, 7), 16, 10) AS BIGINT) AS h1, "
        "CAST(conv(substr(md5(account_id), 8, 7), 16, 10) AS BIGINT) AS h2 "
        "FROM (SELECT DISTINCT account_id FROM acts) a"
    )


def pair_queries(settings: DetectSettings, dialect: str = "duckdb") -> list[tuple[str, str]]:
    """(table, SELECT) steps from `acts` to `pair_signal`, in SQL DuckDB and Spark both run.

    Pairing: on each item, actions are numbered in time order and each pairs with the following ones
    within the signal's window (a RANGE frame finds the last in reach). An item's crowd is the most
    actions any one of them has in reach. Up to twice the signal's budget B (settings.fan_out_for) every
    in-window pair is formed. Beyond, the item is crowded: its accounts are split into 2^L buckets,
    L = ceil(log2(crowd / B)), by the low L bits of a hash of the account, and actions pair only within
    their bucket (in time order, within the window, at most 2B following). Two independent hashes give
    two such partitions, and a pair in one bucket of both is formed once. So no item is dropped for
    being popular and an action pairs with about 2B others at most, while the pairs formed are the same
    on every crowded item: two accounts that share a bucket meet on every item they share, and a network
    of thousands acting within seconds accumulates its members' co-actions item after item (neighbours
    drawn afresh on each item would meet once in a few items, too rarely to tell from chance). Buckets
    of level L nest in those of L - 1, and each member has about B bucket mates in each partition, so
    the two partitions tie a network's buckets into one connected whole.

    Whether a pair may be formed on a crowded item depends on the hash alone, never on activity: in the
    null model a pair in one bucket is any pair, and the share f of pairs formed is taken among the
    pairs that could be (all pairs times 1 - (1 - 2^-L)^2, the chance of sharing a bucket in either
    partition); crowd levels are strata of their own (`stratum` = 32 * popularity stratum + L).

    Ties in time (a burst of hundreds within a second) are ordered by a hash of the post, a different
    shuffle on every item: ordered by account, the same few accounts would come first in every burst.

    Activity d and the total M count every action, including items nobody else touched: each is a
    chance to coincide, and leaving them out would let a coordinated group's own items dominate the
    null model in small data.
    """
    spread = "unnest(generate_series" if dialect == "duckdb" else "explode(sequence"
    double = "" if dialect == "duckdb" else "D"

    def in_reach(source: str, partition: str, rn: str, extra: str = "") -> str:
        """Per signal: each action's last partner in reach (`reach`: within the window, in the partition)."""
        return " UNION ALL ".join(
            f"SELECT *, {settings.fan_out_for(signal)} AS budget{extra}, max({rn}) OVER (PARTITION BY {partition} "
            f"ORDER BY ts RANGE BETWEEN CURRENT ROW AND {float(settings.window(signal))}{double} FOLLOWING) AS reach "
            f"FROM {source} WHERE signal = '{signal}'"
            for signal in settings.signals
        )

    def pairs_from(source: str, key: str, rn: str, exclude: str = "") -> str:
        partners = (
            f"SELECT *, {spread}({rn} + 1, least(reach, {rn} + 2 * budget))) AS partner "
            f"FROM {source} WHERE reach > {rn}"
        )
        return (
            "SELECT a.signal, a.item, least(a.account_id, b.account_id) AS src, "
            "greatest(a.account_id, b.account_id) AS dst, "
            "CASE WHEN a.account_id < b.account_id THEN a.ts ELSE b.ts END AS ts_src, "
            "CASE WHEN a.account_id < b.account_id THEN b.ts ELSE a.ts END AS ts_dst, CAST(a.n AS INT) AS n, a.stratum "
            f"FROM ({partners}) a JOIN {source} b ON {key} AND b.{rn} = a.partner{exclude}"
        )

    # Crowded rows, once per partition, with the account's bucket in it (and its bucket in partition 1).
    bucket = "CAST(power(2, c.level) AS BIGINT)"
    split = " UNION ALL ".join(
        f"SELECT c.signal, c.item, c.account_id, c.ts, c.n, c.stratum, c.rn, {part} AS part, "
        f"h.h{part} % {bucket} AS bucket, h.h1 % {bucket} AS bucket1 "
        "FROM leveled c JOIN account_hash h ON h.account_id = c.account_id WHERE c.level > 0"
        for part in (1, 2)
    )
    return [
        ("item_sizes", "SELECT signal, item, count(*) AS n FROM acts GROUP BY signal, item"),
        (
            "ranked",
            "SELECT a.signal, a.item, a.account_id, a.ts, i.n, "
            "row_number() OVER (PARTITION BY a.signal, a.item ORDER BY a.ts, md5(a.post_id), a.account_id) AS rn "
            "FROM acts a JOIN item_sizes i ON a.signal = i.signal AND a.item = i.item WHERE i.n >= 2",
        ),
        ("reached", in_reach("ranked", "signal, item", "rn")),
        (
            "leveled",
            "SELECT signal, item, account_id, ts, n, rn, reach, budget, level, "
            "32 * CAST(floor(log2(n) - 1) AS INTEGER) + level AS stratum FROM ("
            "SELECT *, CASE WHEN crowd <= 2 * budget THEN 0 "
            "ELSE CAST(ceil(log2(crowd / budget)) AS INTEGER) END AS level "
            "FROM (SELECT *, max(reach - rn) OVER (PARTITION BY signal, item) AS crowd FROM reached) r) l",
        ),
        ("account_hash", account_hash_sql(dialect)),
        ("split", split),
        (
            "split_ranked",
            "SELECT *, row_number() OVER (PARTITION BY signal, item, part, bucket ORDER BY rn) AS brn FROM split",
        ),
        ("bucketed", in_reach("split_ranked", "signal, item, part, bucket", "brn")),
        (
            "pairs",
            pairs_from("(SELECT * FROM leveled WHERE level = 0)", "b.signal = a.signal AND b.item = a.item", "rn")
            + " UNION ALL "
            + pairs_from(
                "bucketed",
                "b.signal = a.signal AND b.item = a.item AND b.part = a.part AND b.bucket = a.bucket",
                "brn",
                # A pair in one bucket of both partitions is formed once, in partition 1.
                " WHERE a.part = 1 OR a.bucket1 <> b.bucket1",
            ),
        ),
        ("degree", "SELECT signal, account_id, count(*) AS d FROM acts GROUP BY signal, account_id"),
        (
            "signal_stats",
            """
         WITH items AS (SELECT signal, item, n, level, stratum FROM leveled WHERE rn = 1),
              e AS (SELECT signal, stratum, sum(n * (n - 1)) AS s2,
                           sum(n * (n - 1) / 2 * (2 * power(2, -level) - power(4, -level))) AS eligible_pairs
                    FROM items GROUP BY signal, stratum),
              total AS (SELECT signal, sum(n) AS m FROM item_sizes GROUP BY signal),
              active AS (SELECT signal, count(DISTINCT account_id) AS accounts FROM acts GROUP BY signal),
              in_window AS (SELECT signal, stratum, count(*) AS in_window FROM pairs GROUP BY signal, stratum)
         SELECT *, sum(in_window / all_pairs * s2 / (m * m)) OVER (PARTITION BY signal ORDER BY stratum) AS upto
         FROM (SELECT e.signal, e.stratum, CAST(total.m AS DOUBLE) AS m, CAST(e.s2 AS DOUBLE) AS s2,
                CAST(e.eligible_pairs AS DOUBLE) AS all_pairs, CAST(coalesce(w.in_window, 0) AS DOUBLE) AS in_window,
                CAST(active.accounts AS DOUBLE) AS accounts
         FROM e JOIN total ON total.signal = e.signal JOIN active ON active.signal = e.signal
         LEFT JOIN in_window w ON w.signal = e.signal AND w.stratum = e.stratum) x""",
        ),
        # Only pairs with enough co-actions can pass the test: the per-signal statistics (three joins
        # per row) are computed for them alone, a few percent of all pairs.
        (
            "candidates",
            f"SELECT src, dst FROM pairs GROUP BY src, dst HAVING count(*) >= {int(settings.min_co_actions)}",
        ),
        ("pair_signal", pair_signal_sql("JOIN candidates c ON c.src = p.src AND c.dst = p.dst")),
    ]


def pair_signal_sql(restrict: str) -> str:
    """Per pair, signal and stratum: co-actions k, their surprise and expectation, first and last time.

    `restrict` is a join clause on `pairs p` choosing which pairs (a constant of ours, never user input).
    surprise = ln(accounts / item popularity), an IDF, weighs the edges. Two posts co-act once per
    signal however many of their tags, links or objects agree (a post pair with both #breaking and #news
    is one coincidence, not two): each pair of post times counts once, in the stratum of its rarest item.
    `expected` is the stratum's own expectation, `expected_upto` the sum over every stratum up to this one
    (those the pair never co-acted in included), which the test compares with k summed up to here.
    """
    return f"""
         WITH post_pairs AS (
           SELECT p.signal, p.src, p.dst, p.ts_src, p.ts_dst, min(p.stratum) AS stratum, min(p.n) AS n
           FROM pairs p {restrict} GROUP BY p.signal, p.src, p.dst, p.ts_src, p.ts_dst)
         SELECT CAST(q.signal AS STRING) AS signal, q.stratum, q.src, q.dst, count(*) AS k,
                sum(ln(s.accounts / q.n)) AS surprise,
                max(s.in_window / s.all_pairs * di.d * dj.d * s.s2 / (s.m * s.m)) AS expected,
                max(s.upto * di.d * dj.d) AS expected_upto,
                min(least(q.ts_src, q.ts_dst)) AS first_ts, max(greatest(q.ts_src, q.ts_dst)) AS last_ts
         FROM post_pairs q JOIN signal_stats s ON s.signal = q.signal AND s.stratum = q.stratum
         JOIN degree di ON di.signal = q.signal AND di.account_id = q.src
         JOIN degree dj ON dj.signal = q.signal AND dj.account_id = q.dst
         GROUP BY q.signal, q.stratum, q.src, q.dst"""


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
    steps = pair_queries(settings)
    # Each intermediate goes as soon as the last step reading it is done: at 10M posts they hold
    # gigabytes, and whatever is still held when `pairs` is built makes DuckDB spill it to disk.
    last_use = {
        name: max(i for i, (_, query) in enumerate(steps) if re.search(rf"\b{name}\b", query)) for name in INTERMEDIATE
    }
    for index, (name, query) in enumerate(steps):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query}")
        for done in [n for n, last in last_use.items() if last == index]:
            con.execute(f"DROP TABLE {done}")


INTERMEDIATE = ("ranked", "reached", "leveled", "split", "split_ranked", "bucketed")


# What CooRTweet's fixed rule (null_model "none") would link on the same pairs: a pair with at least
# $min co-actions in one signal (each pair of post times once, as pair_signal_sql counts them).
FIXED_RULE_SQL = """
WITH post_pairs AS (SELECT DISTINCT signal, src, dst, ts_src, ts_dst FROM pairs),
     linked AS (SELECT DISTINCT src, dst FROM post_pairs GROUP BY signal, src, dst HAVING count(*) >= $min)
SELECT (SELECT count(*) FROM linked) AS pairs,
       (SELECT count(*) FROM (SELECT src FROM linked UNION SELECT dst FROM linked)) AS accounts
"""

STRATA_SQL = "SELECT src, dst, signal, k, expected_upto FROM pair_signal ORDER BY src, dst, signal, stratum"
CANDIDATES_SQL = """
SELECT src, dst, CAST(sum(k) AS BIGINT) AS k, CAST(sum(expected) AS DOUBLE) AS expected,
       CAST(sum(surprise) AS DOUBLE) AS weight, min(first_ts) AS first_ts, max(last_ts) AS last_ts,
       list(DISTINCT signal ORDER BY signal) AS signals
FROM pair_signal GROUP BY src, dst ORDER BY src, dst
"""


def significant_edges(con: duckdb.DuckDBPyConnection, settings: DetectSettings, threshold: float) -> pa.Table:
    """Edges (src, dst, k, expected, weight, first_ts, last_ts, signals, p_value) with p <= threshold.

    `pair_signal` holds only candidate pairs (at least min_co_actions co-actions over all signals).
    """
    strata = con.sql(STRATA_SQL).to_arrow_table()
    candidates = con.sql(CANDIDATES_SQL).to_arrow_table()
    return test_candidates(strata, candidates, settings, threshold)


def test_candidates(strata: pa.Table, candidates: pa.Table, settings: DetectSettings, threshold: float) -> pa.Table:
    """Keep the candidate pairs whose best p-value (times the tests tried) is at most `threshold`.

    Each test is one signal's co-actions on items up to one popularity stratum (see the module notes).
    Strata must be sorted by (src, dst, signal, stratum), candidates by (src, dst); shared by both engines.
    """
    if candidates.num_rows == 0:
        return candidates.append_column("p_value", pa.array([], pa.float64()))
    src = strata.column("src").to_numpy(zero_copy_only=False)
    dst = strata.column("dst").to_numpy(zero_copy_only=False)
    p_values = best_p(strata, np.r_[True, (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])], settings, given_one=True)
    candidates = candidates.append_column("p_value", pa.array(p_values))
    # Rounded so that engines summing in a different order hand Leiden identical weights.
    weight_index = candidates.schema.get_field_index("weight")
    candidates = candidates.set_column(
        weight_index, "weight", pa.array(np.round(candidates.column("weight").to_numpy(), 6))
    )
    keep = np.flatnonzero(p_values <= threshold)
    return candidates.take(pa.array(keep))


def best_p(rows: pa.Table, unit_change: np.ndarray, settings: DetectSettings, given_one: bool) -> np.ndarray:
    """Per unit (a pair, or an account and a community), its best test's p times the tests tried.

    `rows` (signal, k, expected_upto, ...) are sorted by unit, signal, stratum; `unit_change` marks where a
    unit starts. A test is one signal's co-actions summed over the strata up to a row's (k running over the
    unit's rows of that signal) against `expected_upto`, the expectation over all strata up to there.
    given_one: the units were chosen because they co-acted (pairs), so a test on two co-actions has p
    P(K >= 2 | K >= 1); a family that counts every unit whether it co-acted or not (an account and a
    community) takes P(K >= k) as it is.
    """
    signal = rows.column("signal").to_numpy(zero_copy_only=False)
    k = rows.column("k").to_numpy()
    expected_upto = rows.column("expected_upto").to_numpy()
    run_starts = np.flatnonzero(unit_change | np.r_[True, signal[1:] != signal[:-1]])
    k_upto = _running(k.astype(np.int64), run_starts, np.diff(np.r_[run_starts, len(k)]))
    enough = k_upto >= settings.min_co_actions
    if settings.null_model == NO_NULL:  # the fixed rule: enough co-actions is the whole test
        test_p = np.where(enough, 0.0, 1.0)
    else:
        test_p = np.where(enough, tail_p(k_upto, expected_upto, settings.dispersion), 1.0)
        two = np.flatnonzero(enough & (k_upto == 2)) if given_one else np.zeros(0, np.int64)
        if len(two):  # a test on two co-actions is taken given the first (see the module notes)
            seen = tail_p(np.ones(len(two), np.int64), expected_upto[two], settings.dispersion)
            test_p[two] = test_p[two] / np.maximum(seen, 1e-300)
    starts = np.flatnonzero(unit_change)
    tests = np.diff(np.r_[starts, len(k)])
    return np.asarray(np.minimum(np.minimum.reduceat(test_p, starts) * tests, 1.0))


def _running(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each run start."""
    total = np.cumsum(values)
    before = np.r_[np.zeros(1, total.dtype), total[:-1]][starts]
    return total - np.repeat(before, lengths)
