"""What the spend-report importers share: the figure a row becomes, the options a file may need (its
country and period, when the file does not say), and reading a CSV row by row with its real line numbers.

A figure is a spend total a platform reports for an advertiser, a page or a region over a period, as a
range (an exact amount is a range of width zero; Meta's `≤100` is [0, 100]) in one currency.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from shieldwall.ads.importers.base import Batch, Problem, csv_layout, open_csv, relabelled
from shieldwall.ads.normalise import clean_text, parse_range
from shieldwall.inputfiles import MAX_FIELD_CHARS, InputError, utf8_file


class RowError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


@dataclass(frozen=True)
class ReportOptions:
    """What a report file may not say about itself (Meta's report names its country and period only in
    the file name Meta gives it): given by the person importing it, or read from that name."""

    country: str | None = None
    period_start: date | None = None
    period_end: date | None = None


_COUNTRY_IN_NAME = re.compile(r"(?:^|[-_. ])([A-Z]{2})(?=$|[-_. ])")
# Meta's own name: FacebookAdLibraryReport_2024-07-23_US_last_30_days_advertisers.csv (also _yesterday_,
# _last_7_days_, _last_90_days_, _lifelong_).
_META_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})_([A-Z]{2})_(yesterday|last_(\d+)_days|lifelong)", re.I)


def options_from_name(path: Path, given: ReportOptions) -> ReportOptions:
    """The options given, completed from the file's name where it says more (never overriding them)."""
    country, start, end = given.country, given.period_start, given.period_end
    meta = _META_NAME.search(path.name)
    if meta is not None:
        country = country or meta.group(2).upper()
        if start is None and end is None:
            try:
                day = date.fromisoformat(meta.group(1))
            except ValueError:
                day = None
            # The period ends on the date in the name; "yesterday" is the day before it.
            if day is not None and meta.group(3).lower() == "yesterday":
                start = end = day - timedelta(days=1)
            elif day is not None and meta.group(4):
                start, end = day - timedelta(days=int(meta.group(4)) - 1), day
    if country is None:
        found = _COUNTRY_IN_NAME.findall(path.stem)
        country = found[-1] if len(set(found)) == 1 else None
    return ReportOptions(country, start, end)


def parse_period(text: str) -> tuple[date, date]:
    """`2024-06-24..2024-07-23` (both days included), or one day."""
    left, _, right = text.partition("..")
    try:
        start = date.fromisoformat(left.strip())
        end = date.fromisoformat(right.strip()) if right.strip() else start
    except ValueError:
        raise ValueError(f"period {text!r}: expected START..END as YYYY-MM-DD..YYYY-MM-DD") from None
    if end < start:
        raise ValueError(f"period {text!r}: ends before it starts")
    return start, end


def figure(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "account_id": None,
        "name": None,
        "disclaimer": None,
        "no_disclaimer": False,
        "country": None,
        "region": None,
        "district": None,
        "period_start": None,
        "period_end": None,
        "currency": None,
        "spend": [0, 0],
        "ads_count": None,
        "elections": None,
        "extra": {},
    }
    unknown = set(values) - set(base) - {"platform", "report", "scope"}
    if unknown:
        raise KeyError(f"unknown figure fields: {sorted(unknown)}")
    return base | values


def amount(row: dict[str, Any], column: str) -> tuple[int, int | None] | None:
    """A spend cell as a range; None when empty; RowError when it is not an amount or a bucket."""
    text = clean_text(row.get(column))
    if text is None:
        return None
    parsed = parse_range(text)
    if parsed is None or parsed[0] is None:
        raise RowError(column, f"not an amount or a range ({text!r})")
    return parsed[0], parsed[1]


def count(row: dict[str, Any], column: str | None) -> int | None:
    text = clean_text(row.get(column)) if column else None
    if text is None:
        return None
    digits = text.replace(",", "")
    if not digits.isdigit() or len(digits) > 9:
        raise RowError(str(column), f"not a whole number ({text!r})")
    return int(digits)


def text_of(row: dict[str, Any], column: str | None, limit: int) -> str | None:
    value = clean_text(row.get(column)) if column else None
    return value[:limit] if value else None


def columns_by_name(header: list[str]) -> dict[str, str]:
    """Lower-case name -> the header's own spelling (Google's BigQuery copies use lower case)."""
    return {h.strip().lower(): h for h in header}


RowReader = Callable[[dict[str, Any]], list[dict[str, Any]]]


def read_csv_figures(
    path: Path, batch_size: int, prepare: Callable[[list[str]], RowReader], label: str
) -> Iterator[Batch]:
    """Batches of figures from a CSV: `prepare(header)` checks the header (InputError naming what is
    missing) and returns the function turning one row into its figures (RowError for a bad row)."""
    with relabelled(path), utf8_file(path) as source:
        layout = csv_layout(source, str(path), time_column=None)
        convert = prepare(layout.header)
        if layout.problems:
            yield Batch(source=str(path), problems=layout.problems, rows_read=layout.skipped)
        batch = Batch(source=str(path))
        for table in open_csv(source, layout.header):
            rows = table.to_pylist()
            for line, row in zip(layout.take(len(rows)), rows, strict=True):
                batch.rows_read += 1
                if line in layout.dropped:  # swallowed other records: reported by csv_layout
                    continue
                oversize = next((k for k, v in row.items() if isinstance(v, str) and len(v) > MAX_FIELD_CHARS), None)
                if oversize is not None:
                    batch.problems.append(Problem(str(path), line, oversize, f"over {MAX_FIELD_CHARS:,} characters"))
                    continue
                try:
                    found = convert(row)
                except RowError as error:
                    batch.problems.append(Problem(str(path), line, error.field, str(error)))
                    continue
                batch.documents += found
                batch.lines += [line] * len(found)
                if batch.rows_read >= batch_size:
                    yield batch
                    batch = Batch(source=str(path))
        if batch.rows_read or batch.problems:
            yield batch


def missing_columns(path: Path, label: str, header: list[str], required: tuple[str, ...]) -> None:
    names = columns_by_name(header)
    missing = [c for c in required if c.lower() not in names]
    if missing:
        raise InputError(path, 1, f"not a {label} (missing columns {', '.join(missing)})")
