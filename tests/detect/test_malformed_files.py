"""A malformed-file corpus for every detect reader, through the real `shieldwall detect`: each case's exit
code and the message fragments (file and line) a user sees, and never a traceback.

Readers: contract CSV, JSON Lines, Parquet, Twitter API v1.1 JSON Lines and v2 pages, Twitter's IO archive
CSV, coordination-network-toolkit CSV. Cases: BOM, Latin-1, UTF-16, binary garbage, a 60 MB field,
truncated, empty, unterminated quote (and a few more where the format has its own ways to fail).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from shieldwall.cli import app

HUGE = 60 << 20  # characters in the "huge field" cases
T1, T2, T3 = "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", "2024-05-01T10:09:00Z"
RANDOM = os.urandom(4096) + b"\x00"  # binary garbage (with a NUL, as real binary data has)


@dataclass(frozen=True)
class Csv:
    """A CSV dialect: its header and how one post becomes a row."""

    name: str
    header: str
    row: Callable[[str, str, str, str], str]  # (post id, account, time, text) -> line


CSV_FORMATS = [
    Csv("contract", "post_id,account_id,created_at,text", lambda p, a, t, x: f"{p},{a},{t},{x}"),
    Csv(
        "io_archive",
        "tweetid,userid,tweet_time,tweet_text,urls,hashtags",
        lambda p, a, t, x: f"{p},{a},{t.replace('T', ' ').rstrip('Z')},{x},[],[]",
    ),
    Csv(
        "toolkit",
        "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls",
        lambda p, a, t, x: f"{p},{a},{a},,,{x},{1714557600 + int(p)},",
    ),
]


def csv_text(fmt: Csv, third: str | None = None) -> str:
    """Header (line 1) and posts on lines 2-3; `third` replaces line 3."""
    rows = [fmt.row("1", "alice", T1, "hello"), third if third is not None else fmt.row("2", "bob", T2, "world")]
    return "\n".join([fmt.header, *rows]) + "\n"


def csv_cases(fmt: Csv) -> list[tuple[str, bytes, int, list[str]]]:
    """(case, file bytes, exit code, fragments with {f} for the file name)."""
    plain = csv_text(fmt)
    width = fmt.header.count(",") + 1
    open_quote = fmt.row("2", "bob", T2, '"never closed') + "\n" + fmt.row("3", "carol", T3, "swallowed")
    swallowing = fmt.row("2", "bob", T2, '"opened') + "\n" + fmt.row("3", "carol", T3, 'swallowed"')
    return [
        ("bom", b"\xef\xbb\xbf" + plain.encode(), 0, ["2 posts"]),
        ("utf16", plain.encode("utf-16"), 0, ["2 posts"]),
        ("latin1", csv_text(fmt, fmt.row("2", "bob", T2, "café")).encode("latin-1"), 2, ["{f}:3: not UTF-8", "0xE9"]),
        ("binary", RANDOM, 2, ["{f}:", "binary data"]),
        ("huge", csv_text(fmt, fmt.row("2", "bob", T2, "x" * HUGE)).encode(), 2, ["{f}:3: field", "over the limit"]),
        ("truncated", plain.encode()[:-12], 0, ["{f}:3: expected", "1 malformed rows skipped", "1 posts"]),
        ("empty", b"", 2, ["{f}: empty file"]),
        ("header_only", (fmt.header + "\n").encode(), 2, ["{f}: no records"]),
        ("unclosed_quote", csv_text(fmt, open_quote).encode(), 2, ["{f}:3: a quote opened", "never closed"]),
        ("swallowing_quote", csv_text(fmt, swallowing).encode(), 0, ["{f}:3: a quote opened", "closes only on line 4"]),
        ("wrong_width", csv_text(fmt, "9,zed").encode(), 0, [f"{{f}}:3: expected {width} fields, found 2"]),
    ]


def jsonl(records: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


CONTRACT = [
    {"post_id": "1", "account_id": "alice", "created_at": T1, "text": "hello"},
    {"post_id": "2", "account_id": "bob", "created_at": T2, "text": "world"},
]


def v1(post_id: str, text: str) -> dict[str, object]:
    return {"id_str": post_id, "created_at": "Wed May 01 10:00:00 +0000 2024", "text": text,
            "user": {"id_str": "u" + post_id, "screen_name": "s" + post_id}}  # fmt: skip


def json_lines_cases(good: list[dict[str, object]], make: Callable[[str], dict[str, object]]) -> list:
    """JSON Lines: each line stands alone, so a bad line is skipped and named; the rest is read."""
    plain = jsonl(good)
    latin1 = plain.encode() + json.dumps(make("café")).encode().replace(b"caf\\u00e9", b"caf\xe9") + b"\n"
    return [
        ("bom", b"\xef\xbb\xbf" + plain.encode(), 0, ["2 posts"]),
        ("utf16", plain.encode("utf-16"), 0, ["2 posts"]),
        ("latin1", latin1, 0, ["{f}:3: not UTF-8", "1 malformed rows skipped"]),
        ("binary", RANDOM, 2, ["{f}:", "binary data"]),
        ("huge", (plain + jsonl([make("x" * HUGE)])).encode(), 0, ["{f}:3:", "over the limit"]),
        ("truncated", plain.encode()[:-15], 0, ["{f}:2: invalid JSON", "1 posts"]),
        ("empty", b"", 2, ["{f}: empty file"]),
        ("unclosed_quote", (plain + '{"post_id": "3, "x": 1}\n').encode(), 0, ["{f}:3: invalid JSON"]),
        ("all_garbage", b"not json\nnor this\n", 2, ["{f}:1: invalid JSON", "none of the file's 2 records"]),
    ]


def v2_page(text: str) -> dict[str, object]:
    return {"data": [{"id": "200", "author_id": "8", "created_at": T1, "text": text},
                     {"id": "201", "author_id": "9", "created_at": T2, "text": "two"}]}  # fmt: skip


def v2_cases() -> list:
    """A Twitter v2 page is one JSON document (pretty printed here): broken means unreadable, by line."""
    page = json.dumps(v2_page("one"), indent=2)
    return [
        ("bom", b"\xef\xbb\xbf" + page.encode(), 0, ["2 posts"]),
        ("utf16", page.encode("utf-16"), 0, ["2 posts"]),
        (
            "latin1",
            json.dumps(v2_page("café"), indent=2, ensure_ascii=False).encode("latin-1"),
            2,
            ["{f}:", "not UTF-8"],
        ),
        ("binary", RANDOM, 2, ["{f}:", "binary data"]),
        ("huge", json.dumps(v2_page("x" * HUGE)).encode(), 0, ["{f}:1: field 'text'", "over the limit", "1 posts"]),
        ("truncated", page.encode()[:-30], 2, ["{f}:", "invalid JSON"]),
        ("empty", b"", 2, ["{f}: empty file"]),
        ("unclosed_quote", page.replace('"one"', '"one').encode(), 2, ["{f}:", "invalid JSON"]),
    ]


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def parquet_cases() -> list:
    good = parquet_bytes(pa.table({"post_id": ["1", "2"], "account_id": ["a", "b"], "created_at": [T1, T2]}))
    empty_table = parquet_bytes(pa.table({"post_id": pa.array([], pa.string()), "account_id": pa.array([], pa.string()),
                                          "created_at": pa.array([], pa.string())}))  # fmt: skip
    no_ids = parquet_bytes(pa.table({"user": ["a"], "when": [T1]}))
    return [
        ("valid", good, 0, ["2 posts"]),
        ("binary", RANDOM, 2, ["{f}: not a readable Parquet file"]),
        ("truncated", good[: len(good) // 2], 2, ["{f}: not a readable Parquet file"]),
        ("empty", b"", 2, ["{f}: not a readable Parquet file"]),
        ("no_rows", empty_table, 2, ["{f}: no records"]),
        ("no_columns", no_ids, 2, ["{f}: no post_id, account_id, created_at column"]),
    ]


CASES = (
    [(f"{fmt.name}-{case}", ".csv", *rest) for fmt in CSV_FORMATS for case, *rest in csv_cases(fmt)]
    + [
        (f"jsonl-{case}", ".jsonl", *rest)
        for case, *rest in json_lines_cases(CONTRACT, lambda t: {**CONTRACT[0], "post_id": "3", "text": t})
    ]
    + [
        (f"twitter_v1-{case}", ".jsonl", *rest)
        for case, *rest in json_lines_cases([v1("1", "a"), v1("2", "b")], lambda t: v1("3", t))
    ]
    + [(f"twitter_v2-{case}", ".json", *rest) for case, *rest in v2_cases()]
    + [(f"parquet-{case}", ".parquet", *rest) for case, *rest in parquet_cases()]
)


@pytest.mark.parametrize(("name", "suffix", "content", "exit_code", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_malformed_file(
    tmp_path: Path, name: str, suffix: str, content: bytes, exit_code: int, fragments: list[str]
) -> None:
    path = tmp_path / f"{name}{suffix}"
    path.write_bytes(content)
    result = CliRunner().invoke(app, ["detect", str(path), "-o", str(tmp_path / "out")])
    output = " ".join(result.output.split())  # Rich wraps long lines
    assert result.exit_code == exit_code, output
    # A message, never an exception escaping the command (CliRunner keeps it in result.exception).
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    for fragment in fragments:
        assert fragment.format(f=path) in output, (fragment, output)
