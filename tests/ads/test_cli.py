"""`shieldwall ads import` and `ads export` through the real command line."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from shieldwall.cli import app
from tests.ads.conftest import snap_row, write_snap


def test_import_reports_rejected_rows_then_export(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", database_url)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(tmp_path / "data"))
    path = write_snap(
        tmp_path / "snap.csv", [snap_row(ADID="a"), snap_row(ADID="b", EndDate="soon"), snap_row(ADID="c")]
    )
    runner = CliRunner()
    result = runner.invoke(app, ["ads", "import", str(path), "--format", "snap"])
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())  # Rich wraps long lines
    assert "2 new ads" in words and "1 rows rejected" in words
    assert "snap.csv:3: EndDate: not a date" in result.output.replace("\n", "")
    out = tmp_path / "ads.parquet"
    result = runner.invoke(app, ["ads", "export", "-o", str(out), "--country", "US"])
    assert result.exit_code == 0, result.output
    assert sorted(pq.read_table(out).column("platform_ad_id").to_pylist()) == ["a", "c"]
    bad = runner.invoke(app, ["ads", "import", str(path), "--format", "tiktok"])
    assert bad.exit_code != 0


def test_a_folder_to_import_and_an_export_nowhere_are_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "folder").mkdir()
    runner = CliRunner()
    for given in ([], ["--format", "snap"]):
        result = runner.invoke(app, ["ads", "import", str(tmp_path / "folder"), *given])
        assert result.exit_code == 2 and "folder: not a file" in " ".join(result.output.split())
    nowhere = tmp_path / "missing" / "ads.csv"
    (tmp_path / "missing").write_text("a file where the folder should be")
    result = runner.invoke(app, ["ads", "export", "-o", str(nowhere)])
    assert result.exit_code == 2 and "cannot write" in " ".join(result.output.split())
    assert (tmp_path / "missing").read_text() == "a file where the folder should be"
