"""Small files in the spend-report formats: the Meta Ad Library Report and Google's transparency bundle.

Google's headers are the bundle README's (google-political-ads-transparency-bundle), with the currencies
the advertiser file has grown to (20, up to MXN).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

CURRENCIES = [
    "USD", "EUR", "INR", "BGN", "HRK", "CZK", "DKK", "HUF", "PLN", "RON", "SEK", "GBP", "NZD", "ILS", "AUD",
    "TWD", "BRL", "ARS", "ZAR", "MXN",
]  # fmt: skip
SPEND = [f"Spend_{c}" for c in CURRENCIES]
ADVERTISER_HEADER = [
    "Advertiser_ID", "Advertiser_Name", "Public_IDs_List", "Regions", "Elections", "Total_Creatives", *SPEND,
]  # fmt: skip
WEEKLY_HEADER = ["Advertiser_ID", "Advertiser_Name", "Election_Cycle", "Week_Start_Date", *SPEND]
GEO_HEADER = ["Country", "Country_Subdivision_Primary", "Country_Subdivision_Secondary", *SPEND]
ADVERTISER_GEO_HEADER = ["Advertiser_ID", "Advertiser_Name", "Country", "Country_Subdivision_Primary", *SPEND]
META_REPORT_HEADER = ["Page ID", "Page name", "Disclaimer", "Amount spent (USD)", "Number of ads in Library"]
NO_DISCLAIMER = "These ads ran without a disclaimer"


def csv_text(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in header})
    return out.getvalue()


def spend(**amounts: str) -> dict[str, str]:
    """Every currency column, zero unless given (as Google writes them)."""
    return {f"Spend_{c}": amounts.get(c, "0") for c in CURRENCIES}


def write_meta_report(path: Path, rows: list[list[str]], currency: str = "USD") -> Path:
    header = [*META_REPORT_HEADER[:3], f"Amount spent ({currency})", META_REPORT_HEADER[4]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())  # Meta's files carry a UTF-8 BOM
    return path


def write_advertisers(path: Path) -> Path:
    rows = [
        {"Advertiser_ID": "AR111", "Advertiser_Name": "FRIENDS OF JANE ROE", "Public_IDs_List": "C00123456",
         "Regions": "US", "Elections": "US-Federal", "Total_Creatives": "42", **spend(USD="12300")},
        # Spent in two currencies: two figures, never added together.
        {"Advertiser_ID": "AR222", "Advertiser_Name": "Europa Jetzt", "Regions": "EU,DE", "Elections": "EU-Parliament",
         "Total_Creatives": "7", **spend(EUR="5000", GBP="700")},
        {"Advertiser_ID": "AR333", "Advertiser_Name": "Quiet Committee", "Regions": "US", "Total_Creatives": "0",
         **spend()},
    ]  # fmt: skip
    path.write_text(csv_text(ADVERTISER_HEADER, rows))
    return path


def write_weekly(path: Path) -> Path:
    rows = [
        {"Advertiser_ID": "AR111", "Advertiser_Name": "FRIENDS OF JANE ROE", "Week_Start_Date": "2024-10-06",
         **spend(USD="2100")},
        {"Advertiser_ID": "AR111", "Advertiser_Name": "FRIENDS OF JANE ROE", "Week_Start_Date": "2024-10-13",
         **spend(USD="3400")},
        {"Advertiser_ID": "AR222", "Advertiser_Name": "Europa Jetzt", "Week_Start_Date": "someday", **spend(EUR="1")},
    ]  # fmt: skip
    path.write_text(csv_text(WEEKLY_HEADER, rows))
    return path


def write_geo(path: Path) -> Path:
    rows = [
        {"Country": "US", "Country_Subdivision_Primary": "US-OH", "Country_Subdivision_Secondary": "OH-09",
         **spend(USD="81000")},
        {"Country": "DE", "Country_Subdivision_Primary": "DE-BE", **spend(EUR="4000")},
    ]  # fmt: skip
    path.write_text(csv_text(GEO_HEADER, rows))
    return path


def write_advertiser_geo(path: Path) -> Path:
    rows = [
        {"Advertiser_ID": "AR111", "Advertiser_Name": "FRIENDS OF JANE ROE", "Country": "US",
         "Country_Subdivision_Primary": "US-OH", **spend(USD="9000")},
    ]  # fmt: skip
    path.write_text(csv_text(ADVERTISER_GEO_HEADER, rows))
    return path
