"""Snap's Political Ads Library CSV (one file per year; exact spend and impressions).

Parsing is columnar (pyarrow): numbers and dates are validated a column at a time and only the rows
that pass become documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from shieldwall.ads.document import make_document
from shieldwall.ads.importers.base import (
    NOT_AN_AMOUNT,
    Batch,
    CsvLayout,
    Problem,
    blank_to_null,
    csv_layout,
    integer_column,
    open_csv,
    relabelled,
    timestamp_column,
)
from shieldwall.ads.normalise import clean_text, country_code, split_list
from shieldwall.inputfiles import InputError, utf8_file

REQUIRED = ("ADID", "Currency Code", "Spend", "Impressions", "StartDate", "OrganizationName")
DATE_FORMATS = ("%Y/%m/%d %H:%M:%SZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")
TARGETING = (
    "Regions (Excluded)", "Electoral Districts (Included)", "Electoral Districts (Excluded)",
    "Radius Targeting (Included)", "Radius Targeting (Excluded)", "Metros (Included)", "Metros (Excluded)",
    "Postal Codes (Included)", "Postal Codes (Excluded)", "Location Categories (Included)",
    "Location Categories (Excluded)", "Interests", "OsType", "Segments", "AdvancedDemographics",
    "Targeting Connection Type", "Targeting Carrier (ISP)",
)  # fmt: skip


def read_snap(path: Path, batch_size: int) -> Iterator[Batch]:
    with relabelled(path), utf8_file(path) as source:
        layout = csv_layout(source, str(path), time_column="StartDate")
        missing = [c for c in REQUIRED if c not in layout.header]
        if missing:
            raise InputError(path, 1, f"not a Snap political ads CSV (missing columns {', '.join(missing)})")
        if layout.problems:
            yield Batch(source=str(path), problems=layout.problems, rows_read=layout.skipped)
        pending: list[pa.Table] = []
        pending_rows = 0
        for table in open_csv(source, layout.header, block_size=8 << 20):
            pending.append(table)
            pending_rows += table.num_rows
            if pending_rows >= batch_size:
                yield _convert(path, pa.concat_tables(pending), layout)
                pending, pending_rows = [], 0
        if pending:
            yield _convert(path, pa.concat_tables(pending), layout)


def _convert(path: Path, table: pa.Table, layout: CsvLayout) -> Batch:
    batch = Batch(source=str(path), rows_read=table.num_rows)
    row_lines = layout.take(table.num_rows)
    cols = {name: blank_to_null(table.column(name).combine_chunks()) for name in table.column_names}
    spend, spend_bad = integer_column(cols["Spend"])
    impressions, impressions_bad = integer_column(cols["Impressions"])
    start, start_bad = timestamp_column(cols["StartDate"], DATE_FORMATS)
    stop, stop_bad = timestamp_column(cols["EndDate"], DATE_FORMATS) if "EndDate" in cols else (None, None)
    currency_bad = pc.invert(pc.fill_null(pc.match_substring_regex(cols["Currency Code"], r"^[A-Za-z]{3}$"), False))
    checks: list[tuple[str, pa.Array, str]] = [
        ("ADID", pc.is_null(cols["ADID"]), "missing ad id"),
        ("Spend", spend_bad, NOT_AN_AMOUNT),
        ("Spend", pc.is_null(cols["Spend"]), "missing"),
        ("Impressions", impressions_bad, NOT_AN_AMOUNT),
        ("Impressions", pc.is_null(cols["Impressions"]), "missing"),
        ("StartDate", start_bad, "not a date (expected like 2020/01/29 15:00:00Z)"),
        ("StartDate", pc.is_null(cols["StartDate"]), "missing"),
        ("Currency Code", currency_bad, "not a 3-letter currency code"),
    ]
    if stop_bad is not None:
        checks.append(("EndDate", stop_bad, "not a date (expected like 2020/01/29 15:00:00Z)"))
    # A record that swallowed others (csv_layout reported it) is not an ad.
    rejected = pa.array([line in layout.dropped for line in row_lines])
    for field_name, mask, reason in checks:
        mask = pc.fill_null(mask, False)
        for index in pc.indices_nonzero(mask).to_pylist():  # only the failing rows, usually none
            value = cols[field_name][index].as_py() if field_name in cols else None
            shown = f" ({value!r})" if value is not None else ""
            batch.problems.append(Problem(str(path), row_lines[index], field_name, reason + shown))
        rejected = pc.or_(rejected, mask)
    keep = pc.invert(rejected)
    kept = {name: pc.filter(col, keep).to_pylist() for name, col in cols.items()}
    kept_start = pc.filter(start, keep).to_pylist()
    kept_stop = pc.filter(stop, keep).to_pylist() if stop is not None else [None] * len(kept_start)
    kept_spend = pc.filter(spend, keep).to_pylist()
    kept_impressions = pc.filter(impressions, keep).to_pylist()
    lines = [row_lines[index] for index in pc.indices_nonzero(keep).to_pylist()]
    for i, line in enumerate(lines):
        batch.documents.append(_document(kept, i, kept_start[i], kept_stop[i], kept_spend[i], kept_impressions[i]))
        batch.lines.append(line)
    return batch


def _document(
    cols: dict[str, list[Any]], i: int, start: datetime, stop: datetime | None, spend: int, impressions: int
) -> dict[str, Any]:
    def get(name: str) -> str | None:
        column = cols.get(name)
        return clean_text(column[i]) if column is not None else None

    country = country_code(get("CountryCode"))
    regions = split_list(get("Regions (Included)"))
    # Snap does not say how spend split between several targeted regions: each gets [0, 1] of it.
    share = [1.0, 1.0] if len(regions) == 1 else [0.0, 1.0]
    region_rows = [{"key": r, "share": share} for r in regions] or (
        [{"key": country, "share": [1.0, 1.0]}] if country else []
    )
    age = get("AgeBracket") or "all ages"
    gender = (get("Gender") or "all genders").lower()
    candidate = get("CandidateBallotInformation")
    creative = get("CreativeProperties")
    payer = get("PayingAdvertiserName")
    return make_document(
        platform="snap",
        platform_ad_id=get("ADID"),
        page_name=get("OrganizationName"),
        funding_entity=payer,
        payer_name=payer,
        body=" ".join(p for p in (candidate, creative) if p),
        link_url=get("CreativeUrl"),
        country=country,
        languages=split_list(get("Language")),
        delivery_start=start.isoformat() + "Z",
        delivery_stop=stop.isoformat() + "Z" if stop else None,
        currency=(get("Currency Code") or "").upper(),
        spend=[spend, spend],
        impressions=[impressions, impressions],
        regions=region_rows,
        demographics=[{"key": f"{age} {gender}", "share": [1.0, 1.0]}],
        targeting={name: get(name) for name in TARGETING if get(name)},
        extra={
            k: v
            for k, v in {
                "billing_address": get("BillingAddress"),
                "candidate_ballot_information": candidate,
                "country_name": get("CountryCode"),
            }.items()
            if v
        },
    )
