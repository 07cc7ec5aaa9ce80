"""Clusters from the tested pairs: Leiden communities on the strong edges, then accounts that join them.

A pair is strong when its p reaches the run's family-wise threshold (coaction.edge_threshold); Leiden
finds communities on the strong edges alone. Two kinds of evidence too weak for one pair are strong
for an account and a community together, and an account outside every community of min_cluster_size
joins one on either:

- its pairs: with the p-values of its pairs with the community's members sorted, p_(1) <= p_(2) <= ...,
  chance gives j of its |C| pairs p_(j) or less with probability at most P(Binomial(|C|, p_(j)) >= j).
  A member of a 2,000-account network that co-acted three to five times with each of dozens of bucket
  mates (coaction.pair_queries), each pair short of the family-wise bar, joins on all of them; an
  organic account with one or two lucky pairs into a cluster does not. Joining repeats in rounds, so
  members whose pairs lead to members who joined before them follow.
- its co-actions: its posts that co-acted (within the window) with any member, K, against E = the sum
  over members of the pair expectation, per signal and up to each stratum as in the pair test (each of
  its posts counts once however many members it met, so a crowded item is one event; and every member
  counts as if it shared the account's bucket on crowded items, so E errs high). The third member of
  a group of three, who met each of the other two twice, joins the pair they form.

Both tests are corrected for every (account, community) combination there is, the run's accounts
times its communities, and the rounds, against chance_pairs: not just those that had evidence to test
(any account could have), or an account with one chance pair into a trio would pass among few candidates.
"""

from __future__ import annotations

from collections.abc import Callable

import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.stats import binom

from shieldwall.detect.coaction import best_p
from shieldwall.detect.settings import DetectSettings

# Rounds of joining on pairs; each round's tests share chance_pairs / JOIN_ROUNDS.
JOIN_ROUNDS = 8
# Pairs up to this p are handed to the joins (the order-statistics test weighs them; most never count).
JOIN_P_CAP = 0.01

# Runs SQL in the engine with these tables (keyed by account name) registered; returns the result.
Query = Callable[[str, dict[str, pa.Table]], pa.Table]

# In each engine `account_keys(key, name)` maps the key its pair tables use (DuckDB: an integer code;
# Spark: the name itself) to the account name. Reads `pairs`, `degree`, `signal_stats` and `comm`.
EVENTS_SQL = """
WITH ck AS (SELECT k.key, c.community FROM comm c JOIN account_keys k ON k.name = c.name),
settled AS (SELECT ck.key FROM ck JOIN (SELECT community FROM ck GROUP BY community HAVING count(*) >= {min_size}) b
            ON b.community = ck.community),
touch AS (
  SELECT p.signal, p.stratum, p.src AS c, p.ts_src AS ts_c, m.community FROM pairs p JOIN ck m ON m.key = p.dst
  UNION ALL
  SELECT p.signal, p.stratum, p.dst AS c, p.ts_dst AS ts_c, m.community FROM pairs p JOIN ck m ON m.key = p.src),
events AS (
  SELECT t.signal, t.c, t.community, t.ts_c, min(t.stratum) AS stratum FROM touch t
  LEFT JOIN ck own ON own.key = t.c AND own.community = t.community
  WHERE own.key IS NULL AND t.c NOT IN (SELECT key FROM settled)
  GROUP BY t.signal, t.c, t.community, t.ts_c),
dsum AS (SELECT m.community, d.signal, sum(d.d) AS d_sum FROM ck m JOIN degree d ON d.account_id = m.key
         GROUP BY m.community, d.signal)
SELECT k.name AS account_id, ev.community, CAST(ev.signal AS STRING) AS signal, ev.stratum, count(*) AS k,
       max(dc.d * ds.d_sum * s.upto) AS expected_upto
FROM events ev JOIN signal_stats s ON s.signal = ev.signal AND s.stratum = ev.stratum
JOIN degree dc ON dc.signal = ev.signal AND dc.account_id = ev.c
JOIN dsum ds ON ds.community = ev.community AND ds.signal = ev.signal
JOIN account_keys k ON k.key = ev.c
GROUP BY k.name, ev.community, ev.signal, ev.stratum
"""

