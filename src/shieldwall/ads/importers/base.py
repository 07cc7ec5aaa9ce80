"""What every importer produces."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from shieldwall.ads.normalise import MAX_AMOUNT
from shieldwall.inputfiles import InputError, csv_header, scan_csv

MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class Problem:
    """A row that was not imported (or a warning about one), with where and why."""

    file: str
    line: int
    field: str
    reason: str

    def __post_init__(self) -> None:
        # Reasons quote the cell; a hostile one can be megabytes, repeated in every report of the run.
        if len(self.reason) > MAX_REASON_CHARS:
            object.__setattr__(self, "reason", self.reason[: MAX_REASON_CHARS - 1] + "…")
        if len(self.field) > MAX_REASON_CHARS:
            object.__setattr__(self, "field", self.field[: MAX_REASON_CHARS - 1] + "…")

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


NOT_AN_AMOUNT = f"not a number from 0 to {MAX_AMOUNT:,}"


def integer_column(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(values, bad) where bad marks non-empty text that is not a number from 0 to MAX_AMOUNT (a longer
    one would fail the int64 cast, and with it the whole file, instead of its row)."""
    ok = pc.match_substring_regex(column, r"^[0-9]+(\.[0-9]+)?$")
    bad = pc.and_(pc.is_valid(column), pc.invert(pc.fill_null(ok, False)))
    numbers = pc.cast(pc.if_else(bad, pa.scalar(None, pa.string()), column), pa.float64())
    too_big = pc.fill_null(pc.greater(numbers, MAX_AMOUNT), False)
    values = pc.cast(pc.if_else(too_big, pa.scalar(None, pa.float64()), numbers), pa.int64())
    return values, pc.or_(bad, too_big)


def timestamp_column(column: pa.Array, formats: tuple[str, ...]) -> tuple[pa.Array, pa.Array]:
    """(UTC timestamps, bad) trying each format in turn; bad marks non-empty unparseable text."""
    result = pa.nulls(len(column), pa.timestamp("s"))
    for fmt in formats:
        parsed = pc.strptime(column, format=fmt, unit="s", error_is_null=True)
        result = pc.coalesce(result, parsed)
    bad = pc.and_(pc.is_valid(column), pc.is_null(result))
    return result, bad


# ---------------------------------------------------------------- CSV files (Google, Snap)


@dataclass
class CsvLayout:
    """What one slow pass over a CSV found before anything is imported: the header, the start line of
    each record the fast reader keeps (so rows are reported by their real line, quoted newlines and
    skipped rows included), and the records that are not rows (wrong field count, swallowed lines)."""

    label: str
    header: list[str]
    lines: list[int]
    problems: list[Problem]
    dropped: set[int]  # start lines of records kept by the reader but rejected here
    skipped: int  # records the reader skips (wrong field count)
    taken: int = 0

    def take(self, count: int) -> list[int]:
        """The lines of the next `count` records the reader yields."""
        lines = self.lines[self.taken : self.taken + count]
        self.taken += count
        if len(lines) != count:  # the two readings disagree: lines would be wrong
            raise InputError(self.label, None, "ambiguous quoting: the file reads differently record by record")
        return lines


def csv_layout(source: Path, label: str, *, time_column: str | None) -> CsvLayout:
    """Raises InputError (naming `source`; see `relabelled`) when the file cannot be read at all."""
    header = csv_header(source)
    scan = scan_csv(
        source,
        width=len(header),
        time_column=header.index(time_column) if time_column in header else None,
    )
    dropped = {s.line for s in scan.swallowed}
    problems = [
        Problem(label, line, "(record)", f"expected {len(header)} fields (as in the header), found {width}")
        for line, width in zip(scan.lines, scan.widths, strict=True)
        if width != len(header) and line not in dropped  # a swallowing record's own message says more
    ]
    problems += [Problem(label, s.line, "(record)", s.message()) for s in scan.swallowed]
    problems.sort(key=lambda p: p.line)
    lines = [line for line, width in zip(scan.lines, scan.widths, strict=True) if width == len(header)]
    return CsvLayout(label, header, lines, problems, dropped, skipped=len(scan.lines) - len(lines))


def open_csv(source: Path, header: list[str], block_size: int = 1 << 20) -> Iterator[pa.Table]:
    """Record batches as all-text tables; rows with the wrong field count are skipped (csv_layout has
    reported them). A reader error after the layout pass means the two readings disagree: InputError."""
    reader = pa_csv.open_csv(
        source,
        read_options=pa_csv.ReadOptions(column_names=header, skip_rows=1, block_size=block_size),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda _row: "skip"),
        convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in header}),
    )
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as error:
            raise InputError(source, None, f"unreadable as CSV ({error})") from None
        yield pa.Table.from_batches([batch])


@contextmanager
def relabelled(path: Path) -> Iterator[None]:
    """InputErrors inside name `path` (the file given), never a temporary UTF-8 copy of it."""
    try:
        yield
    except InputError as error:
        raise InputError(path, error.line, error.message) from None
