"""Which importer reads a file, decided from the file itself: its first bytes (JSON) or its CSV header.

A journalist has the file a platform let them download, not the name of our importer for it. Every
supported format is recognised by the columns its publisher always writes (compared case-insensitively:
Google's BigQuery copies of the bundle use lower case), never by the file's name.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from shieldwall.inputfiles import InputError, encoding_of, open_binary, require_file

_HEAD = 1 << 16


@dataclass(frozen=True)
class Format:
    name: str  # what --format takes
    title: str  # what a person calls the file
    kind: str  # "ads" (one row per ad, into the archive) or "spend" (reported totals per advertiser)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("meta", "Meta Ad Library API ads (JSON pages, JSON list or JSON Lines)", "ads"),
        Format("google", "Google political ads creative stats CSV (google-political-ads-creative-stats.csv)", "ads"),
        Format("snap", "Snap Political Ads Library CSV", "ads"),
        Format("meta-report", "Meta Ad Library Report CSV (advertiser totals per page)", "spend"),
        Format(
            "google-advertisers",
            "Google political ads advertiser stats CSV (google-political-ads-advertiser-stats.csv)",
            "spend",
        ),
        Format(
            "google-weekly",
            "Google political ads weekly spend CSV (google-political-ads-advertiser-weekly-spend.csv)",
            "spend",
        ),
        Format(
            "google-geo",
            "Google political ads geographic spend CSV (google-political-ads-geo-spend.csv or "
            "google-political-ads-advertiser-geo-spend.csv)",
            "spend",
        ),
    )
}
AD_FORMATS = tuple(name for name, f in FORMATS.items() if f.kind == "ads")
SPEND_FORMATS = tuple(name for name, f in FORMATS.items() if f.kind == "spend")
_SPEND_COLUMN = re.compile(r"^spend_[a-z]{3}$")
_META_AMOUNT = re.compile(r"^amount spent \([a-z]{3}\)$")
SNAP_COLUMNS = {"adid", "currency code", "spend", "impressions", "startdate", "organizationname"}


class UnknownFormat(InputError):
    """A file none of the importers recognises; the message lists what is supported."""


def supported() -> str:
    return "; ".join(f"{f.name}: {f.title}" for f in FORMATS.values())


def format_of_header(header: list[str]) -> str | None:
    """The format a CSV header belongs to, or None."""
    names = {h.strip().lower() for h in header}
    spend_columns = any(_SPEND_COLUMN.match(n) for n in names)
    if {"page id", "page name", "disclaimer"} <= names and any(_META_AMOUNT.match(n) for n in names):
        return "meta-report"
    if names >= SNAP_COLUMNS:
        return "snap"
    if "ad_id" in names and "advertiser_id" in names:
        return "google"
    if "advertiser_id" in names and "week_start_date" in names and spend_columns:
        return "google-weekly"
    if "country_subdivision_primary" in names and spend_columns:
        return "google-geo"
    if "advertiser_id" in names and "total_creatives" in names and spend_columns:
        return "google-advertisers"
    return None


def detect_format(path: Path) -> str:
    """The format of the file at `path`. Raises InputError for a file that cannot be read (empty, binary,
    missing) and UnknownFormat for a readable file no importer recognises."""
    require_file(path)
    encoding, bom = encoding_of(path)  # empty and binary files are refused here, naming the file
    try:
        with open_binary(path) as handle:
            head = handle.read(_HEAD)[bom:]
    except (OSError, EOFError) as error:
        raise InputError(path, None, f"cannot read: {error}") from None
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    if text.lstrip()[:1] in ("{", "["):
        return "meta"
    first = next(csv.reader(io.StringIO(text)), None) or []
    found = format_of_header(first) if len(first) > 1 else None
    if found is None:
        shown = ", ".join(h.strip() for h in first[:8])[:200] or "(no header)"
        raise UnknownFormat(path, 1, f"not a format the ad library reads (header: {shown}). Supported: {supported()}")
    return found
