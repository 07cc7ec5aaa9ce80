"""Google's political-ads transparency report, creative stats CSV
(`google-political-ads-creative-stats.csv`). Spend and impressions come as buckets ("≤ 10k",
"10k-100k", "> 10M") or as Spend_Range_Min/Max_<CUR> columns; both become ranges.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shieldwall.ads.document import make_document
from shieldwall.ads.importers.base import Batch, Problem, csv_layout, open_csv, relabelled
from shieldwall.ads.normalise import clean_text, country_code, parse_range, split_list
from shieldwall.inputfiles import InputError, utf8_file

DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


def read_google(path: Path, batch_size: int) -> Iterator[Batch]:
    with relabelled(path), utf8_file(path) as source:
        layout = csv_layout(source, str(path), time_column="Date_Range_Start")
        if "Ad_ID" not in layout.header:
            raise InputError(path, 1, "not a Google creative stats CSV (no Ad_ID column)")
        if layout.problems:
            yield Batch(source=str(path), problems=layout.problems, rows_read=layout.skipped)
        for table in open_csv(source, layout.header):
            rows = table.to_pylist()
            batch = Batch(source=str(path), rows_read=len(rows))
            for line, row in zip(layout.take(len(rows)), rows, strict=True):
                if line in layout.dropped:  # swallowed other records: reported by csv_layout
                    continue
                try:
                    batch.documents.append(google_document(row))
                    batch.lines.append(line)
                except _RowError as error:
                    batch.problems.append(Problem(str(path), line, error.field, str(error)))
            yield batch


class _RowError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def _iso_date(row: dict[str, Any], key: str, end_of_day: bool = False) -> str | None:
    from datetime import datetime

    value = clean_text(row.get(key))
    if value is None:
        return None
    for fmt in DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if end_of_day and fmt == "%Y-%m-%d":
            parsed = parsed.replace(hour=23, minute=59, second=59)
        return parsed.isoformat() + "Z"
    raise _RowError(key, f"not a date ({value!r})")


def _spend(row: dict[str, Any]) -> tuple[str | None, list[int | None] | None]:
    for currency in ("USD", "EUR", "GBP", "INR", "BRL", "AUD", "NZD", "ILS", "TWD", "ZAR"):
        lo, hi = clean_text(row.get(f"Spend_Range_Min_{currency}")), clean_text(row.get(f"Spend_Range_Max_{currency}"))
        if lo is not None or hi is not None:
            parsed = parse_range({"lower": lo, "upper": hi})
            if parsed is None:
                raise _RowError(f"Spend_Range_Min_{currency}", f"not a range ({lo!r}, {hi!r})")
            return currency, list(parsed)
    bucket = clean_text(row.get("Spend_USD"))
    if bucket is None:
        return None, None
    parsed = parse_range(bucket)
    if parsed is None:
        raise _RowError("Spend_USD", f"not a range ({bucket!r})")
    return "USD", list(parsed)


def google_document(row: dict[str, Any]) -> dict[str, Any]:
    ad_id = clean_text(row.get("Ad_ID"))
    if not ad_id:
        raise _RowError("Ad_ID", "missing ad id")
    start = _iso_date(row, "Date_Range_Start") or _iso_date(row, "First_Served_Timestamp")
    if start is None:
        raise _RowError("Date_Range_Start", "missing")
    impressions_text = clean_text(row.get("Impressions"))
    impressions = parse_range(impressions_text) if impressions_text else None
    if impressions_text and impressions is None:
        raise _RowError("Impressions", f"not a range ({impressions_text!r})")
    currency, spend = _spend(row)
    advertiser = clean_text(row.get("Advertiser_Name"))
    regions = split_list(row.get("Regions"))
    geo = split_list(row.get("Geo_Targeting_Included"))
    share = [1.0, 1.0] if len(geo) == 1 else [0.0, 1.0]
    age = clean_text(row.get("Age_Targeting")) or "all ages"
    gender = (clean_text(row.get("Gender_Targeting")) or "all genders").lower()
    return make_document(
        platform="google",
        platform_ad_id=ad_id,
        page_id=clean_text(row.get("Advertiser_ID")),
        page_name=advertiser,
        funding_entity=advertiser,
        payer_name=advertiser,
        sponsor_ids={"google_advertiser": row["Advertiser_ID"]} if clean_text(row.get("Advertiser_ID")) else {},
        body=clean_text(row.get("Ad_Type")) or "",
        link_url=clean_text(row.get("Ad_URL")),
        country=country_code(regions[0]) if regions and regions[0] != "EU" else None,
        delivery_start=start,
        delivery_stop=_iso_date(row, "Date_Range_End", end_of_day=True),
        currency=currency,
        spend=spend,
        impressions=list(impressions) if impressions else None,
        regions=[{"key": g, "share": share} for g in geo],
        demographics=[{"key": f"{age} {gender}", "share": [1.0, 1.0]}],
        targeting={k: row[k] for k in ("Geo_Targeting_Excluded", "Ad_Campaigns_List") if clean_text(row.get(k))},
        publisher_platforms=["google"],
        extra={"ad_type": clean_text(row.get("Ad_Type")) or ""},
    )