# The pairs through which accounts joined on co-actions: per pair and signal, distinct post pairs.
# Reads `joined(name, community)` and `comm` besides the pair tables.
JOINED_PAIRS_SQL = """
WITH jk AS (SELECT k.key, j.community FROM joined j JOIN account_keys k ON k.name = j.name),
ck AS (SELECT k.key, c.community FROM comm c JOIN account_keys k ON k.name = c.name),
hit AS (
  SELECT DISTINCT p.signal, p.src, p.dst, p.ts_src, p.ts_dst, p.n FROM pairs p
  JOIN jk ON jk.key = p.src JOIN ck ON ck.key = p.dst AND ck.community = jk.community
  UNION
  SELECT DISTINCT p.signal, p.src, p.dst, p.ts_src, p.ts_dst, p.n FROM pairs p
  JOIN jk ON jk.key = p.dst JOIN ck ON ck.key = p.src AND ck.community = jk.community)
SELECT a.name AS src, b.name AS dst, CAST(h.signal AS STRING) AS signal, count(*) AS k,
       sum(ln(s.accounts / h.n)) AS weight,
       max(da.d * db.d * s.upto) AS expected,
       min(least(h.ts_src, h.ts_dst)) AS first_ts, max(greatest(h.ts_src, h.ts_dst)) AS last_ts
FROM hit h JOIN account_keys a ON a.key = h.src JOIN account_keys b ON b.key = h.dst
JOIN (SELECT signal, max(upto) AS upto, max(accounts) AS accounts FROM signal_stats GROUP BY signal) s
  ON s.signal = h.signal
JOIN degree da ON da.signal = h.signal AND da.account_id = h.src
JOIN degree db ON db.signal = h.signal AND db.account_id = h.dst
GROUP BY a.name, b.name, h.signal
"""


def cluster_accounts(
    edges: pa.Table,
    settings: DetectSettings,
    strong_p: float,
    query: Query,
    pair_edges: Callable[[pa.Table], pa.Table],
    accounts: int,
) -> tuple[pa.Table, pa.Table]:
    """(membership, edges kept): (account_id, cluster_id) for accounts in clusters of min_cluster_size.

    `edges` are the tested pairs with p <= JOIN_P_CAP (names as src/dst), strong at p <= strong_p; edges
    kept are the strong ones and those through which an account joined a community. `pair_edges` turns
    JOINED_PAIRS_SQL rows (per pair and signal) into edge rows of the same schema. `accounts`: how many
    accounts the run has (the joins' multiple-testing family). Cluster ids are c1, c2... by decreasing
    size then smallest account id.
    """
    if edges.num_rows == 0:
        return _membership(pa.array([], pa.string()), np.zeros(0, np.int64), settings), edges
    names = pc.unique(pa.concat_arrays([edges.column("src").combine_chunks(), edges.column("dst").combine_chunks()]))
    names = names.take(pc.array_sort_indices(names))
    src = pc.index_in(edges.column("src"), value_set=names).to_numpy()
    dst = pc.index_in(edges.column("dst"), value_set=names).to_numpy()
    p_values = edges.column("p_value").to_numpy()
    strong = p_values <= strong_p
    labels = _leiden(len(names), src[strong], dst[strong], edges.column("weight").to_numpy()[strong], settings)
    kept = strong.copy()
    for _ in range(JOIN_ROUNDS):  # a network's members join in waves, each through those joined before
        joined_now = _join_on_edges(labels, src, dst, p_values, settings, accounts)
        if not joined_now.any():
            break
        kept |= joined_now
    names, labels, joined = _join_on_co_actions(names, labels, settings, query, accounts)
    kept_edges = edges.filter(pa.array(kept))
    if joined.num_rows:
        rows = query(
            JOINED_PAIRS_SQL, {"joined": joined.select(["name", "community"]), "comm": _communities(names, labels)}
        )
        extra = pair_edges(rows)
        if extra.num_rows:
            # An edge through which an account joined carries the p of its join.
            at_src = pc.index_in(extra.column("src"), value_set=joined.column("name").combine_chunks())
            at = pc.coalesce(at_src, pc.index_in(extra.column("dst"), value_set=joined.column("name").combine_chunks()))
            extra = extra.append_column("p_value", joined.column("p_value").combine_chunks().take(at))
            kept_edges = pa.concat_tables([kept_edges, extra.cast(kept_edges.schema)])
    return _membership(names, labels, settings), kept_edges


