"""Why a given group of accounts was or was not flagged (e.g. a component another tool reported).

For each group the run's own tables answer, in order: are its accounts in the data; did any two of
them act on the same item within the window; how many distinct co-actions the best pair reached
(against min_co_actions); whether any pair beat chance (p against max_p, from the popularity null
model); and which clusters its accounts ended up in (a cluster needs min_cluster_size accounts).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from shieldwall.detect.settings import DetectSettings

MAX_GROUPS = 10_000


def read_groups(path: Path) -> dict[str, list[str]]:
    """GROUP,ACCOUNT rows (a header row `group,account_id` is optional) as {group: [accounts]}."""
    groups: dict[str, list[str]] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise ValueError(f"{path}:{line}: expected GROUP,ACCOUNT, found {len(row)} field")
            group, account = row[0].strip(), row[1].strip()
            if line == 1 and group.lower() in ("group", "group_id", "component"):
                continue
            groups.setdefault(group, []).append(account)
            if len(groups) > MAX_GROUPS:
                raise ValueError(f"{path}:{line}: more than {MAX_GROUPS} groups")
    return groups


def explain_groups(
    con: duckdb.DuckDBPyConnection,
    groups: dict[str, list[str]],
    edges: pa.Table,
    membership: pa.Table,
    settings: DetectSettings,
) -> list[dict[str, Any]]:
    """One verdict per group, from `pairs` and `accounts` (by code) and the named edges and membership."""
    rows = [(g, a) for g, accounts in groups.items() for a in dict.fromkeys(accounts)]
    con.register("why_members", pa.table({"grp": [g for g, _ in rows], "name": [a for _, a in rows]}))
    # Distinct co-actions (post pairs) per member pair and signal, over every in-window pair formed.
    pair_rows = con.sql(
        """
        WITH m AS (SELECT w.grp, a.code FROM why_members w JOIN accounts a ON a.name = w.name)
        SELECT ms.grp, p.src, p.dst, count(DISTINCT hash(p.ts_src, p.ts_dst)) AS k, p.signal
        FROM pairs p JOIN m ms ON ms.code = p.src JOIN m md ON md.code = p.dst AND md.grp = ms.grp
        GROUP BY ms.grp, p.src, p.dst, p.signal
        """
    ).fetchall()
    present = dict(
        con.sql(
            "SELECT w.grp, count(*) FROM why_members w JOIN accounts a ON a.name = w.name GROUP BY w.grp"
        ).fetchall()
    )
    con.unregister("why_members")
    best_k: dict[str, int] = {}
    signals: dict[str, set[str]] = {}
    for group, _, _, k, signal in pair_rows:  # a pair's best signal: min_co_actions applies per signal
        best_k[group] = max(best_k.get(group, 0), int(k))
        signals.setdefault(group, set()).add(signal)
    cluster_of = dict(
        zip(membership.column("account_id").to_pylist(), membership.column("cluster_id").to_pylist(), strict=True)
    )
    edge_list = list(zip(edges.column("src").to_pylist(), edges.column("dst").to_pylist(), strict=True))
    out = []
    for group, accounts in groups.items():
        members = set(accounts)
        significant = sum(1 for a, b in edge_list if a in members and b in members)
        clusters = sorted({cluster_of[a] for a in members if a in cluster_of}, key=lambda c: int(c[1:]))
        flagged = sum(1 for a in members if a in cluster_of)
        k = best_k.get(group, 0)
        in_data = int(present.get(group, 0))
        out.append(
            {
                "group": group,
                "accounts": len(members),
                "in_data": in_data,
                "flagged": flagged,
                "clusters": clusters,
                "best_pair_co_actions": k,
                "significant_pairs": significant,
                "signals": sorted(signals.get(group, set())),
                "verdict": _verdict(
                    len(members), int(present.get(group, 0)), k, significant, flagged, clusters, settings
                ),
            }
        )
    return out


def _verdict(
    size: int, in_data: int, k: int, significant: int, flagged: int, clusters: list[str], settings: DetectSettings
) -> str:
    if flagged:
        where = ", ".join(clusters)
        return f"flagged: {flagged} of {size} accounts in {where}"
    if in_data < 2:
        return f"not flagged: {in_data} of its {size} accounts are in the data"
    if k == 0:
        return "not flagged: no two of its accounts acted on the same item within the window"
    if k < settings.min_co_actions:
        return (
            f"not flagged: its closest pair co-acted {k} time{'s' if k > 1 else ''}; a pair needs "
            f"{settings.min_co_actions} co-actions in one signal (--min-co-actions)"
        )
    if significant == 0:
        again = "a second meeting of pairs that met once, " if k == 2 else ""  # coaction.best_p's condition
        return (
            f"not flagged: pairs co-acted up to {k} times, but chance explains it ({again}items this popular and "
            f"accounts this active; no pair reached p <= {settings.max_p_value:g})"
        )
    return (
        f"not flagged: {significant} significant pair{'s' if significant > 1 else ''}, but the community they form "
        f"has fewer than {settings.min_cluster_size} accounts (--min-cluster-size)"
    )
