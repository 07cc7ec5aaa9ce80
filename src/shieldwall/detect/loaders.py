"""Read posts from CSV, JSONL, Parquet, Twitter API v1.1/v2 JSON, Twitter's IO archive CSV and the
coordination-network-toolkit CSV into one Arrow table in the posts contract.

Each format only maps its columns onto the contract as text; `normalise` does the typing and the
row checks for all of them, so every format reports bad rows the same way (file, line, field).
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from shieldwall.detect.errors import LoadReport, MalformedInput, RowProblem
from shieldwall.detect.normalise import normalise
from shieldwall.detect.schema import CONTRACT, POSTS_SCHEMA

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
    """All files as one posts table. strict: raise MalformedInput at the first bad row."""
    report = LoadReport()
    tables: list[pa.Table] = []
    for path in paths:
        table, problems, skipped, read = load_file(Path(path), strict=strict)
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


def load_file(path: Path, *, strict: bool) -> tuple[pa.Table, list[RowProblem], int, int]:
    """(posts, problems, rows skipped, rows read) for one file of any supported format."""
    if not path.exists():
        raise MalformedInput(RowProblem(str(path), None, "-", "file not found"))
    label = str(path)
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    line_of: Callable[[int], int] | None = None
    structural: list[RowProblem] = []
    if suffix in (".parquet", ".pq"):
        raw = _numbered(pq.read_table(path), first_line=1)
    elif suffix in (".csv", ".tsv", ".csv.gz"):
        raw, line_of, structural = _read_csv(path, strict=strict)
    elif suffix in (".json", ".jsonl", ".ndjson", ".jsonl.gz"):
        raw, structural = _read_json(path, strict=strict)
    else:
        raise MalformedInput(RowProblem(label, None, "-", f"unknown file type {suffix!r}; use csv, jsonl, parquet"))
    table, problems, skipped = normalise(raw, label, strict=strict, line_of=line_of)
    problems = sorted(structural + problems, key=lambda p: p.line or 0)
    return table, problems, skipped + len(structural), raw.num_rows + len(structural)


def _numbered(table: pa.Table, *, first_line: int) -> pa.Table:
    lines = pa.array(np.arange(first_line, first_line + table.num_rows, dtype=np.int64))
    return table.append_column("source_line", lines)


# ---------------------------------------------------------------- CSV


def _read_csv(path: Path, *, strict: bool) -> tuple[pa.Table, Callable[[int], int] | None, list[RowProblem]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle, delimiter=delimiter), None)
    if not header:
        raise MalformedInput(RowProblem(str(path), 1, "-", "empty file: no header row"))
    header = [h.strip() for h in header]
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
    except pa.ArrowInvalid as error:
        line, count = _first_wrong_width_record(path, delimiter, len(header))
        raise MalformedInput(
            RowProblem(str(path), line, "-", f"expected {len(header)} fields, found {count}: {error}")
        ) from None
    table = _rename_csv(table, header)
    # Records are counted, not lines: a quoted newline or a skipped record would shift the numbers, so
    # map record numbers to real lines with one scan of the file, only when that can happen.
    record_lines = _record_lines(path, delimiter, len(header), records=None if bad_records else table.num_rows)
    structural: list[RowProblem] = []
    if record_lines is None:
        raw = _numbered(table, first_line=2)
        return raw, None, structural
    lines, widths = record_lines
    good = np.flatnonzero(widths == len(header))
    for index in np.flatnonzero(widths != len(header))[:50]:
        structural.append(
            RowProblem(str(path), int(lines[index]), "-", f"expected {len(header)} fields, found {int(widths[index])}")
        )
    if strict and structural:
        raise MalformedInput(structural[0])
    raw = table.append_column("source_line", pa.array(lines[good][: table.num_rows].astype(np.int64)))
    return raw, None, structural


def _record_lines(path: Path, delimiter: str, width: int, records: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Start line and field count of every record, or None when every record is exactly one line.

    `records` is how many records the parser kept, None when it skipped some (then the lines must be found).
    """
    with open(path, "rb") as handle:
        data = handle.read()
    # As many non-blank lines after the header as records parsed: every record takes at least one
    # line, so none can span two (counted in C, no scan of the rows).
    lines_after_header = data.count(b"\n") - (1 if data.endswith(b"\n") else 0)
    if records is not None and lines_after_header == records and b"\n\n" not in data and b"\n\r\n" not in data:
        return None
    if b'"' not in data and not _has_wrong_widths(data, delimiter, width):
        return None
    lines: list[int] = []
    widths: list[int] = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        start = reader.line_num + 1
        for record in reader:
            lines.append(start)
            widths.append(len(record))
            start = reader.line_num + 1
    return np.array(lines, dtype=np.int64), np.array(widths, dtype=np.int64)


def _has_wrong_widths(data: bytes, delimiter: str, width: int) -> bool:
    rows = [r for r in data.split(b"\n")[1:] if r.strip()]
    sep = delimiter.encode()
    return any(r.count(sep) != width - 1 for r in rows)


def _first_wrong_width_record(path: Path, delimiter: str, width: int) -> tuple[int | None, int]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        start = reader.line_num + 1
        for record in reader:
            if len(record) != width:
                return start, len(record)
            start = reader.line_num + 1
    return None, width


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
    kind = _sniff_json(path)
    if kind == "contract":
        try:
            # Fast path: Arrow's JSON reader; on any bad line fall back to the line-by-line reader
            # so the problem can be named precisely.
            return _numbered(pajson.read_json(path), first_line=1), []
        except pa.ArrowInvalid:
            pass
    rows: list[dict[str, Any]] = []
    problems: list[RowProblem] = []
    for line_number, obj in _json_records(path):
        if isinstance(obj, RowProblem):
            problems.append(RowProblem(label, line_number, obj.field, obj.message))
            if strict:
                raise MalformedInput(problems[-1])
            continue
        for record in _to_contract(obj, kind):
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


def _sniff_json(path: Path) -> str:
    for _, obj in _json_records(path):
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


def _json_records(path: Path) -> Iterator[tuple[int, Any]]:
    with open(path, "rb") as handle:
        data = handle.read()
    stripped = data.lstrip()
    if stripped.startswith(b"["):
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            yield 1, RowProblem(str(path), 1, "-", f"invalid JSON: {error}")
            return
        for index, item in enumerate(items):
            yield index + 1, item
        return
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield number, RowProblem(str(path), number, "-", f"invalid JSON: {error}")
            continue
        if not isinstance(obj, dict):
            yield number, RowProblem(str(path), number, "-", "not a JSON object")
            continue
        yield number, obj


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