def _leiden(n: int, src: np.ndarray, dst: np.ndarray, weights: np.ndarray, settings: DetectSettings) -> np.ndarray:
    """Community per account index (-1: no strong edge)."""
    labels = np.full(n, -1, dtype=np.int64)
    if len(src) == 0:
        return labels
    ends = np.unique(np.r_[src, dst])
    local = np.searchsorted(ends, np.column_stack([src, dst]))
    partition = leidenalg.find_partition(
        ig.Graph(n=len(ends), edges=local.tolist(), directed=False),
        leidenalg.RBConfigurationVertexPartition,
        weights=weights.astype(float).tolist(),
        resolution_parameter=settings.leiden_resolution,
        seed=settings.seed,
        n_iterations=-1,
    )
    labels[ends] = np.asarray(partition.membership)
    return labels


def _unsettled(labels: np.ndarray, settings: DetectSettings) -> np.ndarray:
    sizes = _sizes(labels)
    return ~((labels >= 0) & (sizes[np.maximum(labels, 0)] >= settings.min_cluster_size))


def _sizes(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels[labels >= 0], minlength=max(int(labels.max(initial=-1)) + 1, 1))


def _join_on_edges(
    labels: np.ndarray, src: np.ndarray, dst: np.ndarray, p_edge: np.ndarray, settings: DetectSettings, accounts: int
) -> np.ndarray:
    """Order-statistics test on an account's pairs with a community (module notes); updates `labels` and
    returns the edges through which someone joined.

    With its pairs' p-values into community C sorted, p_(1) <= p_(2) <= ..., the chance that j or more of
    its |C| pairs reach p_(j) is at most P(Binomial(|C|, p_(j)) >= j); the account's statistic is the
    smallest over j, times the j tried. It is tested against each community, and against all communities
    of min_cluster_size together (Leiden may cut a network of thousands into several pieces and its
    pairs then spread over them), and joins the community holding most of the pairs that counted."""
    sizes = _sizes(labels)
    outside = _unsettled(labels, settings)
    account, member = np.r_[src, dst], np.r_[dst, src]
    edge_index = np.r_[np.arange(len(src)), np.arange(len(src))]
    p_all = np.r_[p_edge, p_edge]
    into = outside[account] & (labels[member] >= 0) & (labels[member] != labels[account])
    joined = np.zeros(len(src), dtype=bool)
    if not into.any():
        return joined
    account, community, edge_index, p_all = account[into], labels[member[into]], edge_index[into], p_all[into]
    n_communities = int((sizes > 0).sum())
    key = account.astype(np.int64) * (len(sizes) + 1) + community
    alone, alone_cut = _order_statistic(key, p_all, sizes[community])
    alone = alone * accounts * n_communities * JOIN_ROUNDS
    settled = sizes >= settings.min_cluster_size
    in_settled = settled[community]
    union_key = np.where(in_settled, account.astype(np.int64), -1 - np.arange(len(account)))
    together, together_cut = _order_statistic(union_key, p_all, np.full(len(p_all), sizes[settled].sum()))
    together = np.where(in_settled, together * accounts * JOIN_ROUNDS, np.inf)
    passes = np.minimum(alone, together) <= settings.chance_pairs
    cut = np.where(alone <= settings.chance_pairs, alone_cut, 0.0)
    cut = np.maximum(cut, np.where(together <= settings.chance_pairs, together_cut, 0.0))
    counted = passes & (p_all <= cut)
    if not counted.any():
        return joined
    # Each account joins the community holding most of its pairs that counted.
    combos, first, counts = np.unique(key[counted], return_index=True, return_counts=True)
    chosen = _best_per_account(account[counted][first], -counts.astype(float), np.ones(len(combos), dtype=bool))
    labels[account[counted][first][chosen]] = community[counted][first][chosen]
    joined[edge_index[counted & np.isin(key, combos[chosen])]] = True
    return joined


