"""Co-action items per signal: one row per (signal, item, account) with the first time and post.

Every signal reduces to "accounts acting on the same item": a canonical URL, a domain, an original
post, a near-duplicate text group, a picture group, a hashtag sequence or a time bin. Text and media
groups are computed in NumPy (minhash.py, pdq.py) and joined in as tables.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shieldwall.detect.canonical import DUCKDB_MACROS
from shieldwall.detect.minhash import near_duplicate_groups
from shieldwall.detect.pdq import media_groups
from shieldwall.detect.settings import DetectSettings


def text_group_table(posts: pa.Table, settings: DetectSettings) -> pa.Table:
    """(post_index, text_group) for posts whose text has near-duplicates; reshares excluded (copies by design)."""
    originals = pc.indices_nonzero(pc.is_null(posts.column("reshare_of")))
    groups = near_duplicate_groups(
        posts.column("text").take(originals),
        threshold=settings.text_threshold,
        num_perm=settings.text_num_perm,
        shingle=settings.text_shingle,
        min_chars=settings.text_min_chars,
        seed=settings.seed,
    )
    keep = np.flatnonzero(groups >= 0)
    post_index = originals.to_numpy()[keep].astype(np.int64)
    return pa.table({"post_index": pa.array(post_index, pa.int64()), "text_group": pa.array(groups[keep], pa.int64())})


def media_group_table(posts: pa.Table, settings: DetectSettings) -> pa.Table:
    """(post_index, media_hash, media_group) for every PDQ hash of every post."""
    media = posts.column("media_pdq").combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(media), 0).to_numpy()
    post_index = np.repeat(np.arange(len(media), dtype=np.int64), lengths)
    hashes = pc.list_flatten(media)
    groups = media_groups(hashes, max_distance=settings.pdq_max_distance)
    return pa.table({"post_index": post_index, "media_hash": hashes, "media_group": pa.array(groups, pa.int64())})


def build_actions(con: duckdb.DuckDBPyConnection, posts: pa.Table, settings: DetectSettings) -> None:
    """Create tables `acts(signal, item, label, account_id, ts, post_id)` and `accounts(name, code)`.

    In `acts`, account_id is the account's integer code.

    `label` is what an analyst reads as evidence (the URL, the text, the hash); `item` is the key.
    """
    con.execute(DUCKDB_MACROS)
    indexed = posts.select(["post_id", "account_id", "created_at", "text", "urls", "reshare_of", "hashtags"])
    indexed = indexed.append_column("post_index", pa.array(np.arange(posts.num_rows, dtype=np.int64)))
    con.register("posts_indexed", indexed)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE p AS SELECT post_index, post_id, account_id, "
        "epoch(created_at)::DOUBLE AS ts, text, urls, reshare_of, hashtags FROM posts_indexed"
    )
    con.unregister("posts_indexed")
    selects = []
    wanted = set(settings.signals)
    if wanted & {"co_link", "co_domain"}:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE link AS "
            "SELECT post_id, account_id, ts, sw_canon_url(u) AS url FROM "
            "(SELECT post_id, account_id, ts, unnest(urls) AS u FROM p WHERE reshare_of IS NULL)"
        )
        if settings.shortener_map:
            mapping = pa.table({"short": list(settings.shortener_map), "long": list(settings.shortener_map.values())})
            con.register("shortener_raw", mapping)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE link AS SELECT l.post_id, l.account_id, l.ts, "
                "coalesce(sw_canon_url(m.long), l.url) AS url FROM link l LEFT JOIN "
                "(SELECT sw_canon_url(short) AS short, any_value(long) AS long FROM shortener_raw GROUP BY 1) m "
                "ON l.url = m.short"
            )
        if "co_link" in wanted:
            selects.append("SELECT 'co_link' AS signal, url AS item, url AS label, account_id, ts, post_id FROM link")
        if "co_domain" in wanted:
            # A domain is shared again and again, so the item is the domain within one window-wide
            # time slot: each slot is a separate co-action (otherwise a pair could co-act once at most).
            slot = max(1, settings.window("co_domain"))
            selects.append(
                f"SELECT 'co_domain', sw_url_host(url) || '@' || CAST(floor(ts / {slot}) AS BIGINT), "
                "sw_url_host(url), account_id, ts, post_id FROM link WHERE sw_url_host(url) <> ''"
            )
    if "co_reshare" in wanted:
        selects.append(
            "SELECT 'co_reshare', reshare_of, reshare_of, account_id, ts, post_id FROM p WHERE reshare_of IS NOT NULL"
        )
    if "co_hashtags" in wanted:
        # The ordered sequence of two or more hashtags: single popular tags carry no signal.
        selects.append(
            "SELECT 'co_hashtags', array_to_string(hashtags, ' '), '#' || array_to_string(hashtags, ' #'), "
            "account_id, ts, post_id FROM p WHERE len(hashtags) >= 2 AND reshare_of IS NULL"
        )
    if "sync_timing" in wanted:
        bin_seconds = max(1, settings.window("sync_timing"))
        selects.append(
            f"SELECT 'sync_timing', CAST(CAST(floor(ts / {bin_seconds}) AS BIGINT) AS VARCHAR), "
            f"strftime(to_timestamp(floor(ts / {bin_seconds}) * {bin_seconds}), '%Y-%m-%d %H:%M:%S UTC'), "
            "account_id, ts, post_id FROM p"
        )
    if "near_text" in wanted:
        con.register("text_groups", text_group_table(posts, settings))
        selects.append(
            "SELECT 'near_text', 't' || g.text_group, left(p.text, 280), p.account_id, p.ts, p.post_id "
            "FROM text_groups g JOIN p USING (post_index)"
        )
    if "media" in wanted:
        con.register("media_groups_t", media_group_table(posts, settings))
        selects.append(
            "SELECT 'media', 'm' || g.media_group, g.media_hash, p.account_id, p.ts, p.post_id "
            "FROM media_groups_t g JOIN p USING (post_index)"
        )
    if not selects:
        raise ValueError("no signals selected")
    # Accounts become integers numbered in name order (so code order is name order): the pair joins
    # and groupings over millions of rows run on integers; `accounts` turns codes back into names.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE accounts AS SELECT account_id AS name, "
        "CAST(row_number() OVER (ORDER BY account_id) - 1 AS INTEGER) AS code FROM (SELECT DISTINCT account_id FROM p)"
    )
    # One row per account and item: repeated posting of the same item by one account is not co-action.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE acts AS "
        # Items become 64-bit hashes: URLs and texts are long, and only the label needs the text.
        "SELECT signal, hash(item) AS item, first.label AS label, c.code AS account_id, first.ts AS ts, "
        "first.post_id AS post_id FROM ("
        "SELECT signal, item, account_id, min(struct_pack(ts := ts, post_id := post_id, label := label)) AS first "
        f"FROM ({' UNION ALL '.join(selects)}) WHERE item IS NOT NULL GROUP BY signal, item, account_id) g "
        "JOIN accounts c ON c.name = g.account_id"
    )


def account_names(con: duckdb.DuckDBPyConnection) -> pa.Array:
    """Names indexed by account code (see build_actions)."""
    return con.sql("SELECT name FROM accounts ORDER BY code").to_arrow_table().column(0).combine_chunks()


def with_names(table: pa.Table, names: pa.Array, columns: tuple[str, ...]) -> pa.Table:
    """The table with account-code columns replaced by account names."""
    for column in columns:
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, names.take(table.column(column)))
    return table
