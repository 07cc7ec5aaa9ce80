"""Co-action items per signal: one row per (signal, item, account) with the first time and post.

Every signal reduces to "accounts acting on the same item": a canonical URL, a domain, an original
post, a near-duplicate text group, a picture group, a hashtag sequence or a time bin. Text and media
groups are computed in NumPy (minhash.py, pdq.py) and joined in as tables.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shieldwall.detect.canonical import DUCKDB_MACROS
from shieldwall.detect.coaction import windows_table
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


# Object types (CooRTweet's input shape, objects.py) and the signal each one feeds; any other type is co_object.
OBJECT_SIGNALS = {
    "url": "co_link",
    "link": "co_link",
    "domain": "co_domain",
    "hashtag": "co_hashtag",
    "picture": "media",
    "phash": "media",
    "image": "media",
    "media": "media",
    "reshare": "co_reshare",
    "retweet": "co_reshare",
}


def object_signal_sql(entry: str) -> str:
    """SQL (DuckDB and Spark) naming the signal of a "TYPE:ID" object entry."""
    cases = " ".join(f"WHEN '{kind}' THEN '{signal}'" for kind, signal in OBJECT_SIGNALS.items())
    return f"CASE lower(split_part({entry}, ':', 1)) {cases} ELSE 'co_object' END"


def signal_selects(settings: DetectSettings, explode: str, time_label: Callable[[str], str]) -> list[str]:
    """The per-signal SELECTs over `p`, `link`, `text_groups`, `media_groups_t` that both engines share.

    explode: the engine's set-returning function over a list (DuckDB unnest, Spark explode); time_label:
    SQL formatting Unix seconds as 'YYYY-MM-DD HH:MM:SS UTC' in the engine's dialect. Each SELECT
    yields ACT_COLUMNS; `rep` marks repeated items (settings.REPEATED_SIGNALS, objects).
    """
    wanted = set(settings.signals)
    selects = []
    if "co_link" in wanted:
        selects.append("SELECT 'co_link', url, url, account_id, ts, post_id, false FROM link")
    if "co_domain" in wanted:
        selects.append(
            "SELECT 'co_domain', host, host, account_id, ts, post_id, true FROM "
            f"(SELECT {URL_HOST_SQL} AS host, account_id, ts, post_id FROM link) h WHERE host <> ''"
        )
    if "co_reshare" in wanted:
        selects.append(
            "SELECT 'co_reshare', reshare_of, reshare_of, account_id, ts, post_id, false FROM p "
            "WHERE reshare_of IS NOT NULL"
        )
    if "co_hashtags" in wanted:
        # The ordered sequence of two or more hashtags (co_hashtag below takes them one by one).
        selects.append(
            "SELECT 'co_hashtags', array_join(hashtags, ' '), concat('#', array_join(hashtags, ' #')), "
            "account_id, ts, post_id, false FROM p WHERE size(hashtags) >= 2 AND reshare_of IS NULL"
        )
    if "co_hashtag" in wanted:
        # Every tag on its own: a rare tag used by the same accounts within the window, again and again.
        selects.append(
            "SELECT 'co_hashtag', tag, concat('#', regexp_replace(tag, '^#+', '')), account_id, ts, post_id, true FROM "
            f"(SELECT account_id, ts, post_id, {explode}(hashtags) AS tag FROM p WHERE reshare_of IS NULL) t"
        )
    if "near_text" in wanted:
        selects.append(
            "SELECT 'near_text', concat('t', CAST(g.text_group AS STRING)), substring(p.text, 1, 280), "
            "p.account_id, p.ts, p.post_id, false FROM text_groups g JOIN p ON p.post_index = g.post_index"
        )
    if "media" in wanted:
        selects.append(
            "SELECT 'media', concat('m', CAST(g.media_group AS STRING)), g.media_hash, p.account_id, p.ts, "
            "p.post_id, false FROM media_groups_t g JOIN p ON p.post_index = g.post_index"
        )
    if "sync_timing" in wanted:
        width = max(1, settings.window("sync_timing"))
        selects.append(
            f"SELECT 'sync_timing', CAST(CAST(floor(ts / {width}) AS BIGINT) AS STRING), "
            f"{time_label(f'CAST(floor(ts / {width}) AS BIGINT) * {width}')}, account_id, ts, post_id, false FROM p"
        )
    object_signals = sorted(wanted & (set(OBJECT_SIGNALS.values()) | {"co_object"}))
    if object_signals:
        # Typed ids from CooRTweet-shaped input: each type feeds its signal; every share counts (repeated).
        chosen = ", ".join(f"'{s}'" for s in object_signals)
        selects.append(
            "SELECT signal, entry, entry, account_id, ts, post_id, true FROM "
            f"(SELECT {object_signal_sql('entry')} AS signal, entry, account_id, ts, post_id FROM "
            f"(SELECT account_id, ts, post_id, {explode}(objects) AS entry FROM p) e) o WHERE signal IN ({chosen})"
        )
    return selects


URL_HOST_SQL = "regexp_extract(url, '^http://([^/?#]*)', 1)"


def duckdb_time_label(seconds: str) -> str:
    return f"strftime(to_timestamp({seconds}), '%Y-%m-%d %H:%M:%S UTC')"


def episode_items_sql(source: str) -> str:
    """Acts with repeated items split into episodes, in SQL both engines run (reads `windows_t`).

    A repeated item (a website, a hashtag) is acted on again and again: its actions are split where
    nobody used it for longer than the window, so every pair within the window falls in one episode
    (sorted times: no gap between them exceeds the window), and an episode lasts at most `span`
    seconds, so a tag in constant use still yields many items. The item becomes ITEM@EPISODE.SLICE.
    """
    return f"""
    SELECT signal, item, label, account_id, ts, post_id FROM {source} WHERE NOT rep
    UNION ALL
    SELECT signal, concat(item, '@', CAST(ep AS STRING), '.',
                          CAST(CAST(floor((ts - ep_start) / span) AS BIGINT) AS STRING)) AS item,
           label, account_id, ts, post_id
    FROM (SELECT x.*, min(ts) OVER (PARTITION BY signal, item, ep) AS ep_start FROM (
            SELECT b.*, sum(brk) OVER (PARTITION BY signal, item ORDER BY ts, account_id
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS ep
            FROM (SELECT r.signal, r.item, r.label, r.account_id, r.ts, r.post_id, w.span,
                         CASE WHEN r.ts - lag(r.ts) OVER (PARTITION BY r.signal, r.item ORDER BY r.ts, r.account_id)
                              > w.w THEN 1 ELSE 0 END AS brk
                  FROM {source} r JOIN windows_t w ON w.signal = r.signal
                  WHERE r.rep AND r.item IS NOT NULL) b) x) y
    """


def build_actions(con: duckdb.DuckDBPyConnection, posts: pa.Table, settings: DetectSettings) -> None:
    """Create tables `acts(signal, item, label, account_id, ts, post_id)` and `accounts(name, code)`.

    In `acts`, account_id is the account's integer code.

    `label` is what an analyst reads as evidence (the URL, the text, the hash); `item` is the key.
    """
    con.execute(DUCKDB_MACROS)
    columns = ["post_id", "account_id", "created_at", "text", "urls", "reshare_of", "hashtags"]
    indexed = posts.select(columns + (["objects"] if "objects" in posts.column_names else []))
    if "objects" not in indexed.column_names:
        indexed = indexed.append_column("objects", pa.nulls(posts.num_rows, pa.list_(pa.string())))
    indexed = indexed.append_column("post_index", pa.array(np.arange(posts.num_rows, dtype=np.int64)))
    con.register("posts_indexed", indexed)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE p AS SELECT post_index, post_id, account_id, "
        "epoch(created_at)::DOUBLE AS ts, text, urls, reshare_of, hashtags, coalesce(objects, []) AS objects "
        "FROM posts_indexed"
    )
    con.unregister("posts_indexed")
    con.register("windows_t", windows_table(settings))
    wanted = set(settings.signals)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE link AS "
        "SELECT post_id, account_id, ts, sw_canon_url(u) AS url FROM "
        "(SELECT post_id, account_id, ts, unnest(urls) AS u FROM p WHERE reshare_of IS NULL)"
        + ("" if wanted & {"co_link", "co_domain"} else " LIMIT 0")
    )
    if settings.shortener_map and wanted & {"co_link", "co_domain"}:
        mapping = pa.table({"short": list(settings.shortener_map), "long": list(settings.shortener_map.values())})
        con.register("shortener_raw", mapping)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE link AS SELECT l.post_id, l.account_id, l.ts, "
            "coalesce(sw_canon_url(m.long), l.url) AS url FROM link l LEFT JOIN "
            "(SELECT sw_canon_url(short) AS short, any_value(long) AS long FROM shortener_raw GROUP BY 1) m "
            "ON l.url = m.short"
        )
    if "near_text" in wanted:
        con.register("text_groups", text_group_table(posts, settings))
    if "media" in wanted:
        con.register("media_groups_t", media_group_table(posts, settings))
    selects = signal_selects(settings, "unnest", duckdb_time_label)
    if not selects:
        raise ValueError("no signals selected")
    # DuckDB spells array_join/size differently; the shared SQL uses Spark's names.
    con.execute("CREATE OR REPLACE TEMP MACRO array_join(l, s) AS array_to_string(l, s)")
    con.execute("CREATE OR REPLACE TEMP MACRO size(l) AS len(l)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE raw_acts AS {union_of(selects)}")
    # Accounts become integers numbered in name order (so code order is name order): the pair joins
    # and groupings over millions of rows run on integers; `accounts` turns codes back into names.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE accounts AS SELECT account_id AS name, "
        "CAST(row_number() OVER (ORDER BY account_id) - 1 AS INTEGER) AS code FROM (SELECT DISTINCT account_id FROM p)"
    )
    # Signals become a one-byte ENUM: `pairs` holds hundreds of millions of rows at 10M posts, and a
    # string column per row was most of what DuckDB had to spill to disk.
    names = sorted(set(settings.signals) | set(OBJECT_SIGNALS.values()) | {"co_object"})
    con.execute("DROP TYPE IF EXISTS sw_signal")
    con.execute(f"CREATE TYPE sw_signal AS ENUM ({', '.join(repr(n) for n in names)})")
    # One row per account and item: repeated posting of the same item by one account is not co-action.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE acts AS "
        # Items become 64-bit hashes: URLs and texts are long, and only the label needs the text.
        "SELECT CAST(signal AS sw_signal) AS signal, hash(item) AS item, first.label AS label, c.code AS account_id, "
        "first.ts AS ts, first.post_id AS post_id FROM ("
        "SELECT signal, item, account_id, min(struct_pack(ts := ts, post_id := post_id, label := label)) AS first "
        f"FROM ({episode_items_sql('raw_acts')}) e WHERE item IS NOT NULL GROUP BY signal, item, account_id) g "
        "JOIN accounts c ON c.name = g.account_id"
    )
    # Nothing after this reads the posts' copies (texts, lists): they would hold memory the pairs need.
    for table in ("raw_acts", "link", "p"):
        con.execute(f"DROP TABLE {table}")


ACT_COLUMNS = "signal, item, label, account_id, ts, post_id, rep"


def union_of(selects: list[str]) -> str:
    """The selects as one UNION ALL with named columns (a UNION takes its names from its first SELECT only,
    so each is wrapped and named: any subset of signals, in any order, yields the same columns)."""
    return " UNION ALL ".join(f"SELECT * FROM ({select}) AS s{i}({ACT_COLUMNS})" for i, select in enumerate(selects))


def account_names(con: duckdb.DuckDBPyConnection) -> pa.Array:
    """Names indexed by account code (see build_actions)."""
    return con.sql("SELECT name FROM accounts ORDER BY code").to_arrow_table().column(0).combine_chunks()


def with_names(table: pa.Table, names: pa.Array, columns: tuple[str, ...]) -> pa.Table:
    """The table with account-code columns replaced by account names."""
    for column in columns:
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, names.take(table.column(column)))
    return table
