"""The files people hand us (posts for detect, ad-library exports): encodings, byte-order marks and
binary data are sorted out before a parser sees the bytes, and every refusal names the file and line.

Policy, the same for every reader:
- UTF-8, with or without the BOM Excel writes, is read as is;
- UTF-16 and UTF-32 with a BOM (Excel's "Unicode text", PowerShell) are decoded to UTF-8;
- anything else that is not UTF-8 (Latin-1, Windows-1252) is reported, not guessed: a wrong guess would
  silently change the text that detection compares and archives keep;
- binary data (a NUL byte, no UTF-16/32 BOM) and empty files are reported.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

# Python's csv module refuses fields over 128 KiB with an error; our own limit (below) says why instead.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

# Longest value a CSV field may hold. A post or an ad is at most tens of KiB; a field of megabytes is a
# quote left open (the rest of the file swallowed into one field) or not a posts/ads file at all.
MAX_FIELD_CHARS = 1 << 20

# BOMs, longest first (the UTF-32 LE BOM starts with the UTF-16 LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEAD_BYTES = 1 << 16


class InputError(ValueError):
    """A file that cannot be read as given: `FILE:LINE: what is wrong` (or `FILE: ...` without a line)."""

    def __init__(self, file: str | Path, line: int | None, message: str) -> None:
        self.file, self.line, self.message = str(file), line, message
        super().__init__(f"{self.file}:{line}: {message}" if line is not None else f"{self.file}: {message}")


def require_file(path: Path) -> None:
    """InputError unless `path` is a regular file: 'no such file', or 'not a file' for a folder or device."""
    if not path.is_file():
        raise InputError(path, None, "not a file" if path.exists() else "no such file")


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped when it ends in .gz."""
    if path.suffix.lower() == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def encoding_of(path: Path) -> tuple[str, int]:
    """(encoding, BOM length) of a text file; InputError when it is empty or binary."""
    try:
        with open_binary(path) as handle:
            head = handle.read(_HEAD_BYTES)
    except (OSError, EOFError) as error:  # a truncated or fake .gz, an unreadable file
        raise InputError(path, None, f"cannot read: {_reason(error)}") from None
    if not head.strip():
        raise InputError(path, None, "empty file: no records")
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    nul = head.find(b"\x00")
    if nul >= 0:
        raise InputError(
            path,
            head.count(b"\n", 0, nul) + 1,
            "binary data (a NUL byte), not a text file; UTF-16 needs a byte-order mark, or save it as UTF-8",
        )
    return "utf-8", 0


def utf8_bytes(path: Path) -> bytes:
    """The whole file as UTF-8 bytes without a BOM (decoded from UTF-16/32). Invalid UTF-8 is left for the
    parser to meet line by line (see `not_utf8`), so one bad line does not cost the rest of the file."""
    encoding, bom = encoding_of(path)
    try:
        with open_binary(path) as handle:
            data = handle.read()
    except (OSError, EOFError) as error:  # a truncated .gz
        raise InputError(path, None, f"cannot read: {_reason(error)}") from None
    if encoding == "utf-8":
        return data[bom:]
    try:
        return data[bom:].decode(encoding).encode("utf-8")
    except UnicodeDecodeError as error:
        line = data[bom : bom + error.start].decode(encoding, "ignore").count("\n") + 1
        raise InputError(path, line, f"not valid {encoding.upper()} text ({error.reason})") from None


@contextmanager
def utf8_file(path: Path) -> Iterator[Path]:
    """A path to the file's text in UTF-8: the file itself when it already is plain UTF-8 (its BOM is left
    for the reader), else a temporary UTF-8 copy with the same lines (decoded, gunzipped)."""
    encoding, bom = encoding_of(path)
    if encoding == "utf-8" and path.suffix.lower() != ".gz":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="shieldwall-utf8-") as tmp:
        target = Path(tmp) / path.name.removesuffix(".gz").removesuffix(".GZ")
        try:
            _copy_as_utf8(path, target, encoding, bom)
        except (OSError, EOFError) as error:  # a truncated .gz
            raise InputError(path, None, f"cannot read: {_reason(error)}") from None
        yield target


