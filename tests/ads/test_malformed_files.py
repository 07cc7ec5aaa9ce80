"""A malformed-file corpus for every ad importer, through the real `shieldwall ads import`: each case's
exit code and the message fragments (file and line), and never a traceback. Then the import-run record:
written before the first row, so a run killed midway shows as unfinished.

Importers: Meta (JSON pages and JSON Lines), Snap CSV, Google CSV. Cases: BOM, Latin-1, UTF-16, binary
garbage, a 60 MB field, truncated, empty, unterminated quote, and each format's own ways to fail.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from shieldwall.ads.importing import import_files
from shieldwall.ads.tables import Ad, ImportRun
from shieldwall.cli import app
from shieldwall.store.db import Database
from shieldwall.store.migrate import upgrade
from tests.ads.conftest import GOOGLE_HEADER, SNAP_HEADER, meta_ad, snap_row, write_meta

HUGE = 60 << 20
RANDOM = os.urandom(4096) + b"\x00"


def snap_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SNAP_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def google_row(ad_id: str, **values: str) -> dict[str, str]:
    row = dict.fromkeys(GOOGLE_HEADER, "")
    row.update({"Ad_ID": ad_id, "Advertiser_ID": "AR1", "Advertiser_Name": "Friends of Bob", "Regions": "US",
                "Date_Range_Start": "2020-10-01", "Impressions": "10k-100k"})  # fmt: skip
    row.update(values)
    return row


def google_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=GOOGLE_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def csv_cases(kind: str) -> list[tuple[str, bytes, int, list[str]]]:
    """(case, bytes, exit code, fragments with {f} for the path). Rows are on lines 2 and 3."""
    if kind == "snap":
        text, row, width, time_field = snap_text, snap_row, len(SNAP_HEADER), "StartDate"
        body, ident, when, number = "CreativeProperties", "ADID", "2020/01/29 15:00:00Z", "Spend"
    else:
        text, row, width, time_field = google_text, google_row, len(GOOGLE_HEADER), "Date_Range_Start"
        body, ident, when, number = "Ad_Campaigns_List", "Ad_ID", "2020-10-01", "Impressions"

    def two(case: str, **third: str) -> str:
        if kind == "snap":
            return text([row(ADID=f"{case}-1"), row(ADID=f"{case}-2", **third)])
        return text([row(f"{case}-1"), row(f"{case}-2", **third)])

    plain = two("bom")
    lines = two("swallow").splitlines(keepends=True)
    # Line 3 opens a quote that only closes at the end of a line looking like a record of its own (4).
    fields = next(csv.reader([lines[2]]))
    fields[SNAP_HEADER.index(body) if kind == "snap" else GOOGLE_HEADER.index(body)] = "OPEN"
    opened = ",".join(f'"{v}' if v == "OPEN" else v for v in fields)
    swallowed = {**dict.fromkeys(SNAP_HEADER if kind == "snap" else GOOGLE_HEADER, "x"), ident: "s-3", time_field: when}
    swallowed_line = ",".join(swallowed.values()) + '"'
    swallowing = (lines[0] + lines[1] + opened + "\n" + swallowed_line + "\n").encode()
    return [
        ("bom", b"\xef\xbb\xbf" + plain.encode(), 0, ["2 new ads", "0 rows rejected"]),
        ("utf16", two("utf16").encode("utf-16"), 0, ["2 new ads"]),
        ("latin1", two("latin1", **{body: "café"}).encode("latin-1"), 2, ["{f}:3: not UTF-8", "0xE9"]),
        ("binary", RANDOM, 2, ["{f}:", "binary data"]),
        ("huge", two("huge", **{body: "x" * HUGE}).encode(), 2, ["{f}:3: field", "over the limit"]),
        ("truncated", two("truncated").encode()[:-40], 0, ["1 new ads", f"{{f}}:3: (record): expected {width} fields"]),
        ("empty", b"", 2, ["{f}: empty file"]),
        ("header_only", text([]).encode(), 2, ["{f}: no records"]),
        ("unclosed_quote", (two("unclosed") + 'z,"never closed\n').encode(), 2, ["{f}:4: a quote", "never closed"]),
        ("swallowing_quote", swallowing, 0, ["1 new ads", "{f}:3: (record): a quote", "closes only on line 4"]),
        ("not_this_format", b"a,b\n1,2\n", 2, ["{f}:1: not a"]),
        # 400 digits: once an int64 cast error that failed the whole file without a line.
        ("huge_number", two("hugenum", **{number: "9" * 400}).encode(), 0, ["1 new ads", f"{{f}}:3: {number}: not a"]),
    ]


def meta_cases() -> list[tuple[str, str, bytes, int, list[str]]]:
    """(case, suffix, bytes, exit code, fragments)."""

    def jsonl(*ads: dict[str, Any]) -> str:
        return "".join(json.dumps(ad) + "\n" for ad in ads)

    page = json.dumps({"data": [meta_ad("p1"), meta_ad("p2")]}, indent=1)
    latin1_ad = json.dumps(meta_ad("l3", page_name="café"), ensure_ascii=False).encode("latin-1")
    latin1_lines = jsonl(meta_ad("l1"), meta_ad("l2")).encode() + latin1_ad + b"\n"
    latin1_page = json.dumps({"data": [meta_ad("x", page_name="café")]}, ensure_ascii=False).encode("latin-1")
    huge = jsonl(meta_ad("h1"), meta_ad("h2", ad_creative_bodies=["x" * HUGE])).encode()
    truncated = jsonl(meta_ad("t1"), meta_ad("t2")).encode()[:-30]
    bad_line_2 = (json.dumps(meta_ad("b1")) + '\n{"id": "b2", oops\n' + json.dumps(meta_ad("b3")) + "\n").encode()
    unclosed = (json.dumps(meta_ad("q1")) + '\n{"id": "q2\n').encode()
    huge_number = jsonl(meta_ad("n1"), meta_ad("n2", spend={"lower_bound": "1", "upper_bound": "9" * 40})).encode()
    return [
        ("bom", ".json", b"\xef\xbb\xbf" + page.encode(), 0, ["2 new ads"]),
        ("utf16", ".jsonl", jsonl(meta_ad("u1"), meta_ad("u2")).encode("utf-16"), 0, ["2 new ads"]),
        ("latin1_line", ".jsonl", latin1_lines, 0, ["2 new ads", "1 rows rejected", "{f}:3: (record): not UTF-8"]),
        ("latin1_page", ".json", latin1_page, 2, ["{f}:1: not UTF-8"]),
        ("binary", ".json", RANDOM, 2, ["{f}:", "binary data"]),
        ("huge", ".jsonl", huge, 0, ["1 new ads", "{f}:2: ad_creative_bodies: over"]),
        ("truncated_page", ".json", page.encode()[:-60], 2, ["{f}:", "invalid JSON"]),
        ("truncated_lines", ".jsonl", truncated, 0, ["1 new ads", "{f}:2: (record): not JSON"]),
        ("empty", ".json", b"", 2, ["{f}: empty file"]),
        ("empty_page", ".json", b'{"data": []}', 2, ["{f}: no records"]),
        ("bad_line_2", ".jsonl", bad_line_2, 0, ["2 new ads", "1 rows rejected", "{f}:2: (record): not JSON"]),
        ("unclosed_quote", ".jsonl", unclosed, 0, ["1 new ads", "{f}:2: (record): not JSON"]),
        ("all_garbage", ".jsonl", b"nope\nnope\n", 2, ["{f}:1: not JSON"]),
        ("huge_number", ".jsonl", huge_number, 0, ["1 new ads", "{f}:2: spend: not a range"]),
    ]


CASES = (
    [(f"snap-{c}", "snap", ".csv", *rest) for c, *rest in csv_cases("snap")]
    + [(f"google-{c}", "google", ".csv", *rest) for c, *rest in csv_cases("google")]
    + [(f"meta-{c}", "meta", suffix, *rest) for c, suffix, *rest in meta_cases()]
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    base = tmp_path_factory.mktemp("ads_corpus")
    url = f"sqlite:///{base / 'ads.db'}"
    upgrade(url)
    yield url, base / "data"


@pytest.mark.parametrize(
    ("name", "source_format", "suffix", "content", "exit_code", "fragments"), CASES, ids=[c[0] for c in CASES]
)
def test_malformed_file(
    archive: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    source_format: str,
    suffix: str,
    content: bytes,
    exit_code: int,
    fragments: list[str],
) -> None:
    url, data_dir = archive
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", url)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(data_dir))
    path = tmp_path / f"{name}{suffix}"
    path.write_bytes(content)
    result = CliRunner().invoke(app, ["ads", "import", str(path), "--format", source_format])
    output = " ".join(result.output.split())  # Rich wraps long lines
    assert result.exit_code == exit_code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    for fragment in fragments:
        assert fragment.format(f=path) in output, (fragment, output)


# ---------------------------------------------------------------- the import run's record


def runs(database: Database) -> list[ImportRun]:
    with database.session() as session:
        return list(session.scalars(select(ImportRun).order_by(ImportRun.id)))


def test_a_run_is_recorded_before_it_starts_and_marked_at_the_end(database: Database, tmp_path: Path) -> None:
    good = write_meta(tmp_path / "good.json", [meta_ad("1"), meta_ad("2")])
    result = import_files(database, [good], "meta")
    (run,) = runs(database)
    assert run.id == result.run_id and run.status == "finished" and run.finished_at is not None
    assert (run.rows_read, run.created, run.error) == (2, 2, None)
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [')
    with pytest.raises(ValueError, match=r"broken\.json:1: "):
        import_files(database, [write_meta(tmp_path / "more.json", [meta_ad("3")]), broken], "meta")
    failed = runs(database)[-1]
    assert failed.status == "failed" and failed.finished_at is not None
    assert failed.created == 1 and "broken.json:1" in (failed.error or "")  # what was committed is counted


KILL_AFTER_FIRST_BATCH = """
import os, signal, sys
from pathlib import Path
from shieldwall.ads.importing import import_files
from shieldwall.store.db import Database

def progress(_file, _rows):
    os.kill(os.getpid(), signal.SIGKILL)  # as `kill -9` during an import

import_files(Database(sys.argv[1]), [Path(sys.argv[2])], "meta", progress=progress, batch_size=2)
"""


def test_a_run_killed_midway_shows_as_unfinished(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps(meta_ad(f"k{i}")) + "\n" for i in range(6)))
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_BATCH, database_url, str(path)], check=False)
    assert killed.returncode == -9
    database = Database(database_url)
    try:
        (run,) = runs(database)
        assert run.status == "running" and run.finished_at is None and run.files == [str(path)]
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(Ad)) == 2  # the first batch stays
    finally:
        database.dispose()
