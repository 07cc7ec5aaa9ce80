"""Finished runs kept under the data dir (`<data_dir>/detect/<name>/`), for the web page and the demo.

A run belongs to the organisation that made it (`org` in run.json, a slug; none recorded: the hub
operator's organisation) and its TLP marking decides who may read its page and files, as the exchange's
rule would for an object that organisation published with that marking and shared with nobody.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from shieldwall.exchange.directory import HUB_SLUG
from shieldwall.exchange.policy import Principal
from shieldwall.stix.tlp import TLP

# The files a run publishes on the web; nothing else under its folder is ever served.
OUTPUT_FILES = {
    "report.html": "text/html; charset=utf-8",
    "bundle.json": "application/json",
    "clusters.csv": "text/csv; charset=utf-8",
    "edges.csv": "text/csv; charset=utf-8",
    "evidence.csv": "text/csv; charset=utf-8",
}
CHUNK = 1 << 16


@dataclass(frozen=True)
class StoredRun:
    name: str
    path: Path
    info: dict[str, Any]

    @property
    def tlp(self) -> TLP:
        # A marking that cannot be read is treated as the strictest one.
        try:
            return TLP.parse(str(self.info.get("tlp") or "TLP:RED"))
        except ValueError:
            return TLP.RED

    @property
    def owner(self) -> str:
        """The owner organisation's slug."""
        return str(self.info.get("org") or HUB_SLUG)


def readable_by(run: StoredRun, principal: Principal) -> bool:
    """The exchange's TLP rule for a run: CLEAR anyone; GREEN members of member organisations (and the
    owner's own members); AMBER and stricter only the owner organisation (a run has no audience)."""
    if run.tlp == TLP.CLEAR:
        return True
    if not principal.is_authenticated or principal.org_id is None:
        return False
    own = principal.org_slug == run.owner
    if run.tlp == TLP.GREEN:
        return principal.org_is_member or own
    return own


def runs_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "detect"


def list_runs(data_dir: Path) -> list[StoredRun]:
    """Runs with a run.json, newest first. Symlinked folders and hidden ones (a run being written keeps
    its files in `.partial`) are not runs."""
    base = runs_dir(data_dir)
    if not base.is_dir():
        return []
    found = []
    for folder in base.iterdir():
        if folder.name.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        run_json = folder / "run.json"
        if run_json.is_symlink():  # its marking and owner must be the folder's own
            continue
        try:
            info = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(info, dict):
            found.append(StoredRun(folder.name, folder, info))
    return sorted(found, key=lambda r: (str(r.info.get("started", "")), r.name), reverse=True)


def visible_runs(data_dir: Path, principal: Principal) -> list[StoredRun]:
    return [r for r in list_runs(data_dir) if readable_by(r, principal)]


def open_output(run: StoredRun, filename: str) -> tuple[BinaryIO, int] | None:
    """One of the run's output files, opened for reading, with its size; None unless it is a regular file
    directly inside the run's own folder (no symlink at either step: the folder and the file are opened
    relative to their parent without following links, so nothing outside the runs can be reached)."""
    if filename not in OUTPUT_FILES or "/" in run.name or run.name in ("", ".", ".."):
        return None
    no_follow = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    folder_fd = file_fd = -1
    try:
        parent_fd = os.open(run.path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            folder_fd = os.open(run.name, no_follow | getattr(os, "O_DIRECTORY", 0), dir_fd=parent_fd)
        finally:
            os.close(parent_fd)
        file_fd = os.open(filename, no_follow, dir_fd=folder_fd)
        info = os.fstat(file_fd)
    except OSError:
        if file_fd >= 0:
            os.close(file_fd)
        return None
    finally:
        if folder_fd >= 0:
            os.close(folder_fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(file_fd)
        return None
    return os.fdopen(file_fd, "rb"), info.st_size


def chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The file in pieces, closed at the end (or when the client goes away)."""
    with handle:
        while piece := handle.read(CHUNK):
            yield piece
