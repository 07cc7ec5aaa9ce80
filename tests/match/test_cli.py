"""`shieldwall match ...` through Typer's CliRunner: banks, STIX import, matching files and values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.match.cli import parse_every
from shieldwall.match.files import pdq_of_image
from shieldwall.stix.tlp import TLP
from tests.match.images import encode, near_duplicate, picture
from tests.match.stixdata import indicator, write_bundle

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def run(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    # A wide terminal so Rich tables keep each cell on one line.
    env = {"SHIELDWALL_DATABASE_URL": database_url, "SHIELDWALL_DATA_DIR": str(tmp_path / "var"), "COLUMNS": "250"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


@SQLITE_ONLY
def test_bank_import_and_match_files(database_url: str, tmp_path: Path) -> None:
    pdq, _ = pdq_of_image("p.png", encode(picture(5)))
    bundle = write_bundle(
        tmp_path / "io.json",
        [
            indicator(f"[file:hashes.PDQ = '{pdq}']", TLP.AMBER, name="doctored photo"),
            indicator("[url:value = 'https://fake-news.example/story']", TLP.CLEAR),
            indicator("[url:value MATCHES 'x']", TLP.CLEAR),
        ],
    )
    code, output = run(database_url, tmp_path, "match", "bank", "create", "io", "--label", "known IO")
    assert code == 0, output
    code, output = run(database_url, tmp_path, "match", "bank", "create", "io")
    assert code == 2 and "already exists" in output
    code, output = run(database_url, tmp_path, "match", "bank", "import", "io", str(bundle))
    assert code == 0, output
    assert "2 signals added" in output and "1 unsupported" in output and "only '=' comparisons" in output
    code, output = run(database_url, tmp_path, "match", "bank", "list")
    assert "io" in output and "pdq 1" in output and "url 1" in output and "label:known IO" in output

    (tmp_path / "copy.jpg").write_bytes(encode(near_duplicate(picture(5)), "JPEG"))
    (tmp_path / "other.png").write_bytes(encode(picture(6)))
    (tmp_path / "empty.png").write_bytes(b"")
    code, output = run(
        database_url,
        tmp_path,
        "match",
        *(str(tmp_path / n) for n in ("copy.jpg", "other.png", "empty.png")),
        str(tmp_path / "missing.png"),
        "--url",
        "http://fake-news.example/story/",
        "--bank",
        "io",
        "--json",
        "--actions",
    )
    assert code == 0, output
    lines = [json.loads(chunk) for chunk in _json_objects(output)]
    by_item = {Path(r["item"]).name if r["kind"] == "file" else r["item"]: r for r in lines}
    assert by_item["copy.jpg"]["matches"][0]["signal"]["name"] == "doctored photo"
    assert by_item["other.png"]["matches"] == []
    assert by_item["empty.png"]["error"] == "file is empty"
    assert "cannot read" in by_item["missing.png"]["error"]
    assert by_item["http://fake-news.example/story/"]["matches"][0]["how"] == "exact"
    assert "actions: 2 recorded" in output

    code, output = run(database_url, tmp_path, "match", "run", str(tmp_path / "copy.jpg"), "--no-actions")
    assert code == 0 and "1 of 1 items matched" in output and "actions:" not in output
    code, output = run(database_url, tmp_path, "match", str(tmp_path / "copy.jpg"), "--bank", "nope")
    assert code == 2 and "no bank named 'nope'" in output
    code, output = run(database_url, tmp_path, "match", str(tmp_path / "empty.png"))
    assert code == 1
    hashes = tmp_path / "hashes.txt"
    hashes.write_text(f"# PDQ hashes from a partner\n{pdq}\n\n{'0' * 64}\n")
    code, output = run(
        database_url, tmp_path, "match", "bank", "add", "io", "--from-list", str(hashes), "--type", "pdq"
    )
    assert code == 0 and "1 signals added, 1 already there" not in output and "2 signals added" in output, output
    code, output = run(
        database_url, tmp_path, "match", "bank", "add", "io", "--account", "x:@Someone", "--tlp", "clear"
    )
    assert code == 0 and "1 signals added" in output, output
    code, output = run(database_url, tmp_path, "match", "bank", "add", "io", "--account", "x:@someone")
    assert "0 signals added, 1 already there" in output
    hashes.write_text("abc\n")
    code, output = run(
        database_url, tmp_path, "match", "bank", "add", "io", "--from-list", str(hashes), "--type", "pdq"
    )
    assert code == 2 and "hashes.txt:1" in output and "64 hex digits" in output
    code, output = run(database_url, tmp_path, "match", "--account", "twitter:someone", "--no-actions")
    assert "1 of 1 items matched" in output
    code, output = run(database_url, tmp_path, "match", "bank", "delete", "io", "--yes")
    assert code == 0, output
    code, output = run(database_url, tmp_path, "match", "bank", "list")
    assert "0 banks" in output


def _json_objects(output: str) -> list[str]:
    """Split pretty-printed JSON objects that follow one another (stderr lines in between are skipped)."""
    chunks, depth, current = [], 0, []
    for line in output.splitlines():
        if depth == 0 and not line.startswith("{"):
            continue
        current.append(line)
        depth += line.count("{") - line.count("}")
        if depth == 0:
            chunks.append("\n".join(current))
            current = []
    return chunks


def test_interval_parsing() -> None:
    assert parse_every("15m") == 900 and parse_every("30s") == 30 and parse_every("1d") == 86400
    with pytest.raises(Exception, match="not an interval"):
        parse_every("soon")


@SQLITE_ONLY
def test_output_is_plain_json_lines_without_emoji_and_actions_are_opt_in(database_url: str, tmp_path: Path) -> None:
    assert run(database_url, tmp_path, "match", "bank", "create", "acct")[0] == 0
    code, output = run(database_url, tmp_path, "match", "--account", "fb:id:100044512345", "--bank", "acct")
    assert code == 0, output
    assert "🆔" not in output and "fb:id:100044512345" in output, output
    code, output = run(database_url, tmp_path, "match", "--account", "fb:id:1", "--account", "fb:id:100044512345",
                       "--bank", "acct", "--json")
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert len(lines) == 2 and all(json.loads(line) for line in lines)  # one object per line
    assert "actions:" not in output  # actions run only with --actions
    code, output = run(database_url, tmp_path, "match", "run", "--help")
    assert "platform:id:123" in output and "🆔" not in output


@SQLITE_ONLY
def test_a_file_that_is_not_strict_json_is_refused_by_name(database_url: str, tmp_path: Path) -> None:
    """NaN and lone surrogates are not JSON; the standard library read them, and a lone surrogate then failed
    when the object was written. Both are refused with the file and the place, nothing imported."""
    assert run(database_url, tmp_path, "match", "bank", "create", "strict")[0] == 0
    for name, text in (("nan.json", '{"type": "bundle", "objects": [{"confidence": NaN}]}'),
                       ("surrogate.json", '{"type": "bundle", "objects": [{"name": "\\ud800"}]}')):  # fmt: skip
        path = tmp_path / name
        path.write_text(text)
        code, output = run(database_url, tmp_path, "match", "bank", "import", "strict", str(path))
        flat = " ".join(output.split())
        assert code == 2 and f"{path}: not a JSON STIX document" in flat and "line 1" in flat, flat
