"""What every importer produces."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Problem:
    """A row that was not imported (or a warning about one), with where and why."""

    file: str
    line: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.reason}"


@dataclass
class Batch:
    """Normalised ad documents (see shieldwall.ads.document) and the rows that failed."""

    source: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows_read: int = 0


def blank_to_null(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Strings trimmed, empty strings as nulls, so 'missing' has one representation."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def integer_column(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(values, bad) where bad marks non-empty text that is not a non-negative number."""
    ok = pc.match_substring_regex(column, r"^[0-9]+(\.[0-9]+)?$")
    bad = pc.and_(pc.is_valid(column), pc.invert(pc.fill_null(ok, False)))
    values = pc.cast(pc.cast(pc.if_else(bad, pa.scalar(None, pa.string()), column), pa.float64()), pa.int64())
    return values, bad


def timestamp_column(column: pa.Array, formats: tuple[str, ...]) -> tuple[pa.Array, pa.Array]:
    """(UTC timestamps, bad) trying each format in turn; bad marks non-empty unparseable text."""
    result = pa.nulls(len(column), pa.timestamp("s"))
    for fmt in formats:
        parsed = pc.strptime(column, format=fmt, unit="s", error_is_null=True)
        result = pc.coalesce(result, parsed)
    bad = pc.and_(pc.is_valid(column), pc.is_null(result))
    return result, bad
