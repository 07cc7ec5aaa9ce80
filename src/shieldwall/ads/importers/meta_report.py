"""The Meta Ad Library Report: one CSV per country and period of advertiser totals per page,
`Page ID, Page name, Disclaimer, Amount spent (<currency>), Number of ads in Library` (UTF-8 with a BOM).

Spend is a number or a bucket (`≤100` is [0, 100]); a page that ran political ads without a disclaimer has
the Disclaimer "These ads ran without a disclaimer". The file itself names neither its country nor its
period: Meta's own file name does (see figures.options_from_name), or the importer is told.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shieldwall.ads.importers.base import Batch
from shieldwall.ads.importers.figures import (
    ReportOptions,
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
from shieldwall.inputfiles import InputError

LABEL = "Meta Ad Library Report CSV"
NO_DISCLAIMER = "these ads ran without a disclaimer"
_AMOUNT = re.compile(r"^amount spent \(([a-z]{3})\)$", re.I)


def meta_report_scope(options: ReportOptions) -> str:
    return f"meta-report|{options.country}|{options.period_start or ''}|{options.period_end or ''}"


def read_meta_report(path: Path, batch_size: int, options: ReportOptions) -> Iterator[Batch]:
    if options.country is None:
        raise InputError(
            path,
            None,
            "the Meta Ad Library Report does not name its country inside the file: give it (--country US) "
            "or keep Meta's file name (FacebookAdLibraryReport_<date>_<CC>_...)",
        )
    scope = meta_report_scope(options)

    def prepare(header: list[str]) -> RowReader:
        missing_columns(path, LABEL, header, ("Page ID", "Page name", "Disclaimer"))
        names = columns_by_name(header)
        spend_column = next((h for h in header if _AMOUNT.match(h.strip())), None)
        if spend_column is None:
            raise InputError(path, 1, f"not a {LABEL} (no 'Amount spent (<currency>)' column)")
        currency = _AMOUNT.match(spend_column.strip()).group(1).upper()  # type: ignore[union-attr]
        page_id, page_name, disclaimer = names["page id"], names["page name"], names["disclaimer"]
        ads_column = names.get("number of ads in library")

        def convert(row: dict[str, Any]) -> list[dict[str, Any]]:
            account = text_of(row, page_id, 128)
            if account is None:
                raise RowError(page_id, "missing page id")
            spend = amount(row, spend_column)
            if spend is None:
                raise RowError(spend_column, "missing")
            stated = text_of(row, disclaimer, 500)
            missing = stated is not None and stated.casefold() == NO_DISCLAIMER
            return [
                figure(
                    platform="meta",
                    report="meta-report",
                    scope=scope,
                    account_id=account,
                    name=text_of(row, page_name, 300),
                    disclaimer=None if missing else stated,
                    no_disclaimer=missing,
                    country=options.country,
                    period_start=options.period_start,
                    period_end=options.period_end,
                    currency=currency,
                    spend=list(spend),
                    ads_count=count(row, ads_column),
                )
            ]

        return convert

    return read_csv_figures(path, batch_size, prepare, LABEL)
