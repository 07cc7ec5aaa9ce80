"""Files replaced whole or not at all: written beside their target under a temporary name, flushed to disk,
then renamed over it. A crash, a full disk or a kill mid-write leaves the old file as it was, never half of
a new one (a model file imports read on every run, say)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def replace_file(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write `path` through `write(handle)`; the old file stays until the new one is complete on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
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
