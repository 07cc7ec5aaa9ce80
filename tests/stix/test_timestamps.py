"""The canonical-timestamp fast path agrees with parsing for every form it accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shieldwall.stix import timestamps


def parsed(text: str) -> str:
    return timestamps.parse(text).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@given(
    moment=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)),
    digits=st.integers(min_value=0, max_value=6),
    offset_minutes=st.sampled_from([None, 0, 120, -330]),
)
def test_canonical_matches_parsing(moment: datetime, digits: int, offset_minutes: int | None) -> None:
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}"[:digits]
    text = base + (f".{fraction}" if digits else "")
    if offset_minutes is None:
        text += "Z"
    else:
        sign = "+" if offset_minutes >= 0 else "-"
        text += f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    assert timestamps.canonical(text) == parsed(text)


def test_canonical_sorts_like_time() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    texts = [timestamps.format_time(start + timedelta(microseconds=n * 999)) for n in range(50)]
    assert sorted(timestamps.canonical(t) for t in texts) == [timestamps.canonical(t) for t in texts]
