"""Google's political-ads transparency bundle beyond the creative stats: the advertiser stats file
(`Advertiser_ID, Advertiser_Name, Public_IDs_List, Regions, Elections, Total_Creatives, Spend_USD,
Spend_EUR, ...`), the weekly spend file (`Advertiser_ID, Advertiser_Name, [Election_Cycle,]
Week_Start_Date, Spend_USD, ...`) and the geographic spend files (`[Advertiser_ID, Advertiser_Name,]
Country, Country_Subdivision_Primary, [Country_Subdivision_Secondary,] Spend_USD, ...`).

Every `Spend_<CUR>` column is kept as its own figure in its own currency: Google adds currencies over
time (20 by now), and nothing here converts one into another. A zero in every currency is kept once, as
zero in the first, so an advertiser that spent nothing still shows. Each file is a snapshot of all of
Google's reporting: importing a newer one replaces the older one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from shieldwall.ads.importers.base import Batch
from shieldwall.ads.importers.figures import (
    RowError,
    RowReader,
    amount,
    columns_by_name,
    count,
    figure,
    missing_columns,
    read_csv_figures,
    text_of,
)
from shieldwall.ads.normalise import clean_text, country_code, split_list
from shieldwall.inputfiles import InputError

_SPEND = re.compile(r"^spend_([a-z]{3})$", re.I)
LABELS = {
    "google-advertisers": "Google political ads advertiser stats CSV",
    "google-weekly": "Google political ads weekly spend CSV",
    "google-geo": "Google political ads geographic spend CSV",
}
REQUIRED = {
    "google-advertisers": ("Advertiser_ID", "Advertiser_Name"),
    "google-weekly": ("Advertiser_ID", "Week_Start_Date"),
    "google-geo": ("Country", "Country_Subdivision_Primary"),
}


def spend_columns(header: list[str]) -> list[tuple[str, str]]:
    """(column, currency) for every Spend_<CUR> column, in the file's order."""
    return [(h, m.group(1).upper()) for h in header if (m := _SPEND.match(h.strip()))]


def spends(row: dict[str, Any], columns: list[tuple[str, str]]) -> list[tuple[str, list[int | None]]]:
    found: list[tuple[str, list[int | None]]] = []
    zero: str | None = None
    for column, currency in columns:
        parsed = amount(row, column)
        if parsed is None:
            continue
        if parsed == (0, 0):
            zero = zero or currency
            continue
        found.append((currency, list(parsed)))
    if not found and zero is not None:
        found.append((zero, [0, 0]))
    if not found:
        raise RowError(columns[0][0], "no spend in any Spend_<currency> column")
    return found


def _week(row: dict[str, Any], column: str) -> tuple[date, date]:
    text = clean_text(row.get(column))
    if text is None:
        raise RowError(column, "missing")
    try:
        start = date.fromisoformat(text[:10])
    except ValueError:
        raise RowError(column, f"not a date ({text!r}, expected YYYY-MM-DD)") from None
    return start, start + timedelta(days=6)


def read_google_spend(path: Path, batch_size: int, report: str) -> Iterator[Batch]:
    label = LABELS[report]

    def prepare(header: list[str]) -> RowReader:
        missing_columns(path, label, header, REQUIRED[report])
        names = columns_by_name(header)
        money = spend_columns(header)
        if not money:
            raise InputError(path, 1, f"not a {label} (no Spend_<currency> column)")
        advertiser, name = names.get("advertiser_id"), names.get("advertiser_name")
        # The geographic files come per region and per advertiser and region: two snapshots, not one.
        scope = report if report != "google-geo" else f"{report}|{'advertisers' if advertiser else 'regions'}"

        def convert(row: dict[str, Any]) -> list[dict[str, Any]]:
            account = text_of(row, advertiser, 128)
            if advertiser is not None and account is None:
                raise RowError(advertiser, "missing advertiser id")
            common: dict[str, Any] = {
                "platform": "google",
                "report": report,
                "scope": scope,
                "account_id": account,
                "name": text_of(row, name, 300),
            }
            if report == "google-advertisers":
                regions = split_list(clean_text(row.get(names.get("regions", ""))))
                only = regions[0] if len(regions) == 1 else None
                common |= {
                    "country": country_code(only) if only and only != "EU" else None,
                    "ads_count": count(row, names.get("total_creatives")),
                    "elections": text_of(row, names.get("elections"), 300),
                    "extra": {
                        k: v
                        for k, v in {
                            "regions": ", ".join(regions),
                            "public_ids": text_of(row, names.get("public_ids_list"), 500),
                        }.items()
                        if v
                    },
                }
            elif report == "google-weekly":
                start, end = _week(row, names["week_start_date"])
                common |= {"period_start": start, "period_end": end}
            else:
                country_column = names["country"]
                country = country_code(clean_text(row.get(country_column)))
                if country is None:
                    raise RowError(country_column, f"not a country code ({row.get(country_column)!r})")
                common |= {
                    "country": country,
                    "region": text_of(row, names["country_subdivision_primary"], 120),
                    "district": text_of(row, names.get("country_subdivision_secondary"), 200),
                }
            return [figure(**common, currency=currency, spend=spend) for currency, spend in spends(row, money)]

        return convert

    return read_csv_figures(path, batch_size, prepare, label)