def _order_statistic(key: np.ndarray, p: np.ndarray, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, its group's (rows sharing `key`) min over j of P(Binomial(trials, p_(j)) >= j) times the
    group's size, and the p_(j) at that minimum."""
    order = np.lexsort((p, key))
    sorted_key, sorted_p = key[order], p[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    lengths = np.diff(np.r_[starts, len(order)])
    group = np.repeat(np.arange(len(starts)), lengths)
    rank = np.arange(len(order)) - starts[group] + 1
    stat = binom.sf(rank - 1, trials[order], sorted_p)
    best = np.minimum.reduceat(stat, starts)
    at_best = stat <= best[group]
    cut = np.zeros(len(starts))
    np.maximum.at(cut, group[at_best], sorted_p[at_best])
    out_stat, out_cut = np.empty(len(p)), np.empty(len(p))
    out_stat[order] = np.minimum(best * lengths, 1.0)[group]
    out_cut[order] = cut[group]
    return out_stat, out_cut


def _best_per_account(account: np.ndarray, rank: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Indexes of the passing (account, community) rows, one per account: its lowest rank."""
    order = np.lexsort((rank, account))
    order = order[ok[order]]
    _, best = np.unique(account[order], return_index=True)
    return np.asarray(order[best])


def _communities(names: pa.Array, labels: np.ndarray) -> pa.Table:
    has = np.flatnonzero(labels >= 0)
    return pa.table({"name": names.take(pa.array(has)), "community": pa.array(labels[has], pa.int64())})


def _join_on_co_actions(
    names: pa.Array, labels: np.ndarray, settings: DetectSettings, query: Query, accounts: int
) -> tuple[pa.Array, np.ndarray, pa.Table]:
    """Co-action test (module notes) for accounts outside every community of min_cluster_size.

    Returns the names and labels (accounts that joined without any tested pair appended) and the
    joined accounts as (name, community, p_value: corrected for the combinations tried)."""
    none = pa.table(
        {
            "name": pa.array([], pa.string()),
            "community": pa.array([], pa.int64()),
            "p_value": pa.array([], pa.float64()),
        }
    )
    if not (labels >= 0).any():
        return names, labels, none
    rows = query(EVENTS_SQL.format(min_size=int(settings.min_cluster_size)), {"comm": _communities(names, labels)})
    if rows.num_rows == 0:
        return names, labels, none
    rows = rows.sort_by(
        [("account_id", "ascending"), ("community", "ascending"), ("signal", "ascending"), ("stratum", "ascending")]
    )
    account = rows.column("account_id").combine_chunks()
    community = rows.column("community").to_numpy()
    account_codes = pc.index_in(account, value_set=pc.unique(account)).to_numpy()
    unit_change = np.r_[True, (account_codes[1:] != account_codes[:-1]) | (community[1:] != community[:-1])]
    p_values = best_p(rows, unit_change, settings, given_one=False)  # family: every account x community
    starts = np.flatnonzero(unit_change)
    family = accounts * int(np.unique(labels[labels >= 0]).size)
    chosen = starts[_best_per_account(account_codes[starts], p_values, p_values * family <= settings.chance_pairs)]
    if len(chosen) == 0:
        return names, labels, none
    joined = pa.table(
        {
            "name": account.take(pa.array(chosen)),
            "community": pa.array(community[chosen], pa.int64()),
            "p_value": pa.array(np.minimum(p_values[np.searchsorted(starts, chosen)] * family, 1.0)),
        }
    )
    known = pc.is_in(joined.column("name"), value_set=names).to_numpy(zero_copy_only=False)
    new_names = joined.column("name").filter(pa.array(~known))
    names = pa.concat_arrays([names, new_names.combine_chunks()])
    labels = np.r_[labels, np.full(len(new_names), -1, dtype=np.int64)]
    labels[pc.index_in(joined.column("name"), value_set=names).to_numpy()] = community[chosen]
    return names, labels, joined


def _membership(names: pa.Array, labels: np.ndarray, settings: DetectSettings) -> pa.Table:
    """(account_id, cluster_id) for communities of min_cluster_size, named c1, c2... by size, then first name."""
    inside = labels >= 0
    sizes = _sizes(labels)
    order_of_names = pc.array_sort_indices(names).to_numpy() if len(names) else np.zeros(0, np.int64)
    rank = np.empty(len(names), dtype=np.int64)
    rank[order_of_names] = np.arange(len(names))
    first_member = np.full(len(sizes), len(names))
    np.minimum.at(first_member, labels[inside], rank[inside])
    big = np.flatnonzero(sizes >= settings.min_cluster_size)
    order = big[np.lexsort((first_member[big], -sizes[big]))]
    cluster_name = np.full(len(sizes), "", dtype=object)
    cluster_name[order] = [f"c{r + 1}" for r in range(len(order))]
    keep = np.flatnonzero(np.isin(labels, order))
    return pa.table(
        {
            "account_id": pa.array(names.take(pa.array(keep, pa.int64())), pa.string()),
            "cluster_id": pa.array(cluster_name[labels[keep]].tolist(), pa.string()),
        }
    )
