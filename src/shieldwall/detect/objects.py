"""Inputs in CooRTweet's shape: one row per share of an object, read without any conversion script.

Two layouts are recognised by their columns:
- CooRTweet's own: `object_id, account_id, content_id, timestamp_share` (content_id optional, an
  `object_type` column optional): each row is one account sharing one object at one time.
- One id column per object type, as in CooRTweet's `german_elections` data: `account_id, post_id,
  url_id, hashtag_id, domain_id, phash_id, timestamp`; each `TYPE_id` column holds that type's ids.

Both become posts in the contract with a list of typed objects "TYPE:ID" (`objects`); rows of the
same post (content_id or post_id) merge into one post. actions.OBJECT_SIGNALS sends each type to its
signal: url -> co_link, domain -> co_domain, hashtag -> co_hashtag, phash/picture -> media,
reshare/retweet -> co_reshare, anything else (an untyped object_id) -> co_object.
"""

from __future__ import annotations

import pyarrow as pa

from shieldwall.detect.duck import arrow, connect

TIME_COLUMNS = ("timestamp_share", "timestamp")
POST_COLUMNS = ("content_id", "post_id")
NOT_TYPES = ("account_id", "post_id", "content_id", "object_id")


def type_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if c.endswith("_id") and c not in NOT_TYPES and len(c) > 3]


def object_shape(columns: list[str]) -> bool:
    """Whether a table with these columns is in one of CooRTweet's layouts (and not the posts contract)."""
    names = set(columns)
    if "created_at" in names or "account_id" not in names or not names & set(TIME_COLUMNS):
        return False
    return "object_id" in names or bool(type_columns(columns))


def _text(name: str, kind: pa.DataType) -> str:
    """SQL for a column as text; whole floats (ids stored as float by pandas) without their '.0'."""
    column = f'"{name}"'
    if pa.types.is_floating(kind):
        return (
            f"CASE WHEN {column} = floor({column}) AND abs({column}) < 9e18 "
            f"THEN CAST(CAST({column} AS BIGINT) AS VARCHAR) ELSE CAST({column} AS VARCHAR) END"
        )
    if pa.types.is_timestamp(kind):
        return f"strftime({column}, '%Y-%m-%dT%H:%M:%S.%fZ')" if kind.tz else f"CAST({column} AS VARCHAR)"
    return f"nullif(trim(CAST({column} AS VARCHAR)), '')"


def contract_columns(columns: list[str]) -> dict[str, str]:
    """The layout's own column for each contract field it fills (to name it in error messages)."""
    found = {"created_at": next(c for c in TIME_COLUMNS if c in columns)}
    post = next((c for c in POST_COLUMNS if c in columns), None)
    if post:
        found["post_id"] = post
    return found


def to_posts(raw: pa.Table) -> pa.Table:
    """Posts in the contract's text form (post_id, account_id, created_at, objects, source_line).

    `raw` has a `source_line` column; a merged post keeps the line of its first row, so problems
    (a missing account or time) are reported at a real line.
    """
    for index, field in enumerate(raw.schema):  # pandas categories arrive as dictionaries
        if pa.types.is_dictionary(field.type):
            raw = raw.set_column(index, field.name, raw.column(index).cast(field.type.value_type))
    kinds = {f.name: f.type for f in raw.schema}
    own = contract_columns(list(kinds))
    time_column, post_column = own["created_at"], own.get("post_id")
    if "object_id" in kinds:
        kind = _text("object_type", kinds["object_type"]) if "object_type" in kinds else "NULL"
        entries = f"[concat(coalesce(lower({kind}), 'object'), ':', {_text('object_id', kinds['object_id'])})]"
    else:
        entries = (
            "["
            + ", ".join(f"concat('{c[:-3].lower()}:', {_text(c, kinds[c])})" for c in type_columns(list(kinds)))
            + "]"
        )
    post = _text(post_column, kinds[post_column]) if post_column else "'row' || CAST(source_line AS VARCHAR)"
    con = connect()
    try:
        con.register("raw", raw)
        # concat() with a NULL id is just the prefix: such entries are dropped by the trailing ':'.
        return arrow(
            con,
            f"""
            SELECT post_id, account_id, arg_min(created_at, source_line) AS created_at,
                   CAST(to_json(list_sort(list_distinct(flatten(list(objects))))) AS VARCHAR) AS objects,
                   min(source_line) AS source_line
            FROM (SELECT coalesce({post}, 'row' || CAST(source_line AS VARCHAR)) AS post_id,
                         {_text("account_id", kinds["account_id"])} AS account_id,
                         {_text(time_column, kinds[time_column])} AS created_at,
                         list_filter({entries}, lambda e: e IS NOT NULL AND NOT suffix(e, ':')) AS objects,
                         source_line
                  FROM raw)
            GROUP BY post_id, account_id ORDER BY source_line
            """,
        )
    finally:
        con.close()
