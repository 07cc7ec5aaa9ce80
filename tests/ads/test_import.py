"""Importers: the real Snap file imports completely; bad rows are reported with file, line and field."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shieldwall.ads.importing import import_files
from shieldwall.ads.tables import Ad, AdVersion, Delivery, ImportRun, Sponsor
from shieldwall.store.db import Database
from tests.ads.conftest import meta_ad, snap_row, write_google, write_meta, write_snap


def count(database: Database, what: object) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(what)) or 0)  # type: ignore[arg-type]


@pytest.mark.slow
def test_the_real_snap_file_imports_completely(database: Database, shared_data: Path) -> None:
    path = shared_data / "ads" / "snapchat-political-ads-2019-2020.csv"
    with path.open(newline="") as handle:
        rows_in_file = sum(1 for _ in csv.DictReader(handle))
    result = import_files(database, [path], "snap")
    # Every row is either an ad in the archive or a reported problem with its reason.
    assert result.rows_read == rows_in_file
    assert result.stats.created + len(result.problems) == rows_in_file
    assert count(database, Ad) == result.stats.created
    assert result.stats.created > 5500
    with database.session() as session:
        ad = session.scalars(select(Ad).where(Ad.platform_ad_id.like("e2daee05014be59a%"))).one()
        assert (ad.spend_lower, ad.spend_upper, ad.currency) == (7107, 7107, "USD")  # exact = width zero
        assert (ad.impressions_lower, ad.impressions_upper) == (741638, 741638)
        assert ad.funding_entity == "truth" and ad.country == "US"
        assert ad.delivery_start is not None and ad.delivery_start.isoformat() == "2020-01-29T15:00:00+00:00"
        run = session.get(ImportRun, result.run_id)
        assert run is not None and run.rows_read == rows_in_file
    again = import_files(database, [path], "snap")
    assert again.stats.created == 0 and again.stats.changed == 0
    assert again.stats.unchanged == rows_in_file - len(again.problems)


def test_bad_snap_rows_are_reported_with_file_line_and_field(database: Database, tmp_path: Path) -> None:
    path = write_snap(
        tmp_path / "snap.csv",
        [
            snap_row(ADID="ok1"),
            snap_row(ADID="bad-spend", Spend="12k"),
            snap_row(ADID="bad-date", StartDate="yesterday"),
            snap_row(ADID="", Spend="5"),
            snap_row(ADID="no-payer", PayingAdvertiserName=""),
        ],
    )
    result = import_files(database, [path], "snap")
    found = {(p.line, p.field) for p in result.problems}
    assert found == {(3, "Spend"), (4, "StartDate"), (5, "ADID")}
    assert all(p.file == str(path) for p in result.problems)
    assert "12k" in next(p.reason for p in result.problems if p.field == "Spend")
    assert result.stats.created == 2
    with database.session() as session:
        gap = session.scalars(select(Ad).where(Ad.platform_ad_id == "no-payer")).one()
        # A missing "paid for by" is a disclosure gap, not a parse error.
        assert gap.compliance == "non_compliant"
        assert [i["check"] for i in gap.compliance_issues] == ["us_paid_for_by"]


def test_meta_pages_and_json_lines(database: Database, tmp_path: Path) -> None:
    page1 = write_meta(tmp_path / "p1.json", [meta_ad("1"), meta_ad("2", spend={"lower_bound": "x"})])
    page2 = write_meta(tmp_path / "p2.json", [meta_ad("3", impressions={"lower_bound": "1000000"})], paging=False)
    lines = tmp_path / "p3.jsonl"
    lines.write_text('{"id": "4", "ad_delivery_start_time": "2024-01-01"}\n{"page_name": "no id"}\n')
    result = import_files(database, [page1, page2, lines], "meta")
    assert result.stats.created == 3
    assert {(Path(p.file).name, p.line, p.field) for p in result.problems} == {
        ("p1.json", 2, "spend"),
        ("p3.jsonl", 2, "id"),
    }
    with database.session() as session:
        ad3 = session.scalars(select(Ad).where(Ad.platform_ad_id == "3")).one()
        assert (ad3.impressions_lower, ad3.impressions_upper) == (1_000_000, None)  # "1M+" stays open
        ad1 = session.scalars(select(Ad).where(Ad.platform_ad_id == "1")).one()
        regions = dict(
            session.execute(
                select(Delivery.key, Delivery.spend_upper).where(
                    Delivery.ad_id == ad1.id, Delivery.dimension == "region"
                )
            ).all()
        )
        assert regions == {"Ohio": pytest.approx(149.25), "Iowa": pytest.approx(49.75)}


def test_unreadable_file_names_the_file_and_writes_nothing(database: Database, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [\n{"id": "1",\n')
    with pytest.raises(ValueError, match=r"broken.json:\d+: "):
        import_files(database, [broken], "meta")
    assert count(database, Ad) == 0


def test_google_buckets_become_ranges(database: Database, tmp_path: Path) -> None:
    path = write_google(
        tmp_path / "google.csv",
        [
            {"Ad_ID": "CR1", "Advertiser_ID": "AR1", "Advertiser_Name": "Friends of Bob", "Regions": "US",
             "Date_Range_Start": "2020-10-01", "Date_Range_End": "2020-10-05", "Impressions": "10k-100k",
             "Spend_USD": "≤ 100", "Geo_Targeting_Included": "Texas"},
            {"Ad_ID": "CR2", "Advertiser_ID": "AR1", "Advertiser_Name": "FRIENDS OF BOB INC", "Regions": "US",
             "Date_Range_Start": "2020-10-02", "Impressions": "> 10M", "Spend_Range_Min_USD": "1000",
             "Spend_Range_Max_USD": "50000"},
            {"Ad_ID": "CR3", "Advertiser_Name": "X", "Date_Range_Start": "2020-13-45"},
        ],
    )  # fmt: skip
    result = import_files(database, [path], "google")
    assert result.stats.created == 2
    assert [(p.line, p.field) for p in result.problems] == [(4, "Date_Range_Start")]
    with database.session() as session:
        cr1, cr2 = session.scalars(select(Ad).order_by(Ad.platform_ad_id)).all()
        assert (cr1.spend_lower, cr1.spend_upper, cr1.impressions_lower, cr1.impressions_upper) == (
            0,
            100,
            10_000,
            100_000,
        )
        assert (cr2.spend_lower, cr2.spend_upper, cr2.impressions_upper) == (1000, 50000, None)
        assert cr1.sponsor_id == cr2.sponsor_id  # two spellings, one advertiser id: one sponsor
        assert session.scalar(select(func.count()).select_from(Sponsor)) == 1


def test_versions_removals_and_snapshots(database: Database, tmp_path: Path) -> None:
    import_files(database, [write_meta(tmp_path / "a.json", [meta_ad("1"), meta_ad("2"), meta_ad("3")])], "meta")
    revised = meta_ad("1", ad_creative_bodies=["Vote for Jane Roe on November 5"])
    removed = meta_ad("2", ad_status="REMOVED", removed_at="2024-09-20T00:00:00Z")
    result = import_files(database, [write_meta(tmp_path / "b.json", [revised, removed, meta_ad("3")])], "meta")
    assert (result.stats.created, result.stats.changed, result.stats.removed, result.stats.unchanged) == (0, 1, 1, 1)
    with database.session() as session:
        ad1 = session.scalars(select(Ad).where(Ad.platform_ad_id == "1")).one()
        ad2 = session.scalars(select(Ad).where(Ad.platform_ad_id == "2")).one()
        v1 = session.scalars(select(AdVersion).where(AdVersion.ad_id == ad1.id).order_by(AdVersion.version)).all()
        assert [(v.version, v.kind) for v in v1] == [(1, "created"), (2, "changed")]
        assert v1[1].changed_fields == ["body"] and v1[0].content_hash != v1[1].content_hash
        assert ad1.body == "Vote for Jane Roe on November 5" and ad1.version == 2
        assert ad2.status == "removed" and ad2.removed_at is not None and ad2.removed_at.day == 20
        assert ad2.body == "Vote for Jane Roe on election day"  # the removed ad stays readable
        kinds = session.scalars(select(AdVersion.kind).where(AdVersion.ad_id == ad2.id).order_by(AdVersion.version))
        assert list(kinds) == ["created", "removed"]
    # A full snapshot without ad 3: it was taken down, and that is recorded too.
    result = import_files(database, [write_meta(tmp_path / "c.json", [revised])], "meta", snapshot=True)
    assert result.stats.removed == 1
    with database.session() as session:
        ad3 = session.scalars(select(Ad).where(Ad.platform_ad_id == "3")).one()
        assert ad3.status == "removed" and ad3.version == 2


def test_sponsors_merge_name_variants_and_regulator_ids(database: Database, tmp_path: Path) -> None:
    ads = [
        meta_ad("1", bylines="Citizens for Clean Air, Inc.", payer_ids={"fec": "c00123456"}),
        meta_ad("2", bylines="CITIZENS FOR CLEAN AIR"),
        meta_ad("3", bylines="Clean Air Action Fund", payer_ids={"fec": "C00123456"}),
    ]
    import_files(database, [write_meta(tmp_path / "s.json", ads)], "meta")
    with database.session() as session:
        sponsors = dict(session.execute(select(Ad.platform_ad_id, Ad.sponsor_id)).all())
        payers = dict(session.execute(select(Ad.platform_ad_id, Ad.payer_sponsor_id)).all())
    assert sponsors["1"] == sponsors["2"]  # name variants merged
    assert payers["1"] == payers["3"]  # the same FEC committee id: one payer entity
