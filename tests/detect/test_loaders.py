"""Every input format lands in the posts contract; bad rows are named by file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shieldwall.detect.errors import MalformedInput
from shieldwall.detect.loaders import load_posts

HEADER = "post_id,account_id,created_at,text,urls,hashtags,media_pdq,reshare_of,campaign_note\n"
PDQ = "f" * 64


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_in_the_posts_contract_with_lists_times_and_passthrough(tmp_path: Path) -> None:
    path = write(
        tmp_path / "posts.csv",
        HEADER
        + f'1,alice,2024-05-01T10:00:00Z,"hello, world",https://a.example/x http://b.example,#Vote #EU,{PDQ},,n1\n'
        + '2,bob,1714557600,"two\nlines","[""https://c.example""]",,,1,n2\n',
    )
    posts, report = load_posts([path])
    assert report.rows_read == 2 and report.rows_skipped == 0
    rows = posts.to_pylist()
    assert rows[0]["urls"] == ["https://a.example/x", "http://b.example"]
    assert rows[0]["hashtags"] == ["vote", "eu"]
    assert rows[0]["media_pdq"] == [PDQ]
    assert rows[0]["campaign_note"] == "n1"  # unknown columns pass through
    assert rows[1]["urls"] == ["https://c.example"]
    assert rows[1]["reshare_of"] == "1" and rows[0]["reshare_of"] is None
    assert rows[1]["created_at"].isoformat() == "2024-05-01T10:00:00+00:00"  # Unix seconds
    assert rows[1]["text"] == "two\nlines"


def test_malformed_rows_are_reported_with_file_line_and_field_and_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv",
        HEADER
        + "1,alice,2024-05-01T10:00:00Z,ok,,,,,\n"
        + '2,bob,2024-05-01,"quoted\nnewline",,,,,\n'  # lines 3-4
        + "3,,2024-05-01,missing account,,,,,\n"  # line 5
        + "4,carol,yesterday,bad time,,,,,\n"  # line 6
        + "5,dave,2024-05-01,bad hash,,,zz,,\n"  # line 7
        + "6,erin,2024-05-01,too,many,fields,,,,,\n"  # line 8
        + "7,frank,2024-05-02,fine,,,,,\n",
    )
    posts, report = load_posts([path])
    assert posts.column("post_id").to_pylist() == ["1", "2", "7"]
    assert report.rows_skipped == 4
    found = {(p.line, p.field) for p in report.problems}
    assert found == {(5, "account_id"), (6, "created_at"), (7, "media_pdq"), (8, "-")}
    assert all(p.file == str(path) for p in report.problems)
    assert "yesterday" in next(str(p) for p in report.problems if p.field == "created_at")


def test_strict_stops_at_the_first_bad_row(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", HEADER + "1,alice,2024-05-01,ok,,,,,\n2,bob,not-a-time,x,,,,,\n")
    with pytest.raises(MalformedInput) as caught:
        load_posts([path], strict=True)
    assert caught.value.problem.line == 3 and caught.value.problem.field == "created_at"
    assert str(path) in str(caught.value)


def test_jsonl_and_parquet(tmp_path: Path) -> None:
    lines = [
        {"post_id": "1", "account_id": "a", "created_at": "2024-05-01T10:00:00Z", "urls": ["https://x.example"]},
        {"post_id": "2", "account_id": "b", "created_at": 1714557600, "hashtags": ["#One", "#Two"]},
    ]
    jsonl = write(tmp_path / "p.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    posts, _ = load_posts([jsonl])
    assert posts.column("urls").to_pylist()[0] == ["https://x.example"]
    assert posts.column("hashtags").to_pylist()[1] == ["one", "two"]
    broken = write(tmp_path / "broken.jsonl", json.dumps(lines[0]) + "\n{not json\n" + json.dumps(lines[1]) + "\n")
    posts, report = load_posts([broken])
    assert posts.num_rows == 2 and report.problems[0].line == 2
    table = pa.table({"post_id": ["9"], "account_id": ["z"], "created_at": ["2024-05-01 12:00"], "extra": [1]})
    pq.write_table(table, tmp_path / "p.parquet")
    posts, _ = load_posts([tmp_path / "p.parquet"])
    assert posts.column("account_id").to_pylist() == ["z"] and posts.column("extra").to_pylist() == ["1"]


def test_twitter_v1_and_v2_json(tmp_path: Path) -> None:
    v1 = {
        "id_str": "100",
        "created_at": "Wed Oct 10 20:19:24 +0000 2018",
        "user": {"id_str": "7", "screen_name": "x"},
        "text": "RT hi",
        "lang": "en",
        "retweeted_status": {
            "id_str": "99",
            "text": "hi",
            "entities": {"urls": [{"expanded_url": "https://news.example/a"}], "hashtags": [{"text": "Vote"}]},
        },
        "entities": {"urls": [], "hashtags": []},
    }
    v2_page = {
        "data": [
            {
                "id": "200",
                "author_id": "8",
                "created_at": "2021-01-01T00:00:00.000Z",
                "text": "yo",
                "referenced_tweets": [{"type": "replied_to", "id": "150"}],
                "entities": {
                    "urls": [{"expanded_url": "https://e.example/", "unwound_url": "https://u.example/"}],
                    "hashtags": [{"tag": "X"}],
                },
            }
        ]
    }
    posts, _ = load_posts([write(tmp_path / "v1.jsonl", json.dumps(v1) + "\n")])
    row = posts.to_pylist()[0]
    assert (row["post_id"], row["account_id"], row["reshare_of"]) == ("100", "7", "99")
    assert row["urls"] == ["https://news.example/a"] and row["hashtags"] == ["vote"]
    assert row["created_at"].isoformat() == "2018-10-10T20:19:24+00:00"
    posts, _ = load_posts([write(tmp_path / "v2.json", json.dumps(v2_page))])
    row = posts.to_pylist()[0]
    assert (row["post_id"], row["account_id"], row["reply_to"]) == ("200", "8", "150")
    assert row["urls"] == ["https://u.example/"]


def test_io_archive_and_toolkit_csv(tmp_path: Path) -> None:
    io_archive = write(
        tmp_path / "io.csv",
        "tweetid,userid,user_display_name,tweet_time,tweet_text,urls,retweet_tweetid,in_reply_to_tweetid,hashtags\n"
        '11,u1,Name,2019-03-01 10:00,text one,"[https://a.example/1, https://b.example/2]",,,"[Tag1, tag2]"\n',
    )
    posts, _ = load_posts([io_archive])
    row = posts.to_pylist()[0]
    assert (row["post_id"], row["account_id"], row["platform"]) == ("11", "u1", "twitter")
    assert row["urls"] == ["https://a.example/1", "https://b.example/2"] and row["hashtags"] == ["tag1", "tag2"]
    toolkit = write(
        tmp_path / "toolkit.csv",
        "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
        "m1,u9,name,,,some text,1600000000,https://x.example/a https://y.example/b\n",
    )
    posts, _ = load_posts([toolkit])
    row = posts.to_pylist()[0]
    assert (row["post_id"], row["account_id"], row["text"]) == ("m1", "u9", "some text")
    assert row["urls"] == ["https://x.example/a", "https://y.example/b"] and row["username"] == "name"
