"""Files replaced or created all or nothing (shieldwall.atomic), and the installation secret made once
however many processes start together."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest

from shieldwall.atomic import copy_file, create_once, replace_file
from shieldwall.config import SettingsError, load_settings


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    replace_file(path, lambda handle: handle.write(b"old"))

    def failing(handle: object) -> None:
        handle.write(b"half")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        replace_file(path, failing)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["model.bin"]
    copy_file(path, tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == b"old"


def test_create_once_keeps_the_first_and_is_private_from_the_first_byte(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    assert create_once(path, b"first") and not create_once(path, b"second")
    assert path.read_bytes() == b"first" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]


def _secret(data_dir: str) -> str:
    return load_settings(data_dir=data_dir).secret_key


def test_workers_starting_together_share_one_secret(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        secrets = pool.map(_secret, [data_dir] * 12)
    assert len(set(secrets)) == 1 and len(secrets[0]) >= 40
    (tmp_path / "data" / "secret.key").write_text("")
    with pytest.raises(SettingsError, match="is empty; delete it"):
        load_settings(data_dir=data_dir)


def test_without_hard_links_the_secret_is_still_made_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "secret.key"
    assert create_once(path, b"made") and path.read_bytes() == b"made"
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]

