"""Fixtures for the ad library: small generated files in each platform's format, and a writer token."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from shieldwall.exchange.directory import create_member, create_org, create_token
from shieldwall.store.db import Database

SNAP_HEADER = [
    "ADID", "CreativeUrl", "Currency Code", "Spend", "Impressions", "StartDate", "EndDate", "OrganizationName",
    "BillingAddress", "CandidateBallotInformation", "PayingAdvertiserName", "Gender", "AgeBracket", "CountryCode",
    "Regions (Included)", "Regions (Excluded)", "Electoral Districts (Included)", "Electoral Districts (Excluded)",
    "Radius Targeting (Included)", "Radius Targeting (Excluded)", "Metros (Included)", "Metros (Excluded)",
    "Postal Codes (Included)", "Postal Codes (Excluded)", "Location Categories (Included)",
    "Location Categories (Excluded)", "Interests", "OsType", "Segments", "Language", "AdvancedDemographics",
    "Targeting Connection Type", "Targeting Carrier (ISP)", "CreativeProperties",
]  # fmt: skip


def snap_row(**values: str) -> dict[str, str]:
    row = dict.fromkeys(SNAP_HEADER, "")
    row.update(
        {
            "ADID": "a1",
            "Currency Code": "USD",
            "Spend": "100",
            "Impressions": "5000",
            "StartDate": "2020/01/29 15:00:00Z",
            "EndDate": "2020/02/29 04:59:59Z",
            "OrganizationName": "Agency One",
            "PayingAdvertiserName": "Citizens for Parks",
            "CountryCode": "united states",
        }
    )
    row.update(values)
    return row


def write_snap(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SNAP_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def meta_ad(ad_id: str, **values: Any) -> dict[str, Any]:
    ad = {
        "id": ad_id,
        "page_id": "p-" + ad_id,
        "page_name": "Page " + ad_id,
        "bylines": "Committee to Elect Jane Roe",
        "ad_creative_bodies": ["Vote for Jane Roe on election day"],
        "ad_delivery_start_time": "2024-09-01",
        "ad_delivery_stop_time": "2024-10-01",
        "currency": "USD",
        "spend": {"lower_bound": "100", "upper_bound": "199"},
        "impressions": {"lower_bound": "1000", "upper_bound": "4999"},
        "ad_reached_countries": ["US"],
        "languages": ["en"],
        "publisher_platforms": ["facebook"],
        "delivery_by_region": [{"region": "Ohio", "percentage": "0.75"}, {"region": "Iowa", "percentage": "0.25"}],
        "demographic_distribution": [{"age": "18-24", "gender": "female", "percentage": "1"}],
    }
    ad.update(values)
    return ad


def write_meta(path: Path, ads: list[dict[str, Any]], paging: bool = True) -> Path:
    body: Any = {"data": ads, "paging": {"cursors": {"after": "x"}}} if paging else ads
    path.write_text(json.dumps(body))
    return path


GOOGLE_HEADER = [
    "Ad_ID", "Ad_URL", "Ad_Type", "Regions", "Advertiser_ID", "Advertiser_Name", "Ad_Campaigns_List",
    "Date_Range_Start", "Date_Range_End", "Num_of_Days", "Impressions", "Spend_USD", "First_Served_Timestamp",
    "Last_Served_Timestamp", "Age_Targeting", "Gender_Targeting", "Geo_Targeting_Included",
    "Geo_Targeting_Excluded", "Spend_Range_Min_USD", "Spend_Range_Max_USD",
]  # fmt: skip


def write_google(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=GOOGLE_HEADER)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in GOOGLE_HEADER})
    return path


@pytest.fixture
def writer_token(database_url: str) -> str:
    database = Database(database_url)
    try:
        with database.session() as session:
            org = create_org(session, "Ads Watch", "research", "US")
            member = create_member(session, org, "analyst@adswatch.example", "Ana Lyst", "analyst")
            member.is_ad_editor = True  # imports change the archive: they need the ad-library editor role
            token, _ = create_token(session, member, "ads tests")
    finally:
        database.dispose()
    return token


@pytest.fixture
def reader_token(database_url: str) -> str:
    database = Database(database_url)
    try:
        with database.session() as session:
            org = create_org(session, "Readers Inc", "research", "US")
            member = create_member(session, org, "reader@readers.example", "Rea Der", "reader")
            token, _ = create_token(session, member, "ads tests")
    finally:
        database.dispose()
    return token
