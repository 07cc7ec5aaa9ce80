"""STIX timestamps: one canonical, sortable text form (microseconds, UTC, 'Z') for storage and comparison."""

from __future__ import annotations

import re
from datetime import UTC, datetime

EPOCH_VERSION = "1970-01-01T00:00:00.000000Z"


def parse(text: str) -> datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# The form nearly every STIX producer writes: UTC with 'Z' and 0-6 fraction digits. It needs no parsing to
# become canonical (the validator has already checked that the date and time exist).
_UTC_Z = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z")


def canonical(text: str) -> str:
    match = _UTC_Z.fullmatch(text)
    if match is not None:
        return f"{match.group(1)}.{(match.group(2) or '').ljust(6, '0')}Z"
    return parse(text).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def format_micros(micros: int) -> str:
    """A STIX/TAXII timestamp; milliseconds when that is exact, microseconds otherwise."""
    return format_time(from_micros(micros))


def format_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment.microsecond % 1000 == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def display(canonical_text: str) -> str:
    return format_time(parse(canonical_text))


def version_of(obj: dict[str, object]) -> str:
    """The TAXII version of an object: modified, else created, else the epoch (SCOs have neither)."""
    for key in ("modified", "created"):
        value = obj.get(key)
        if isinstance(value, str):
            return canonical(value)
    return EPOCH_VERSION
