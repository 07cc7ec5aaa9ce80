"""Turn a raw all-text table (any loader's output) into the typed posts contract, in one DuckDB query.

Every loader first produces strings named after the contract plus `source_line`; this module parses
timestamps (ISO 8601 or Unix seconds), list fields (JSON list, the IO archive's `[a, b]` or space
separated), and reports each bad row with its file, line and field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa

from shieldwall.detect.duck import arrow, connect
from shieldwall.detect.errors import MalformedInput, RowProblem
from shieldwall.detect.schema import CONTRACT, LIST_FIELDS, POSTS_SCHEMA

_PDQ_RE = "^[0-9a-f]{64}$"


def _list_expr(column: str, *, lower: bool = False, strip_hash: bool = False, typed: bool = False) -> str:
    """SQL turning a JSON list, `[a, b]` or a space-separated string into a cleaned VARCHAR[].

    typed: the column is already a list (Parquet, Arrow); only the items are cleaned.
    """
    value = f"trim(coalesce({column}, ''))"
    parsed = (
        f"coalesce({column}, []::VARCHAR[])"
        if typed
        else (
            f"CASE WHEN {value} = '' THEN []::VARCHAR[] "
            f"WHEN starts_with({value}, '[') AND json_valid({value}) THEN from_json({value}, '[\"VARCHAR\"]') "
            f"WHEN starts_with({value}, '[') THEN string_split_regex(trim({value}, '[]'), '[,\\s]+') "
            f"ELSE string_split_regex({value}, '\\s+') END"
        )
    )
    item = "trim(x, ' ''\"')"
    if strip_hash:
        item = f"ltrim({item}, '#')"
    if lower:
        item = f"lower({item})"
    return f"list_filter(list_transform({parsed}, lambda x: {item}), lambda x: x IS NOT NULL AND x <> '')"


def _timestamp_expr(typed: bool) -> str:
    if typed:
        return "CAST(created_at AS TIMESTAMPTZ)"
    return _TIMESTAMP


_TIMESTAMP = (
    "CASE WHEN regexp_full_match(trim(created_at), '-?[0-9]+(\\.[0-9]+)?') "
    "THEN to_timestamp(TRY_CAST(trim(created_at) AS DOUBLE)) "
    "ELSE TRY_CAST(trim(created_at) AS TIMESTAMPTZ) END"
)

_NORMALISE_SQL = """
SELECT
  nullif(trim(post_id), '') AS post_id,
  nullif(trim(account_id), '') AS account_id,
  {timestamp} AS created_at,
  nullif(trim(platform), '') AS platform,
  text,
  nullif(trim(reshare_of), '') AS reshare_of,
  nullif(trim(reply_to), '') AS reply_to,
  nullif(trim(lang), '') AS lang,
  {urls} AS urls,
  {hashtags} AS hashtags,
  {media_pdq} AS media_pdq,
  {objects} AS objects,
  CAST(created_at AS VARCHAR) AS created_at_raw,
  source_line
FROM raw
"""

_PROBLEMS_SQL = f"""
SELECT source_line, 'post_id' AS field, 'missing' AS message FROM parsed WHERE post_id IS NULL
UNION ALL
SELECT source_line, 'account_id', 'missing' FROM parsed WHERE account_id IS NULL
UNION ALL
SELECT source_line, 'created_at',
       CASE WHEN created_at_raw IS NULL OR trim(created_at_raw) = '' THEN 'missing'
            ELSE 'not ISO 8601 or Unix seconds: ' || left(created_at_raw, 40) END
FROM parsed WHERE created_at IS NULL
UNION ALL
SELECT source_line, 'media_pdq', 'not a 64-hex PDQ hash: ' || left(bad, 70)
FROM (SELECT source_line, list_filter(media_pdq, lambda h: NOT regexp_full_match(h, '{_PDQ_RE}'))[1] AS bad
      FROM parsed) WHERE bad IS NOT NULL
