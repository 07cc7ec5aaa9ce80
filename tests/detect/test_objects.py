"""CooRTweet's input shapes load unchanged (object shares, or one id column per object type) and feed
the signal of each object type; the two real data sets in shared/data load with no conversion."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.detect.loaders import load_posts
from shieldwall.detect.pipeline import run_duckdb
from shieldwall.detect.settings import DetectSettings

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "coordination"
START = 1_629_590_000


def _shares(group: list[str], episodes: int, kind: str | None) -> list[dict[str, object]]:
    """A group sharing a fresh object every day within 20 s, among 300 background shares."""
    rows: list[dict[str, object]] = []
    for episode in range(episodes):
        for index, account in enumerate(group):
            rows.append(
                {
                    "object_id": f"obj{episode}",
                    "account_id": account,
                    "content_id": f"{account}-{episode}",
                    "timestamp_share": float(START + episode * 86_400 + 5 * index),
                    **({"object_type": kind} if kind else {}),
                }
            )
    for i in range(300):
        rows.append(
            {
                "object_id": f"bg{i % 37}",
                "account_id": f"bg_account{i % 41}",
                "content_id": f"bg-{i}",
                "timestamp_share": float(START + 1_777 * i),
                **({"object_type": kind} if kind else {}),
            }
        )
    return rows


def test_coortweet_csv_loads_and_its_objects_co_act(tmp_path: Path) -> None:
    path = tmp_path / "shares.csv"
    rows = _shares(["a1", "a2", "a3", "a4"], 6, None)
    header = "object_id,account_id,content_id,timestamp_share\n"
    path.write_text(
        header + "".join(f"{r['object_id']},{r['account_id']},{r['content_id']},{r['timestamp_share']}\n" for r in rows)
    )
    posts, report = load_posts([path])
    assert report.rows_skipped == 0 and posts.num_rows == len(rows)
    first = posts.to_pylist()[0]
    assert first["post_id"] == "a1-0" and first["objects"] == ["object:obj0"]
    assert first["created_at"].timestamp() == START
    result = run_duckdb(posts, DetectSettings(signals=("co_object",), windows={"co_object": 30}))
    assert result.clusters.column("accounts").to_pylist() == [["a1", "a2", "a3", "a4"]]
    assert result.clusters.column("signals").to_pylist() == [["co_object"]]


def test_object_types_feed_their_signals_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.Table.from_pylist(_shares(["b1", "b2", "b3"], 6, "hashtag")), path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["detect", str(path), "-o", str(out), "--signals", "co_hashtag", "--window", "co_hashtag=30"]
    )
    assert result.exit_code == 0, result.output
    clusters = pq.read_table(out / "clusters.parquet").to_pylist()
    assert [c["accounts"] for c in clusters] == [["b1", "b2", "b3"]] and clusters[0]["signals"] == ["co_hashtag"]
    evidence = pq.read_table(out / "evidence.parquet").to_pylist()
    assert {e["label"] for e in evidence} == {f"hashtag:obj{e}" for e in range(6)}


def test_one_id_column_per_type_merges_rows_of_a_post(tmp_path: Path) -> None:
    table = pa.table(
        {
            "account_id": ["fb_1", "fb_1", "tw_2", "tw_3"],
            "post_id": [10, 10, 11, 12],
            "url_id": pa.array([23678.0, None, None, 5.0]),  # pandas stores nullable ids as floats
            "hashtag_id": pa.array([None, 7, None, None], pa.int64()),
            "domain_id": pa.array([3498, None, None, None], pa.int64()),
            "phash_id": pa.array([None, None, 9280, None], pa.int64()),
            "timestamp": [1629590436.0, 1629590436.0, 1629590500.5, None],
        }
    )
    path = tmp_path / "german_like.parquet"
    pq.write_table(table, path)
    posts, report = load_posts([path])
    rows = posts.to_pylist()
    assert [(r["post_id"], r["account_id"], sorted(r["objects"])) for r in rows] == [
        ("10", "fb_1", ["domain:3498", "hashtag:7", "url:23678"]),
        ("11", "tw_2", ["phash:9280"]),
    ]
    assert [(p.line, p.field) for p in report.problems] == [(4, "timestamp")]  # the row without a time, its column


@pytest.mark.skipif(not (REAL / "german_elections.parquet").exists(), reason="shared data not present")
def test_the_real_data_sets_load_unchanged() -> None:
    german, report = load_posts([REAL / "german_elections.parquet"])
    assert report.rows_skipped == 0 and german.num_rows == 194_326  # 218,971 object rows, merged per post
    types = {entry.split(":")[0] for objects in german.column("objects").to_pylist() for entry in objects}
    assert types == {"url", "hashtag", "domain", "phash"}
    russian, report = load_posts([REAL / "russian_coord_tweets.parquet"])
    assert report.rows_skipped == 0 and russian.num_rows == 35_085
    assert {o[0].split(":")[0] for o in russian.column("objects").to_pylist()} == {"object"}


def test_a_bad_row_in_coortweet_shape_names_the_files_own_column(tmp_path: Path) -> None:
    path = tmp_path / "shares.csv"
    path.write_text(
        "object_id,account_id,content_id,timestamp_share\nx,a,c1,1700000000\nx,b,c2,soon\nx,,c3,1700000001\n"
    )
    posts, report = load_posts([path])
    assert posts.num_rows == 1 and report.rows_skipped == 2
    found = {(p.line, p.field, p.message.split(":")[0]) for p in report.problems}
    assert found == {(3, "timestamp_share", "not ISO 8601 or Unix seconds"), (4, "account_id", "missing")}
