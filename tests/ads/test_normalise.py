"""Every published range format becomes (lower, upper); names that differ only in form share a key."""

from __future__ import annotations

import pytest

from shieldwall.ads.normalise import country_code, name_key, parse_range


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234, (1234, 1234)),
        ("1234", (1234, 1234)),
        ("≤ 100", (0, 100)),
        ("< 10k", (0, 10_000)),
        ("100-1k", (100, 1_000)),
        ("10k - 100k", (10_000, 100_000)),
        ("1,000 – 4,999", (1_000, 4_999)),
        ("> 10M", (10_000_000, None)),
        ("1M+", (1_000_000, None)),
        ({"lower_bound": "100", "upper_bound": "199"}, (100, 199)),
        ({"lower_bound": "1000000"}, (1_000_000, None)),
        ("lots", None),
        ("", None),
    ],
)
def test_ranges(value: object, expected: tuple[int, int | None] | None) -> None:
    assert parse_range(value) == expected


def test_name_variants_share_a_key() -> None:
    assert name_key("Biden for President, Inc.") == name_key("BIDEN FOR PRESIDENT")
    assert name_key("Paid for by The Climate Fund LLC") == name_key("climate fund")
    assert name_key("Société Générale S.A.") == name_key("Societe Generale")
    assert name_key("Biden for President") != name_key("Trump for President")


def test_country_codes() -> None:
    assert country_code("united states") == "US"
    assert country_code("uk") == "GB"
    assert country_code("de") == "DE"
    assert country_code("Atlantis") is None
