"""Every supported file is recognised from its content (`ads import FILE`, no --format), and the spend
reports (Meta Ad Library Report, Google's advertiser, weekly and geographic spend files) import as
per-currency ranges, replace their earlier snapshot, and show who ran ads without a disclaimer."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from shieldwall.ads.importers.detect import FORMATS, UnknownFormat, detect_format
from shieldwall.ads.importers.figures import ReportOptions
from shieldwall.ads.importing import import_files
from shieldwall.ads.reported import without_disclaimer
from shieldwall.ads.spend_import import import_spend_files
from shieldwall.ads.tables import Ad, ReportedSpend, SponsorIdentifier
from shieldwall.cli import app
from shieldwall.exchange.tables import Member
from shieldwall.inputfiles import InputError
from shieldwall.store.db import Database
from tests.ads.conftest import meta_ad, snap_row, write_google, write_meta, write_snap
from tests.ads.spend_files import (
    ADVERTISER_HEADER,
    NO_DISCLAIMER,
    csv_text,
    write_advertiser_geo,
    write_advertisers,
    write_geo,
    write_meta_report,
    write_weekly,
)
from tests.support.hub import seed_hub
from tests.support.live import LiveServer

REAL_REPORTS = {"US": (13_511, 6_739, "USD"), "DE": (2_538, 1_273, "EUR"), "FR": (1_349, 992, "EUR"),
                "BR": (7_569, 4_830, "BRL")}  # fmt: skip


def sample_files(folder: Path) -> dict[str, list[Path]]:
    """At least one file of every supported format, in the shapes people download them in."""
    folder.mkdir(exist_ok=True)
    jsonl = folder / "ads.jsonl"
    jsonl.write_text("".join(json.dumps(meta_ad(f"l{i}")) + "\n" for i in range(2)))
    json_list = folder / "list.json"
    json_list.write_text(json.dumps([meta_ad("j1")]))
    utf16 = folder / "snap-utf16.csv"
    utf16.write_bytes(write_snap(folder / "tmp.csv", [snap_row(ADID="u1")]).read_text().encode("utf-16"))
    lower = folder / "bigquery-advertiser-stats.csv"
    lower.write_text(
        csv_text(
            [h.lower() for h in ADVERTISER_HEADER],
            [{"advertiser_id": "AR9", "advertiser_name": "Lower Case", "total_creatives": "1", "spend_usd": "100"}],
        )
    )
    return {
        "meta": [write_meta(folder / "page.json", [meta_ad("p1")]), json_list, jsonl],
        "google": [
            write_google(
                folder / "google-political-ads-creative-stats.csv",
                [{"Ad_ID": "g1", "Advertiser_ID": "AR1", "Regions": "US", "Date_Range_Start": "2020-10-01"}],
            )
        ],
        "snap": [write_snap(folder / "snap.csv", [snap_row(ADID="s1")]), utf16],
        "meta-report": [
            write_meta_report(
                folder / "FacebookAdLibraryReport_2024-07-23_US_last_30_days_advertisers.csv",
                [
                    ["101", "Jane Roe", "FRIENDS OF JANE ROE", "1200", "14"],
                    ["202", "Shoe Deals", NO_DISCLAIMER, "≤100", "1"],
                ],
            )
        ],
        "google-advertisers": [write_advertisers(folder / "google-political-ads-advertiser-stats.csv"), lower],
        "google-weekly": [write_weekly(folder / "google-political-ads-advertiser-weekly-spend.csv")],
        "google-geo": [
            write_geo(folder / "google-political-ads-geo-spend.csv"),
            write_advertiser_geo(folder / "google-political-ads-advertiser-geo-spend.csv"),
        ],
    }


def test_detection_picks_the_right_importer_for_every_supported_format(tmp_path: Path) -> None:
    files = sample_files(tmp_path)
    assert set(files) == set(FORMATS)
    for expected, paths in files.items():
        for path in paths:
            assert detect_format(path) == expected, path
    # A file renamed to look like another is still read for what it is.
    disguised = tmp_path / "google-political-ads-creative-stats.json"
    disguised.write_bytes(files["snap"][0].read_bytes())
    assert detect_format(disguised) == "snap"
    unknown = tmp_path / "other.csv"
    unknown.write_text("name,colour\nkiwi,green\n")
    with pytest.raises(UnknownFormat) as refused:
        detect_format(unknown)
    message = str(refused.value)
    assert message.startswith(f"{unknown}:1: not a format the ad library reads (header: name, colour)")
    assert all(name in message for name in FORMATS)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        detect_format(empty)


def test_import_without_format_detects_and_prints_each_file(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", database_url)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(tmp_path / "data"))
    files = sample_files(tmp_path / "files")
    paths = [str(p) for group in files.values() for p in group]
    result = CliRunner().invoke(app, ["ads", "import", *paths])
    output = " ".join(result.output.split())
    assert result.exit_code == 0, output
    for expected, group in files.items():
        for path in group:
            assert f"{path}: {FORMATS[expected].title} (format {expected})" in output
    assert "US; USD; 2024-06-24..2024-07-23: 2 rows, 2 spend figures, 1 pages without a disclaimer" in output
    assert "weekly-spend.csv:4: Week_Start_Date: not a date ('someday'" in output
    database = Database(database_url)
    try:
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(Ad)) == 7
            reports = dict(
                session.execute(select(ReportedSpend.report, func.count()).group_by(ReportedSpend.report))
                .tuples()
                .all()
            )
    finally:
        database.dispose()
    # The lower-case advertiser file came second: a newer snapshot of the same report, it replaced the
    # first one's 4 figures (1 + 2 currencies + 1 zero). Weekly: 2 good rows; the two geographic files: 2 + 1.
    assert "(replacing 4 figures of an earlier import of the same report)" in output
    assert reports == {"meta-report": 2, "google-advertisers": 1, "google-weekly": 2, "google-geo": 3}

    unknown = tmp_path / "notes.csv"
    unknown.write_text("name,colour\nkiwi,green\n")
    refused = CliRunner().invoke(app, ["ads", "import", paths[0], str(unknown)])
    words = " ".join(refused.output.split())
    assert refused.exit_code == 2
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
    assert f"{unknown}:1: not a format the ad library reads" in words and "google-weekly" in words


def test_google_spend_is_kept_per_currency_and_a_newer_file_replaces_the_older(
    database: Database, tmp_path: Path
) -> None:
    path = write_advertisers(tmp_path / "advertisers.csv")
    first = import_spend_files(database, [path], "google-advertisers")
    assert (first.rows_read, first.figures, first.rejected) == (3, 4, 0)
    with database.session() as session:
        rows = session.scalars(select(ReportedSpend).order_by(ReportedSpend.id)).all()
        figures = [(r.account_id, r.currency, r.spend_lower, r.spend_upper, r.current) for r in rows]
        europa = rows[1]
        ids = session.execute(select(SponsorIdentifier.scheme, SponsorIdentifier.value)).tuples().all()
    assert figures == [
        ("AR111", "USD", 12300, 12300, True),
        ("AR222", "EUR", 5000, 5000, True),
        ("AR222", "GBP", 700, 700, True),  # its own figure: never converted, never added to the EUR one
        ("AR333", "USD", 0, 0, True),  # spent nothing: kept once, as zero
    ]
    assert (europa.elections, europa.ads_count, europa.country) == ("EU-Parliament", 7, None)
    assert ("google_advertiser", "AR111") in ids
    again = import_spend_files(database, [path], "google-advertisers")
    assert again.files[0].replaced == 4
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportedSpend)) == 4

    weekly = import_spend_files(database, [write_weekly(tmp_path / "weekly.csv")], "google-weekly")
    assert [str(p) for p in weekly.problems] == [
        f"{tmp_path / 'weekly.csv'}:4: Week_Start_Date: not a date ('someday', expected YYYY-MM-DD)"
    ]
    import_spend_files(database, [write_geo(tmp_path / "geo.csv")], "google-geo")
    with database.session() as session:
        weeks = session.execute(
            select(ReportedSpend.period_start, ReportedSpend.period_end, ReportedSpend.spend_lower).where(
                ReportedSpend.report == "google-weekly"
            )
        ).all()
        geo = session.execute(
            select(ReportedSpend.country, ReportedSpend.region, ReportedSpend.district, ReportedSpend.currency).where(
                ReportedSpend.report == "google-geo"
            )
        ).all()
    assert sorted(weeks) == [
        (date(2024, 10, 6), date(2024, 10, 12), 2100),
        (date(2024, 10, 13), date(2024, 10, 19), 3400),
    ]
    assert sorted(geo, key=str) == [("DE", "DE-BE", None, "EUR"), ("US", "US-OH", "OH-09", "USD")]


def test_meta_report_ranges_flags_and_the_sponsor_of_the_page(database: Database, tmp_path: Path) -> None:
    # The page already has ads in the archive: the report's figures land on the same sponsor.
    import_files(
        database, [write_meta(tmp_path / "ads.json", [meta_ad("1", page_id="202", page_name="Shoe Deals")])], "meta"
    )
    report = write_meta_report(
        tmp_path / "month-US.csv",
        [
            ["101", "Jane Roe", "FRIENDS OF JANE ROE", "1200", "14"],
            ["202", "Shoe Deals", NO_DISCLAIMER, "≤100", "1"],
            ["", "No Id", "X", "5", "1"],
            ["303", "Bad Amount", "Y", "lots", "1"],
        ],
    )
    result = import_spend_files(
        database, [report], "meta-report", ReportOptions(period_start=date(2024, 6, 1), period_end=date(2024, 6, 30))
    )
    assert [(p.line, p.field) for p in result.problems] == [(4, "Page ID"), (5, "Amount spent (USD)")]
    summary = result.files[0]
    assert (summary.rows, summary.figures, summary.no_disclaimer, summary.countries) == (4, 2, 1, {"US"})
    with database.session() as session:
        ad = session.scalars(select(Ad)).one()
        shoe = session.scalars(select(ReportedSpend).where(ReportedSpend.account_id == "202")).one()
        jane = session.scalars(select(ReportedSpend).where(ReportedSpend.account_id == "101")).one()
        assert (shoe.spend_lower, shoe.spend_upper, shoe.no_disclaimer, shoe.disclaimer) == (0, 100, True, None)
        assert shoe.sponsor_id == ad.page_sponsor_id and shoe.payer_sponsor_id is None
        assert (jane.spend_lower, jane.spend_upper, jane.ads_count, jane.disclaimer) == (
            1200,
            1200,
            14,
            "FRIENDS OF JANE ROE",
        )
        assert jane.payer_sponsor_id is not None and (jane.period_start, jane.period_end) == (
            date(2024, 6, 1),
            date(2024, 6, 30),
        )
        (row,) = without_disclaimer(session, "US")
    assert (row["pages"], row["pages_without_disclaimer"], row["spend_lower"], row["spend_upper"]) == (2, 1, 0, 100)
    nameless = write_meta_report(tmp_path / "report.csv", [["101", "Jane Roe", "X", "5", "1"]])
    with pytest.raises(InputError, match="does not name its country"):
        import_spend_files(database, [nameless], "meta-report")


@pytest.mark.slow
def test_the_four_real_meta_reports_import_with_their_counts(
    shared_data: Path, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", database_url)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(tmp_path / "data"))
    folder = shared_data / "ads" / "meta-ad-library-report"
    paths = [str(folder / f"month-{cc}.csv") for cc in REAL_REPORTS]
    result = CliRunner().invoke(app, ["ads", "import", *paths])
    output = " ".join(result.output.split())
    assert result.exit_code == 0, output
    for cc, (rows, unsigned, currency) in REAL_REPORTS.items():
        assert (
            f"month-{cc}.csv: meta-report: {cc}; {currency}; period not stated (--period START..END names it): "
            f"{rows:,} rows, {rows:,} spend figures, {unsigned:,} pages without a disclaimer"
        ) in output
    assert "0 rows rejected" in output
    database = Database(database_url)
    try:
        with database.session() as session:
            counts = {r["country"]: (r["pages"], r["pages_without_disclaimer"]) for r in without_disclaimer(session)}
    finally:
        database.dispose()
    assert counts == {cc: (rows, unsigned) for cc, (rows, unsigned, _) in REAL_REPORTS.items()}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reports_over_http_editors_only_and_shown_on_the_pages(live_server: LiveServer, tmp_path: Path) -> None:
    database: Database = live_server.app.state.database
    hub = seed_hub(database)
    with database.session() as session:
        member = session.get(Member, hub.member_ids["lab"])
        assert member is not None
        member.is_ad_editor = True
    body = write_meta_report(
        tmp_path / "r.csv",
        [["101", "Jane Roe", "FRIENDS OF JANE ROE", "1200", "14"], ["202", "Shoe Deals", NO_DISCLAIMER, "≤100", "1"]],
    ).read_bytes()
    url = live_server.url + "/api/v1/ads/import"
    for token, status in ((None, 401), (hub.tokens["guest"], 403), (hub.tokens["chirp"], 403)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        assert httpx.post(url, params={"country": "US"}, content=body, headers=headers).status_code == status
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ReportedSpend)) == 0
    editor = {"Authorization": f"Bearer {hub.tokens['lab']}"}
    nameless = httpx.post(url, content=body, headers=editor)
    assert nameless.status_code == 400 and "country" in nameless.json()["detail"] and "/tmp" not in nameless.text
    assert httpx.post(url, params={"country": "USA"}, content=body, headers=editor).status_code == 422
    done = httpx.post(url, params={"country": "us", "period": "2024-06-01..2024-06-30"}, content=body, headers=editor)
    assert done.status_code == 200, done.text
    assert {k: done.json()[k] for k in ("format", "rows_read", "figures", "no_disclaimer", "countries")} == {
        "format": "meta-report", "rows_read": 2, "figures": 2, "no_disclaimer": 1, "countries": ["US"],
    }  # fmt: skip
    compliance = httpx.get(live_server.url + "/ads/compliance").text
    assert 'data-country="US"' in compliance and "2024-06-01 – 2024-06-30" in compliance
    listed = httpx.get(live_server.url + "/api/v1/ads/reported", params={"no_disclaimer": "true"}).json()["data"]
    assert [(r["name"], r["spend"]) for r in listed] == [("Shoe Deals", {"lower_bound": 0, "upper_bound": 100})]
    sponsor = httpx.get(f"{live_server.url}/ads/sponsors/{listed[0]['sponsor_id']}").text
    assert 'id="no-disclaimer"' in sponsor and "ran political ads without a disclaimer" in sponsor
    api = httpx.get(f"{live_server.url}/api/v1/ads/sponsors/{listed[0]['sponsor_id']}").json()
    assert api["ran_ads_without_disclaimer"] is True and api["reported_spend"][0]["ads_count"] == 1
    for bad in ("country=USA", "report=tiktok", "no_disclaimer=maybe", "sponsor_id=99999999999", "cursor=x"):
        assert httpx.get(f"{live_server.url}/ads/reported?{bad}").status_code == 422, bad
        assert httpx.get(f"{live_server.url}/api/v1/ads/reported?{bad}").status_code == 422, bad


def malformed_reports() -> list[tuple[str, bytes, int, list[str]]]:
    header = "Page ID,Page name,Disclaimer,Amount spent (USD),Number of ads in Library\n"
    good = "101,Jane Roe,FRIENDS OF JANE ROE,1200,14\n"
    return [
        ("bom", b"\xef\xbb\xbf" + (header + good).encode(), 0, ["1 spend figures", "0 rows rejected"]),
        ("utf16", (header + good).encode("utf-16"), 0, ["1 spend figures"]),
        ("latin1", (header + good + "102,Café,X,5,1\n").encode("latin-1"), 2, ["{f}:3: not UTF-8"]),
        ("binary", bytes(range(256)) * 8 + b"\x00", 2, ["{f}:", "binary data"]),
        ("empty", b"", 2, ["{f}: empty file"]),
        ("header_only", header.encode(), 2, ["{f}: no records"]),
        ("short_row", (header + good + "102,Short\n").encode(), 0, ["{f}:3: (record): expected 5 fields"]),
        ("unclosed", (header + good + '103,"never closed,X,5,1\n').encode(), 2, ["{f}:3: a quote", "never closed"]),
    ]


@pytest.mark.parametrize(("name", "content", "exit_code", "fragments"), malformed_reports(), ids=lambda c: str(c)[:12])
def test_malformed_spend_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes, exit_code: int, fragments: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ads.db'}"
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", url)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / f"{name}-US.csv"
    path.write_bytes(content)
    for how in (["--format", "meta-report"], []):  # given, and detected (binary and empty files: not detectable)
        result = CliRunner().invoke(app, ["ads", "import", str(path), *how])
        output = " ".join(result.output.split())
        assert result.exit_code == exit_code, (how, output)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        for fragment in fragments:
            assert fragment.format(f=path) in output, (how, fragment, output)
