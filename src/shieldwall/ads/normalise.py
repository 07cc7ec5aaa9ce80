"""Small normalisers every importer shares: name keys for merging sponsors, countries, ranges.

Platforms publish money and reach in mutually inconsistent ways ("≤ 100", "100-1k", "1M+",
{lower_bound, upper_bound}, exact integers). Everything becomes a (lower, upper) pair here, with
`None` as an open upper bound, so the archive and its aggregates only ever see ranges.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

LEGAL_SUFFIXES = {
    "inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company", "gmbh", "ag",
    "ev", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "plc", "pty", "ab", "as", "asa", "oy", "lp", "llp",
    "ltda", "eireli", "me",
}  # fmt: skip
_PAID_FOR = re.compile(r"^\s*(paid\s+for\s+by|sponsored\s+by|bezahlt\s+von|finanziert\s+von|payé\s+par)\s*:?\s*", re.I)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


@lru_cache(maxsize=200_000)
def name_key(name: str | None) -> str:
    """The form two spellings of one organisation share: 'Biden for President, Inc.' == 'BIDEN FOR PRESIDENT'."""
    if not name:
        return ""
    text = _PAID_FOR.sub("", name)
    # Dots go before splitting so "S.A." and "SA", "Inc." and "Inc" read the same.
    text = unicodedata.normalize("NFKD", text.casefold().replace("&", " and ").replace(".", ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words = [w for w in _NON_WORD.sub(" ", text).split() if w]
    while words and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def clean_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


COUNTRY_NAMES = {
    "united states": "US", "united states of america": "US", "usa": "US", "united kingdom": "GB",
    "great britain": "GB", "canada": "CA", "ireland": "IE", "norway": "NO", "sweden": "SE", "australia": "AU",
    "new zealand": "NZ", "france": "FR", "germany": "DE", "austria": "AT", "switzerland": "CH",
    "netherlands": "NL", "belgium": "BE", "denmark": "DK", "finland": "FI", "italy": "IT", "spain": "ES",
    "portugal": "PT", "poland": "PL", "brazil": "BR", "mexico": "MX", "india": "IN", "kuwait": "KW",
    "lithuania": "LT", "latvia": "LV", "estonia": "EE", "czech republic": "CZ", "czechia": "CZ",
    "slovakia": "SK", "slovenia": "SI", "croatia": "HR", "hungary": "HU", "romania": "RO", "bulgaria": "BG",
    "greece": "GR", "cyprus": "CY", "malta": "MT", "luxembourg": "LU", "iceland": "IS", "argentina": "AR",
    "chile": "CL", "colombia": "CO", "peru": "PE", "japan": "JP", "south africa": "ZA", "nigeria": "NG",
    "kenya": "KE", "israel": "IL", "turkey": "TR", "ukraine": "UA", "united arab emirates": "AE",
    "saudi arabia": "SA", "singapore": "SG", "philippines": "PH", "indonesia": "ID", "taiwan": "TW",
}  # fmt: skip
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)


def country_code(value: str | None) -> str | None:
    """ISO 3166-1 alpha-2 from a code or an English name; None when unknown."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) == 2 and text.isalpha():
        return "GB" if text.upper() == "UK" else text.upper()
    return COUNTRY_NAMES.get(text.casefold())


_SCALE = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
_AMOUNT = re.compile(r"^\s*([0-9][0-9,._]*)\s*([kmb]?)\s*$", re.I)


# No ad spends or reaches a trillion; beyond that (or not finite, or negative) a figure is unreadable and its
# row is rejected by name, instead of overflowing a BIGINT (or a sum of them) and failing the whole import.
MAX_AMOUNT = 10**12


def _amount(value: float) -> int | None:
    return round(value) if math.isfinite(value) and 0 <= value <= MAX_AMOUNT else None


def parse_amount(text: str) -> int | None:
    match = _AMOUNT.match(text)
    if not match:
        return None
    digits = match.group(1).replace(",", "").replace("_", "")
    try:
        value = float(digits)
    except ValueError:
        return None
    return _amount(value * _SCALE[match.group(2).lower()])


def parse_range(value: object) -> tuple[int | None, int | None] | None:
    """Any published range to (lower, upper); upper None = open-ended. None when unreadable.

    Accepts: 1234 | "1234" | "≤ 100" | "<100" | "100-1k" | "100 - 1,000" | "> 10M" | "1M+" |
    {"lower_bound": "100", "upper_bound": "199"} | [lower, upper].
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        exact = _amount(value) if isinstance(value, float) else (value if 0 <= value <= MAX_AMOUNT else None)
        return None if exact is None else (exact, exact)
    if isinstance(value, dict):
        lower = value.get("lower_bound", value.get("lower"))
        upper = value.get("upper_bound", value.get("upper"))
        lo = parse_amount(str(lower)) if lower not in (None, "") else 0
        hi = parse_amount(str(upper)) if upper not in (None, "") else None
        if lo is None or (upper not in (None, "") and hi is None):
            return None
        return lo, hi
    if isinstance(value, list | tuple) and len(value) == 2:
        return parse_range({"lower": value[0], "upper": value[1]})
    text = str(value).strip().replace("–", "-").replace("—", "-")
    if not text:
        return None
    if text[0] in "≤<":
        hi = parse_amount(text.lstrip("≤<= "))
        return None if hi is None else (0, hi)
    if text[0] in "≥>":
        lo = parse_amount(text.lstrip("≥>= "))
        return None if lo is None else (lo, None)
    if text.endswith("+"):
        lo = parse_amount(text[:-1])
        return None if lo is None else (lo, None)
    if "-" in text:
        left, _, right = text.partition("-")
        lo, hi = parse_amount(left), parse_amount(right)
        return None if lo is None or hi is None else (lo, hi)
    exact = parse_amount(text)
    return None if exact is None else (exact, exact)


def split_list(value: str | None, separator: str = ",") -> list[str]:
    return [part.strip() for part in (value or "").split(separator) if part.strip()]
