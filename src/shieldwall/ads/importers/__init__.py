"""Importers turn a platform's published file into normalised ad documents, batch by batch.

Each yields `Batch`es: the documents that parsed, plus a `Problem` (file, line, field, reason) for
every row that did not, so nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from shieldwall.ads.importers.base import Batch, Problem

FORMATS = ("meta", "google", "snap")


def read_batches(path: Path, source_format: str, batch_size: int = 20_000) -> Iterator[Batch]:
    if source_format == "snap":
        from shieldwall.ads.importers.snap import read_snap

        return read_snap(path, batch_size)
    if source_format == "google":
        from shieldwall.ads.importers.google import read_google

        return read_google(path, batch_size)
    if source_format == "meta":
        from shieldwall.ads.importers.meta import read_meta

        return read_meta(path, batch_size)
    raise ValueError(f"unknown format {source_format!r}; use one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "Batch", "Problem", "read_batches"]