def _copy_as_utf8(path: Path, target: Path, encoding: str, bom: int) -> None:
    if encoding == "utf-8":  # only gunzipped: invalid bytes are the readers' to report by line
        with open_binary(path) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 22)
        return
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    lines = 0
    with open_binary(path) as source, target.open("w", encoding="utf-8", newline="") as out:
        source.read(bom)
        while chunk := source.read(1 << 22):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as error:
                done = error.object[: error.start].decode(encoding, "ignore").count("\n")
                raise InputError(path, lines + done + 1, f"not valid {encoding.upper()} text") from None
            lines += text.count("\n")
            out.write(text)
        try:
            out.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError:
            raise InputError(path, lines + 1, f"truncated {encoding.upper()} text (a stray byte at the end)") from None


def not_utf8(data: bytes) -> tuple[int, str] | None:
    """(line, message) for the first byte that is not UTF-8, or None when all of `data` is."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        start = error.start
        line_start = data.rfind(b"\n", 0, start) + 1
        column = len(data[line_start:start].decode("utf-8", "replace")) + 1
        return data.count(b"\n", 0, start) + 1, not_utf8_message(data[start], column)
    return None


def json_error(data: bytes, position: int, message: str) -> tuple[int, str]:
    """(line, message) for a JSON document that does not parse: invalid UTF-8 is named as such."""
    found = not_utf8(data)
    if found is not None:
        return found
    return data.count(b"\n", 0, position) + 1, f"invalid JSON: {message}"


def not_utf8_message(byte: int, column: int | None = None) -> str:
    where = f" at column {column}" if column is not None else ""
    return (
        f"not UTF-8 text (byte 0x{byte:02X}{where}); the file looks like Latin-1 or Windows-1252, which is "
        "reported rather than guessed: save it as UTF-8"
    )


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


# ---------------------------------------------------------------- CSV records


@dataclass
class Swallowed:
    """A record whose quoted field runs over lines that look like records of their own."""

    line: int  # where the record starts
    first: int  # the first swallowed line
    last: int  # the line where the quote finally closes

    def message(self) -> str:
        span = f"line {self.first}" if self.first == self.last else f"lines {self.first}-{self.last}"
        return (
            f"a quote opened in this record closes only on line {self.last}, so {span} (which looks like a "
            "record of its own) became part of one field: is a closing quote missing?"
        )


@dataclass
class CsvScan:
    """Start line and field count of every record after the header, and the records that swallowed others."""

    lines: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    swallowed: list[Swallowed] = field(default_factory=list)


_TIME_LIKE = re.compile(r"\s*(\d{4}[-/]\d\d[-/]\d\d|\d{9,11}(\.\d+)?\s*$|[A-Z][a-z]{2},? [A-Z0-9][a-z0-9]{1,2} )")


def scan_csv(
    path: Path,
    *,
    delimiter: str = ",",
    width: int | None = None,
    time_column: int | None = None,
    max_field: int = MAX_FIELD_CHARS,
    encoding: str = "utf-8-sig",
) -> CsvScan:
    """Walk a UTF-8 CSV with Python's csv module (exact line numbers, quoted newlines included).

    Raises InputError for what makes the file unreadable: invalid UTF-8, a field over `max_field`
    characters, a quote never closed before the end of the file. With `width`, records that swallowed
    lines looking like records of their own (at least `width` fields, a time at `time_column`) are listed.
    """
    scan = CsvScan()
    current: list[str] = []  # the physical lines of the record being read
    last: list[str] = []  # those of the last record read

    def physical_lines(handle: Iterable[str]) -> Iterator[str]:
        for text in handle:
            current.append(text)
            yield text

    line = 1
    try:
        with open(path, encoding=encoding, newline="") as handle:
            reader = csv.reader(physical_lines(handle), delimiter=delimiter)
            next(reader, None)  # the header
            current.clear()
            line = reader.line_num + 1
            for record in reader:
                for index, value in enumerate(record):
                    if len(value) > max_field:
                        if _inside_quotes(current, delimiter):
                            raise InputError(path, line, NEVER_CLOSED)
                        raise InputError(path, line, _oversize(index, len(value), max_field))
                if record:  # blank lines are no records (as for the fast readers)
                    if len(current) > 1 and width is not None:
                        found = _swallowed(current, line, delimiter, width, time_column)
                        if found is not None:
                            scan.swallowed.append(found)
                    scan.lines.append(line)
                    scan.widths.append(len(record))
                    last = list(current)
                line = reader.line_num + 1
                current.clear()
    except UnicodeDecodeError as error:
        raise InputError(path, *_first_not_utf8(path, error)) from None
    if scan.lines and _inside_quotes(last, delimiter):
        raise InputError(path, scan.lines[-1], NEVER_CLOSED)
    return scan


NEVER_CLOSED = "a quote opened in this record is never closed: the rest of the file would be one field"


def _oversize(index: int, length: int, limit: int) -> str:
    return (
        f"field {index + 1} holds {length:,} characters, over the limit of {limit:,} for one value "
        "(a quote left open earlier, or not a text table?)"
    )


def _swallowed(lines: list[str], start: int, delimiter: str, width: int, time_column: int | None) -> Swallowed | None:
    found: list[int] = []
    for offset, text in enumerate(lines[1:], start=1):
        fields = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), [])
        if len(fields) < width:
            continue
        if time_column is not None and not _TIME_LIKE.match(fields[time_column]):
            continue
        if not fields[0].strip():
            continue
        found.append(start + offset)
    if not found:
        return None
    return Swallowed(start, found[0], start + len(lines) - 1)


def _inside_quotes(lines: list[str], delimiter: str) -> bool:
    """Whether these lines (one record) end inside an open quote, which the lenient readers accept
    silently at the end of a file."""
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def _first_not_utf8(path: Path, error: UnicodeDecodeError) -> tuple[int, str]:
    # A text layer's offsets are within its current chunk: find the real first bad byte in the file.
    with open(path, "rb") as handle:
        found = not_utf8(handle.read())
    return found if found is not None else (1, not_utf8_message(error.object[error.start]))


def csv_header(path: Path, delimiter: str = ",") -> list[str]:
    """The header row's names, stripped (a UTF-8 BOM is dropped); InputError when there is none."""
    try:
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter), None)
    except csv.Error as error:
        raise InputError(path, 1, f"unreadable header row ({error})") from None
    if not header or not any(h.strip() for h in header):
        raise InputError(path, 1, "empty file: no header row")
    for name in header:
        bad = next((c for c in name if "\udc80" <= c <= "\udcff"), None)
        if bad is not None:
            raise InputError(path, 1, not_utf8_message(ord(bad) - 0xDC00))
    return [h.strip() for h in header]


def diagnose_csv(path: Path, *, delimiter: str = ",", width: int, max_field: int = MAX_FIELD_CHARS) -> InputError:
    """Why a CSV that a fast reader refused is unreadable, as `FILE:LINE: ...` (always returns an error)."""
    with open(path, "rb") as handle:
        data = handle.read()
    found = not_utf8(data)
    if found is not None:
        return InputError(path, *found)
    try:
        scan = scan_csv(path, delimiter=delimiter, max_field=max_field)
    except InputError as error:
        return error
    for line, count in zip(scan.lines, scan.widths, strict=True):
        if count != width:
            return InputError(path, line, f"expected {width} fields (as in the header), found {count}")
    return InputError(path, None, "unreadable as CSV")
