"""Files replaced whole or not at all: written beside their target under a temporary name, flushed to disk,
then renamed over it. A crash, a full disk or a kill mid-write leaves the old file as it was, never half of
a new one (a model file imports read on every run, say)."""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _beside(path: Path) -> Path:
    """A temporary name in the target's folder (a rename is atomic only within one file system), unique to
    this call: two threads writing the same target never share one."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")


def replace_file(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write `path` through `write(handle)`; the old file stays until the new one is complete on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _beside(path)
    try:
        with temporary.open("wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def copy_file(source: Path, target: Path) -> None:
    """Copy `source` over `target`, all or nothing."""
    with source.open("rb") as original:
        replace_file(target, lambda handle: shutil.copyfileobj(original, handle, 1 << 20))


def create_once(path: Path, content: bytes, mode: int = 0o600) -> bool:
    """Create `path` with `content` unless it exists, readable only by `mode` from the first byte: the file
    appears complete or not at all, and of processes racing to create it exactly one wins (a hard link
    cannot replace a file). Returns whether this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _beside(path)
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        except OSError as error:  # a file system without hard links: complete, though no longer race-proof
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK) or path.exists():
                raise
            os.replace(temporary, path)
        return True
    finally:
        temporary.unlink(missing_ok=True)
