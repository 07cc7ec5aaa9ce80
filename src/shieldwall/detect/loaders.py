"""Read posts from CSV, JSONL, Parquet, Twitter API v1.1/v2 JSON, Twitter's IO archive CSV, the
coordination-network-toolkit CSV and CooRTweet's object shares (objects.py) into one Arrow table in the
posts contract.

Each format only maps its columns onto the contract as text; `normalise` does the typing and the
row checks for all of them, so every format reports bad rows the same way (file, line, field).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from shieldwall.detect.errors import LoadReport, MalformedInput, RowProblem
from shieldwall.detect.normalise import normalise
from shieldwall.detect.objects import contract_columns, object_shape
from shieldwall.detect.objects import to_posts as objects_to_posts
from shieldwall.detect.schema import CONTRACT, POSTS_SCHEMA, REQUIRED
from shieldwall.inputfiles import (
    MAX_FIELD_CHARS,
    CsvScan,
    InputError,
    csv_header,
    diagnose_csv,
    json_error,
    not_utf8,
    scan_csv,
    utf8_bytes,
    utf8_file,
)

# Twitter's information-operations archive (transparency.twitter.com) column names.
IO_ARCHIVE_COLUMNS = {
    "tweetid": "post_id",
    "userid": "account_id",
    "tweet_time": "created_at",
    "tweet_text": "text",
    "urls": "urls",
    "retweet_tweetid": "reshare_of",
    "in_reply_to_tweetid": "reply_to",
    "hashtags": "hashtags",
    "tweet_language": "lang",
}
# coordination-network-toolkit's CSV: positional columns with a header row.
TOOLKIT_COLUMNS = ("post_id", "account_id", "username", "reshare_of", "reply_to", "text", "created_at", "urls")

ProgressCallback = Callable[[int], None]


def load_posts(
    paths: Iterable[str | Path], *, strict: bool = False, on_rows: ProgressCallback | None = None
) -> tuple[pa.Table, LoadReport]:
    """All files as one posts table. strict: raise MalformedInput at the first bad row.

    A file that cannot be read, or that yields no post at all, raises MalformedInput naming it (in both
    modes: an input that contributes nothing is a mistake, not an empty result)."""
    report = LoadReport()
    tables: list[pa.Table] = []
    for path in paths:
        table, problems, skipped, read = load_file(Path(path), strict=strict)
        if table.num_rows == 0:
            raise MalformedInput(_no_posts(Path(path), read, problems))
        report.rows_read += read
        report.add(problems, skipped)
        tables.append(table)
        if on_rows:
            on_rows(read)
    if not tables:
        return POSTS_SCHEMA.empty_table(), report
    posts = pa.concat_tables(tables, promote_options="default")
    report.rows_kept = posts.num_rows
    return posts, report


def _no_posts(path: Path, read: int, problems: list[RowProblem]) -> RowProblem:
    if read == 0 or not problems:
        return RowProblem(str(path), None, "-", "no records: nothing to detect in this file")
    first = problems[0]
    return RowProblem(
        str(path), first.line, first.field, f"{first.message} (and none of the file's {read} records is a usable post)"
    )


def load_file(path: Path, *, strict: bool) -> tuple[pa.Table, list[RowProblem], int, int]:
    """(posts, problems, rows skipped, rows read) for one file of any supported format."""
    if not path.exists():
        raise MalformedInput(RowProblem(str(path), None, "-", "file not found"))
    try:
        return _load_file(path, strict=strict)
    except InputError as error:  # named after the file given, never a temporary copy
        raise MalformedInput(RowProblem(str(path), error.line, "-", error.message)) from None
    except OSError as error:
        raise MalformedInput(RowProblem(str(path), None, "-", f"cannot read: {error.strerror or error}")) from None


def _load_file(path: Path, *, strict: bool) -> tuple[pa.Table, list[RowProblem], int, int]:
    label = str(path)
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    line_of: Callable[[int], int] | None = None
    structural: list[RowProblem] = []
    if suffix in (".parquet", ".pq"):
        raw = _numbered(_read_parquet(path), first_line=1)
        _require_columns(path, raw, line=None)
    elif suffix in (".csv", ".tsv", ".csv.gz", ".tsv.gz"):
        with utf8_file(path) as source:
            raw, line_of, structural = _read_csv(source, label, strict=strict)
    elif suffix in (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz"):
        raw, structural = _read_json(path, strict=strict)
    else:
        raise MalformedInput(RowProblem(label, None, "-", f"unknown file type {suffix!r}; use csv, jsonl, parquet"))
    columns: dict[str, str] = {}
    if object_shape(raw.column_names):  # CooRTweet's layouts: object shares merged into posts
        columns = contract_columns(raw.column_names)
        raw = objects_to_posts(raw)
    table, problems, skipped = normalise(raw, label, strict=strict, line_of=line_of, columns=columns)
    problems = sorted(structural + problems, key=lambda p: p.line or 0)
    return table, problems, skipped + len(structural), raw.num_rows + len(structural)


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise InputError(path, None, f"not a readable Parquet file ({error})") from None


def _require_columns(path: Path, raw: pa.Table, line: int | None) -> None:
    if object_shape(raw.column_names):
        return
    missing = [name for name in REQUIRED if name not in raw.column_names]
    if missing:
        found = ", ".join(c for c in raw.column_names if c != "source_line")[:300]
        raise InputError(path, line, f"no {', '.join(missing)} column (columns: {found})")


def _numbered(table: pa.Table, *, first_line: int) -> pa.Table:
    lines = pa.array(np.arange(first_line, first_line + table.num_rows, dtype=np.int64))
    return table.append_column("source_line", lines)


# ---------------------------------------------------------------- CSV


def _read_csv(
    path: Path, label: str, *, strict: bool
) -> tuple[pa.Table, Callable[[int], int] | None, list[RowProblem]]:
    """`path` is plain UTF-8 text (see utf8_file); `label` is the file the user named."""
    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    header = csv_header(path, delimiter)
    bad_records: list[int] = []

    def on_invalid(row: Any) -> str:
        bad_records.append(row.number if row.number is not None else -1)
        return "error" if strict else "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid:
        # Invalid UTF-8, a record over the block size (a huge field, a quote left open), a wrong width in
        # strict mode: the slow reader says which and where.
        raise diagnose_csv(path, delimiter=delimiter, width=len(header)) from None
    table = _rename_csv(table, header)
    _require_columns(path, table, line=1)
    scan = _scan_if_needed(path, delimiter, header, records=None if bad_records else table.num_rows)
    structural: list[RowProblem] = []
    if scan is None:
        return _numbered(table, first_line=2), None, structural
    lines, widths = np.array(scan.lines, dtype=np.int64), np.array(scan.widths, dtype=np.int64)
    swallowed = {s.line for s in scan.swallowed}  # their own message says more than the field count
    for index in np.flatnonzero(widths != len(header))[:50]:
        if int(lines[index]) in swallowed:
            continue
        structural.append(
            RowProblem(label, int(lines[index]), "-", f"expected {len(header)} fields, found {int(widths[index])}")
        )
    row_lines = lines[widths == len(header)]
    if len(row_lines) != table.num_rows:  # the two readers disagree: line numbers would be wrong
        raise InputError(
            path, None, f"ambiguous quoting: {table.num_rows} records by one reading, {len(row_lines)} by another"
        )
    table = table.append_column("source_line", pa.array(row_lines))
    if scan.swallowed:
        # A record that swallowed others is not a post: drop it, and say which lines went with it.
        starts = pa.array(sorted(swallowed), pa.int64())
        table = table.filter(pc.invert(pc.is_in(table.column("source_line"), value_set=starts)))
        structural += [RowProblem(label, s.line, "-", s.message()) for s in scan.swallowed[:50]]
        structural.sort(key=lambda p: p.line or 0)
    if strict and structural:
        raise MalformedInput(structural[0])
    return table, None, structural


def _scan_if_needed(path: Path, delimiter: str, header: list[str], records: int | None) -> CsvScan | None:
    """Every record's start line and width (see scan_csv), or None when every record is exactly one line.

    `records` is how many records the fast parser kept, None when it skipped some (then lines must be found).
    """
    with open(path, "rb") as handle:
        data = handle.read()
    # As many non-blank lines after the header as records parsed: every record takes at least one line,
    # so none can span two (counted in C, no scan of the rows). An odd number of quotes means one is
    # left open somewhere, possibly on the last line, where a lenient parser takes it silently.
    lines_after_header = data.count(b"\n") - (1 if data.endswith(b"\n") else 0)
    one_line_each = records is not None and lines_after_header == records
    if one_line_each and b"\n\n" not in data and b"\n\r\n" not in data and data.count(b'"') % 2 == 0:
        return None
    del data
    time_column = next((header.index(n) for n in ("created_at", "tweet_time", "timestamp") if n in header), None)
    return scan_csv(path, delimiter=delimiter, width=len(header), time_column=time_column)


def _rename_csv(table: pa.Table, header: list[str]) -> pa.Table:
    names = set(header)
    if {"tweetid", "userid", "tweet_time"} <= names:
        mapping = IO_ARCHIVE_COLUMNS
        table = table.rename_columns([mapping.get(c, c) for c in table.column_names])
        return table.append_column("platform", pa.array(["twitter"] * table.num_rows, pa.string()))
    if {"message_id", "user_id", "timestamp"} <= names or (
        "post_id" not in names and len(header) == len(TOOLKIT_COLUMNS) and "repost_id" in names
    ):
        return table.rename_columns(list(TOOLKIT_COLUMNS))
    return table


# ---------------------------------------------------------------- JSON


def _read_json(path: Path, *, strict: bool) -> tuple[pa.Table, list[RowProblem]]:
    label = str(path)
    data = utf8_bytes(path)  # BOM dropped, UTF-16 decoded, binary and empty files refused
    kind = _sniff_json(path, data)
    # Fast path: Arrow's JSON reader; on any bad line (or an over-long value) fall back to the
    # line-by-line reader so the problem can be named precisely. Arrow does not check UTF-8: that is
    # checked first (isascii alone for most files).
    if kind == "contract" and (data.isascii() or not_utf8(data) is None):
        try:
            table = pajson.read_json(pa.BufferReader(data))
        except pa.ArrowInvalid:
            pass
        else:
            if not _has_oversize_text(table):
                return _numbered(table, first_line=1), []
    rows: list[dict[str, Any]] = []
    problems: list[RowProblem] = []

    def problem(line: int, field: str, message: str) -> None:
        problems.append(RowProblem(label, line, field, message))
        if strict:
            raise MalformedInput(problems[-1])

    for line_number, obj in _json_records(path, data):
        if isinstance(obj, RowProblem):
            problem(line_number, obj.field, obj.message)
            continue
        for record in _to_contract(obj, kind):
            oversize = next((k for k, v in record.items() if isinstance(v, str) and len(v) > MAX_FIELD_CHARS), None)
            if oversize is not None:
                problem(
                    line_number,
                    oversize,
                    f"{len(record[oversize]):,} characters, over the limit of {MAX_FIELD_CHARS:,} for one value",
                )
                continue
            record["source_line"] = line_number
            rows.append(record)
    columns = {name: [r.get(name) for r in rows] for name in (*CONTRACT, "source_line")}
    extras = sorted({k for r in rows for k in r} - set(columns))
    for name in extras:
        columns[name] = [_text(r.get(name)) for r in rows]
    table = pa.table(
        {
            name: pa.array(values, pa.int64() if name == "source_line" else pa.string())
            for name, values in columns.items()
        }
    )
    return table, problems


def _has_oversize_text(table: pa.Table) -> bool:
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            longest = pc.max(pc.utf8_length(column)).as_py()
            if longest is not None and longest > MAX_FIELD_CHARS:
                return True
    return False


def _sniff_json(path: Path, data: bytes) -> str:
    for _, obj in _json_records(path, data):
        if isinstance(obj, RowProblem):
            continue
        if "data" in obj and isinstance(obj["data"], list | dict):
            return "twitter_v2"
        if "author_id" in obj:
            return "twitter_v2"
        if "id_str" in obj or ("user" in obj and isinstance(obj["user"], dict)):
            return "twitter_v1"
        return "contract"
    return "contract"


def _json_records(path: Path, data: bytes) -> Iterator[tuple[int, Any]]:
    """(line, object) for every record, or (line, RowProblem) for one that is not a JSON object.

    A file is one JSON document (a list of records, or one object such as a Twitter API page, pretty
    printed or not) or JSON Lines (.jsonl, .ndjson, or a .json whose first line is a whole value). A
    broken document is unreadable as a whole: InputError at its line. In JSON Lines each line stands alone."""
    stripped = data.lstrip()
    json_lines = path.name.lower().removesuffix(".gz").endswith((".jsonl", ".ndjson"))
    document = stripped.startswith(b"[") or (
        not json_lines and stripped.startswith(b"{") and not _first_line_is_json(stripped)
    )
    if document:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise InputError(path, *json_error(data, error.pos, error.msg)) from None
        items = parsed if isinstance(parsed, list) else [parsed]
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index + 1, item
            else:
                yield index + 1, RowProblem(str(path), index + 1, "-", "not a JSON object")
        return
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            bad = not_utf8(line)
            message = bad[1] if bad is not None else f"invalid JSON: {error.msg}"
            yield number, RowProblem(str(path), number, "-", message)
            continue
        if not isinstance(obj, dict):
            yield number, RowProblem(str(path), number, "-", "not a JSON object")
            continue
        yield number, obj


def _first_line_is_json(data: bytes) -> bool:
    """Whether the first line is a whole JSON value: JSON Lines; else a document spread over lines."""
    first = data.split(b"\n", 1)[0]
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return True


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _to_contract(obj: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    if kind == "contract":
        return [{k: _text(v) for k, v in obj.items()}]
    if kind == "twitter_v1":
        return [_twitter_v1(obj)]
    if "data" in obj:
        data = obj["data"]
        return [_twitter_v2(t) for t in (data if isinstance(data, list) else [data])]
    return [_twitter_v2(obj)]


def _twitter_v1(tweet: dict[str, Any]) -> dict[str, Any]:
    original = tweet.get("retweeted_status") or tweet
    extended = original.get("extended_tweet") or {}
    entities = extended.get("entities") or original.get("entities") or {}
    created = tweet.get("created_at")
    # An unparseable time is left as is: normalise reports it with the line number.
    with contextlib.suppress(TypeError, ValueError):
        created = datetime.strptime(created, "%a %b %d %H:%M:%S %z %Y").isoformat() if created else None
    user = tweet.get("user") or {}
    return {
        "post_id": _text(tweet.get("id_str") or tweet.get("id")),
        "account_id": _text(user.get("id_str") or user.get("id")),
        "created_at": _text(created),
        "platform": "twitter",
        "text": extended.get("full_text") or original.get("full_text") or original.get("text"),
        "reshare_of": _text((tweet.get("retweeted_status") or {}).get("id_str")),
        "reply_to": _text(tweet.get("in_reply_to_status_id_str")),
        "lang": tweet.get("lang"),
        "urls": json.dumps([u.get("expanded_url") or u.get("url") for u in entities.get("urls", [])]),
        "hashtags": json.dumps([h.get("text") for h in entities.get("hashtags", [])]),
        "username": user.get("screen_name"),
    }


def _twitter_v2(tweet: dict[str, Any]) -> dict[str, Any]:
    entities = tweet.get("entities") or {}
    references = {r.get("type"): r.get("id") for r in tweet.get("referenced_tweets") or []}
    return {
        "post_id": _text(tweet.get("id")),
        "account_id": _text(tweet.get("author_id")),
        "created_at": tweet.get("created_at"),
        "platform": "twitter",
        "text": tweet.get("text"),
        "reshare_of": _text(references.get("retweeted")),
        "reply_to": _text(references.get("replied_to")),
        "lang": tweet.get("lang"),
        "urls": json.dumps(
            [u.get("unwound_url") or u.get("expanded_url") or u.get("url") for u in entities.get("urls", [])]
        ),
        "hashtags": json.dumps([h.get("tag") for h in entities.get("hashtags", [])]),
    }