"""


def normalise(
    raw: pa.Table,
    file_label: str,
    *,
    strict: bool,
    line_of: Callable[[int], int] | None = None,
    columns: Mapping[str, str] | None = None,
) -> tuple[pa.Table, list[RowProblem], int]:
    """Typed posts, the problems found (in line order) and how many rows were skipped.

    `line_of` maps a `source_line` value to the real line number when the loader could only count records;
    `columns` names the file's own column for a contract field (CooRTweet's `timestamp_share` is `created_at`),
    so a problem points at the column the user wrote.
    """
    columns = columns or {}
    raw = _with_all_columns(raw)
    extras = [c for c in raw.column_names if c not in CONTRACT and c != "source_line"]
    con = connect()
    try:
        con.register("raw", raw)
        con.execute(f"CREATE TEMP TABLE parsed AS {_normalise_sql(raw.schema)}")
        problems_table = arrow(con, f"SELECT * FROM ({_PROBLEMS_SQL}) ORDER BY source_line LIMIT 1000")
        bad_lines = con.execute(f"SELECT count(DISTINCT source_line) FROM ({_PROBLEMS_SQL})").fetchone()
        skipped = int(bad_lines[0]) if bad_lines else 0
        problems = [
            RowProblem(file_label, line_of(int(line)) if line_of else int(line), columns.get(field, field), message)
            for line, field, message in zip(
                problems_table.column("source_line").to_pylist(),
                problems_table.column("field").to_pylist(),
                problems_table.column("message").to_pylist(),
                strict=True,
            )
        ]
        if strict and problems:
            raise MalformedInput(problems[0])
        # Positional join back onto the raw table keeps the pass-through columns without naming them in SQL.
        con.execute("CREATE TEMP TABLE bad AS SELECT DISTINCT source_line FROM (" + _PROBLEMS_SQL + ")")
        good = arrow(
            con,
            "SELECT p.* EXCLUDE (created_at_raw) FROM parsed p ANTI JOIN bad USING (source_line) ORDER BY source_line",
        )
        if extras:
            con.register("extras_raw", raw.select(["source_line", *extras]))
            extra_table = arrow(
                con,
                "SELECT e.* EXCLUDE (source_line) FROM extras_raw e ANTI JOIN bad USING (source_line) "
                "ORDER BY source_line",
            )
        else:
            extra_table = None
    finally:
        con.close()
    good = good.append_column("source_file", pa.array([file_label] * good.num_rows, pa.string()))
    typed = good.select([f.name for f in POSTS_SCHEMA]).cast(POSTS_SCHEMA)
    if extra_table is not None:
        for name in extra_table.column_names:
            typed = typed.append_column(name, extra_table.column(name).cast(pa.string()))
    return typed, problems, skipped


def _normalise_sql(schema: pa.Schema) -> str:
    def typed_list(name: str) -> bool:
        kind = schema.field(name).type
        return (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and pa.types.is_string(kind.value_type)

    return _NORMALISE_SQL.format(
        timestamp=_timestamp_expr(pa.types.is_timestamp(schema.field("created_at").type)),
        urls=_list_expr("urls", typed=typed_list("urls")),
        hashtags=_list_expr("hashtags", lower=True, strip_hash=True, typed=typed_list("hashtags")),
        media_pdq=_list_expr("media_pdq", lower=True, typed=typed_list("media_pdq")),
        objects=_list_expr("objects", typed=typed_list("objects")),
    )


def _with_all_columns(raw: pa.Table) -> pa.Table:
    for name in CONTRACT:
        if name not in raw.column_names:
            raw = raw.append_column(name, pa.nulls(raw.num_rows, pa.string()))
        elif not _keeps_type(name, raw.schema.field(name).type):
            raw = raw.set_column(raw.schema.get_field_index(name), name, _as_text(raw.column(name)))
    return raw


def _keeps_type(name: str, kind: pa.DataType) -> bool:
    """Strings, typed lists of strings and timestamps are read as they are; anything else goes through text."""
    if pa.types.is_string(kind):
        return True
    if name == "created_at" and pa.types.is_timestamp(kind):
        return True
    return name in LIST_FIELDS and pa.types.is_list(kind) and pa.types.is_string(kind.value_type)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Lists become JSON text (parsed again by _list_expr); numbers and timestamps their text form."""
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        con = connect()
        try:
            con.register("c", pa.table({"v": column}))
            return arrow(con, "SELECT CAST(to_json(v) AS VARCHAR) AS v FROM c").column("v")
        finally:
            con.close()
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.timestamp("us", tz="UTC")).cast(pa.string())
    return column.cast(pa.string())
