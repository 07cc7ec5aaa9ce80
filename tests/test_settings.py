"""An unusable setting or database stops any command with one line that names it, exit 2, and nothing touched: never a
traceback. Run through the real command line, in a fresh process each time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def shieldwall(command: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command line in a fresh process, its data directory tmp_path unless `env` names another."""
    return subprocess.run(
        [sys.executable, "-c", "from shieldwall.cli import main; main()", *command],
        env={**os.environ, "SHIELDWALL_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


CASES = {
    "empty secret": ({}, "", "is empty; delete it"),
    "not a number": ({"SHIELDWALL_RATE_LIMIT_PER_MINUTE": "lots"}, "kept", "not a whole number ('lots')"),
    "data dir is a file": ({"SHIELDWALL_DATA_DIR": "{tmp}/secret.key"}, "kept", "data directory: cannot use"),
    "config missing": ({"SHIELDWALL_CONFIG": "{tmp}/none.toml"}, "kept", "SHIELDWALL_CONFIG: cannot read"),
    "config not TOML": ({"SHIELDWALL_CONFIG": "{tmp}/bad.toml"}, "kept", "bad.toml is not TOML"),
    "unknown setting": ({"SHIELDWALL_CONFIG": "{tmp}/unknown.toml"}, "kept", "unknown settings: bogus (known:"),
}


@pytest.mark.parametrize("command", [["demo", "--if-empty"], ["serve", "--port", "0"]])
@pytest.mark.parametrize("case", list(CASES))
def test_an_unusable_setting_is_one_line_and_exit_2(tmp_path: Path, case: str, command: list[str]) -> None:
    extra, secret, said = CASES[case]
    (tmp_path / "secret.key").write_text(secret)
    (tmp_path / "bad.toml").write_text("x =\n")
    (tmp_path / "unknown.toml").write_text("bogus = 1\n")
    done = shieldwall(command, tmp_path, **{name: value.format(tmp=tmp_path) for name, value in extra.items()})
    assert done.returncode == 2, done.stderr
    said_whole = " ".join(done.stderr.split())
    assert said in said_whole and said_whole.startswith("error:") and "Traceback" not in done.stderr
    assert not (tmp_path / "shieldwall.db").exists()  # refused before touching anything


@pytest.mark.parametrize("command", [["demo", "--if-empty"], ["threatmodel", "elections"], ["match", "banks"]])
def test_a_database_that_cannot_be_reached_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    unreachable = "postgresql://someone:hunter2@127.0.0.1:1/hub"  # nothing listens on port 1
    done = shieldwall(command, tmp_path, SHIELDWALL_DATABASE_URL=unreachable)
    assert done.returncode == 2, done.stderr
    said = " ".join(done.stderr.split())
    assert said.startswith("error: cannot use the database at postgresql://***@127.0.0.1:1/hub")
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "99999"],  # was an OverflowError from bind()
        ["serve", "--workers", "0"],
        ["match", "run", "x", "--bank", "b", "--max-bytes", "-1"],
        ["match", "bank", "sync", "b", "--page-size", "0"],
        ["ads", "train", "x.json", "--held-out", "5"],
        ["ads", "import", "x.csv", "--show-problems", "-1"],
    ],
)
def test_numbers_out_of_range_are_refused_by_name(tmp_path: Path, command: list[str]) -> None:
    done = shieldwall(command, tmp_path)
    option = [part for part in command if part.startswith("--")][-1]  # the one out of range
    assert done.returncode == 2 and f"Invalid value for '{option}'" in done.stderr, done.stderr
