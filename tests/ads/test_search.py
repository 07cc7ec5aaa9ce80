"""Search: full text behind one function on both engines, filters, stable keyset cursors, range sums."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from shieldwall.ads import aggregates, search
from shieldwall.ads.importing import import_files
from shieldwall.ads.search import AdFilters, SearchError, search_ads
from shieldwall.store.db import Database
from tests.ads.conftest import meta_ad, write_meta


@pytest.fixture
def archive(database: Database, tmp_path: Path) -> Database:
    ads = [
        meta_ad(
            str(i),
            ad_creative_bodies=[f"{'Klimaschutz jetzt wählen' if i % 3 == 0 else 'Vote for clean water'} #{i}"],
            ad_reached_countries=["DE" if i % 3 == 0 else "US"],
            languages=["de" if i % 3 == 0 else "en"],
            ad_delivery_start_time=f"2024-{1 + i % 9:02d}-{1 + i % 27:02d}",
            publisher_platforms=["facebook"],
            spend={"lower_bound": str(i * 100), "upper_bound": str(i * 100 + 99)}
            if i != 7
            else {"lower_bound": "5000"},
            bylines="Wasser Verein" if i % 3 == 0 else "Clean Water PAC",
        )
        for i in range(1, 31)
    ]
    import_files(database, [write_meta(tmp_path / "ads.json", ads)], "meta")
    return database


def ids(database: Database, filters: AdFilters, **kw: object) -> list[str]:
    with database.session() as session:
        return [a.platform_ad_id for a in search_ads(session, filters, **kw).ads]  # type: ignore[arg-type]


def test_full_text_with_filters(archive: Database) -> None:
    german = ids(archive, AdFilters(q="klimaschutz"), limit=100)
    assert sorted(german, key=int) == [str(i) for i in range(3, 31, 3)]
    assert ids(archive, AdFilters(q="Klimaschutz wahlen"), limit=100)  # diacritics folded on both engines
    assert ids(archive, AdFilters(q="clean water", country="DE")) == []
    english_ohio = ids(archive, AdFilters(q="water", country="US", region="Ohio", language="en"), limit=100)
    assert len(english_ohio) == 20
    assert ids(archive, AdFilters(q='"; DROP TABLE ads_ads; --')) == []  # quoted, never SQL or FTS syntax


def test_date_spend_and_sponsor_filters(archive: Database) -> None:
    in_march = ids(archive, AdFilters(date_from=date(2024, 3, 1), date_to=date(2024, 3, 31)), limit=100)
    # Every ad runs until October: those running in March are the ones that started by March 31.
    assert sorted(in_march, key=int) == [str(i) for i in range(1, 31) if i % 9 in (0, 1, 2)]
    rich = ids(archive, AdFilters(spend_min=2500), limit=100)
    assert set(rich) == {str(i) for i in range(25, 31)} | {"7"}  # 7's upper bound is open: it may be rich
    cheap = ids(archive, AdFilters(spend_max=250), limit=100)
    assert set(cheap) == {"1", "2"}
    with archive.session() as session:
        sponsor = search_ads(session, AdFilters(q="Wasser")).ads[0].sponsor_id
    assert len(ids(archive, AdFilters(sponsor_id=sponsor), limit=100)) == 10


def test_keyset_cursor_is_stable_while_ads_arrive(archive: Database, tmp_path: Path) -> None:
    seen: list[str] = []
    with archive.session() as session:
        page = search_ads(session, AdFilters(), limit=7)
    seen += [a.platform_ad_id for a in page.ads]
    # New ads (newer than everything) arrive between pages: no duplicates, no gaps.
    newer = [meta_ad(f"n{i}", ad_delivery_start_time="2025-01-01") for i in range(5)]
    import_files(archive, [write_meta(tmp_path / "newer.json", newer)], "meta")
    cursor = page.next_cursor
    while cursor:
        with archive.session() as session:
            page = search_ads(session, AdFilters(), limit=7, cursor=cursor)
        seen += [a.platform_ad_id for a in page.ads]
        cursor = page.next_cursor
    assert sorted(seen, key=int) == [str(i) for i in range(1, 31)]
    with archive.session() as session:
        by_spend = search_ads(session, AdFilters(q="water"), sort="spend", limit=3).ads
    assert [a.platform_ad_id for a in by_spend] == ["7", "29", "28"]  # by lower bound: 5000+, 2900, 2800
    with archive.session() as session, pytest.raises(SearchError, match="cursor"):
        search_ads(session, AdFilters(), cursor="garbage")


def test_aggregates_sum_ranges_never_midpoints(archive: Database) -> None:
    with archive.session() as session:
        german = aggregates.spend_totals(session, AdFilters(country="DE"))
        american = aggregates.spend_totals(session, AdFilters(country="US"))
        regions = {r.label: r for r in aggregates.spend_by_delivery(session, AdFilters(country="DE"), "region")}
    lowers = sum(i * 100 for i in range(3, 31, 3))
    assert [(t.currency, t.lower, t.upper, t.ads) for t in german] == [("USD", lowers, lowers + 99 * 10, 10)]
    assert american[0].upper is None  # one open upper bound makes the sum open
    assert regions["Ohio"].lower == pytest.approx(lowers * 0.75)
    assert regions["Ohio"].upper == pytest.approx((lowers + 990) * 0.75)


@pytest.mark.parametrize("budget", [1, 10_000])
def test_walk_and_index_plans_agree(archive: Database, monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
    monkeypatch.setattr(search, "WALK_BUDGET", budget)  # 1: the full-text index answers; 10,000: the walk
    assert sorted(ids(archive, AdFilters(q="klimaschutz"), limit=100), key=int) == [str(i) for i in range(3, 31, 3)]
    assert ids(archive, AdFilters(q="water", country="DE")) == []


def _all_pages(database: Database, filters: AdFilters, sort: str, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        with database.session() as session:
            page = search_ads(session, filters, sort=sort, cursor=cursor, limit=limit)
        seen += [a.platform_ad_id for a in page.ads]
        cursor = page.next_cursor
        if cursor is None:
            return seen


def _expected(sort: str) -> list[str]:
    """What 'water' + country US + spend at least 500 must return, from how the fixture made the ads."""
    chosen = [i for i in range(1, 31) if i % 3 != 0 and (i * 100 + 99 >= 500 or i == 7)]
    start = {i: (1 + i % 9, 1 + i % 27) for i in chosen}
    spend = {i: i * 100 if i != 7 else 5000 for i in chosen}  # ids follow i: they were created in that order
    if sort == "newest":
        chosen.sort(key=lambda i: (start[i], i), reverse=True)
    elif sort == "oldest":
        chosen.sort(key=lambda i: (start[i], i))
    else:
        chosen.sort(key=lambda i: (spend[i], i), reverse=True)
    return [str(i) for i in chosen]


@pytest.mark.parametrize("budget", [1, 3, 10_000])
@pytest.mark.parametrize("sort", ["newest", "oldest", "spend"])
def test_common_word_filters_and_cursor_pages_are_the_same_on_every_plan(
    archive: Database, monkeypatch: pytest.MonkeyPatch, budget: int, sort: str
) -> None:
    """A word in most ads, two filters, paged by cursor: the same pages whichever plan answers, on both
    engines. A budget of 1 or 3 rows makes the ordered walk give up (so the full-text index answers,
    at once or after a partial page); 10,000 lets the walk finish."""
    monkeypatch.setattr(search, "WALK_BUDGET", budget)
    filters = AdFilters(q="Water", country="US", spend_min=500)
    assert _all_pages(archive, filters, sort, limit=4) == _expected(sort)
    assert _all_pages(archive, filters, sort, limit=3) == _expected(sort)


def test_rare_word_and_absent_word_with_filters(archive: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "WALK_BUDGET", 5)
    assert ids(archive, AdFilters(q="water 13", country="US", platform="meta")) == ["13"]
    assert ids(archive, AdFilters(q="klimaschutz", country="US", platform="meta")) == []  # only in German ads
    assert ids(archive, AdFilters(q="nowhere", country="US")) == []
    # Whole words only: "wat" is a prefix of "water", not a word of any ad.
    assert ids(archive, AdFilters(q="wat")) == []


def test_search_index_is_made_by_the_migrations(database_url: str, database: Database) -> None:
    from sqlalchemy import text

    with database.session() as session:
        if database.engine.dialect.name == "sqlite":
            names = {r[0] for r in session.execute(text("SELECT name FROM sqlite_master"))}
            assert {"ads_fts", "ads_fts_insert", "ads_fts_update", "ads_fts_delete"} <= names
        else:
            definition = session.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_ads_ads_fulltext'")
            ).scalar_one()
            assert "to_tsvector('simple'::regconfig, search_text)" in definition


@pytest.fixture
def mostly_american(database: Database, tmp_path: Path) -> Database:
    """'vote' is in every US ad and in one German ad only: common overall, rare among German ads."""
    us = [
        meta_ad(f"us{i}", ad_creative_bodies=[f"Vote early {i}"], publisher_platforms=["facebook"]) for i in range(40)
    ]
    de = [
        meta_ad(
            f"de{i}",
            ad_creative_bodies=["Vote Wahl" if i == 0 else "Wahl am Sonntag"],
            ad_reached_countries=["DE"],
            currency="EUR",
            publisher_platforms=["instagram" if i == 0 else "facebook"],
            bylines="Wahlverein",
        )
        for i in range(4)
    ]
    import_files(database, [write_meta(tmp_path / "ads.json", us + de)], "meta")
    return database


def _fts_rowids(database: Database, words: list[str], filters: AdFilters) -> set[int] | None:
    """What SQLite's FTS5 table alone answers for words + facets (None on PostgreSQL)."""
    from sqlalchemy import text

    if database.engine.dialect.name != "sqlite":
        return None
    match = search.fts_match(words, search.facet_terms(filters))
    with database.session() as session:
        return {r[0] for r in session.execute(text("SELECT rowid FROM ads_fts WHERE ads_fts MATCH :m"), {"m": match})}


def _ad_id(database: Database, platform_ad_id: str) -> int:
    from sqlalchemy import select

    from shieldwall.ads.tables import Ad

    with database.session() as session:
        return session.execute(select(Ad.id).where(Ad.platform_ad_id == platform_ad_id)).scalar_one()


def test_word_common_overall_but_rare_among_filtered_ads(
    mostly_american: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [
        (AdFilters(q="vote", country="DE"), ["de0"]),
        (AdFilters(q="vote", country="de", platform="Meta", currency="eur"), ["de0"]),
        (AdFilters(q="vote", country="DE", platform="google"), []),
        (AdFilters(q="vote", country="DE", currency="USD"), []),
        (AdFilters(q="vote", country="FR"), []),
        (AdFilters(q="vote", country="DE", status="removed"), []),
        (AdFilters(q="vote", country="DE", compliance="compliant", undeclared_political=True), []),
        (AdFilters(q="wahl", country="DE", status="active"), ["de0", "de1", "de2", "de3"]),
    ]
    # Budget 1: every search gives the walk up at once and goes to the full-text index (FTS5 with the
    # filters as facet tokens on SQLite); a large budget answers the same searches by the walk alone.
    for budget in (1, 10_000):
        monkeypatch.setattr(search, "WALK_BUDGET", budget)
        for filters, expected in cases:
            assert sorted(ids(mostly_american, filters, limit=100)) == expected, (budget, filters)
    monkeypatch.setattr(search, "WALK_BUDGET", 1)
    sponsor = _sponsor_of(mostly_american, "de0")
    assert sorted(ids(mostly_american, AdFilters(q="wahl", sponsor_id=sponsor), limit=100)) == [
        f"de{i}" for i in range(4)
    ]
    assert ids(mostly_american, AdFilters(q="early", sponsor_id=sponsor)) == []
    # SQLite: FTS5 itself already leaves only the German ad with the word, not the 40 American ones.
    de0 = _ad_id(mostly_american, "de0")
    assert _fts_rowids(mostly_american, ["vote"], AdFilters(country="DE")) in ({de0}, None)
    assert _fts_rowids(mostly_american, ["vote"], AdFilters(country="DE", platform="meta")) in ({de0}, None)
    assert _fts_rowids(mostly_american, ["vote"], AdFilters(country="DE", platform="google")) in (set(), None)
    # Facet tokens live in their own column: a word spelled like one finds nothing in the ads' text.
    token = search.facet_terms(AdFilters(country="DE"))[0]
    assert _fts_rowids(mostly_american, [token], AdFilters()) in (set(), None)


def _sponsor_of(database: Database, platform_ad_id: str) -> int:
    from sqlalchemy import select

    from shieldwall.ads.tables import Ad

    with database.session() as session:
        sponsor = session.execute(select(Ad.sponsor_id).where(Ad.platform_ad_id == platform_ad_id)).scalar_one()
    assert sponsor is not None
    return sponsor


def test_facets_follow_changes_removals_and_deletions(
    mostly_american: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import delete

    from shieldwall.ads.tables import Ad, AdVersion, Delivery

    monkeypatch.setattr(search, "WALK_BUDGET", 1)  # through the full-text index every time
    de0 = _ad_id(mostly_american, "de0")
    # The German ad moves to France and another platform: an update of the facet columns.
    moved = meta_ad(
        "de0", ad_creative_bodies=["Vote Wahl"], ad_reached_countries=["FR"], currency="EUR",
        publisher_platforms=["instagram"], bylines="Wahlverein",
    )  # fmt: skip
    removed = meta_ad(
        "us3", ad_creative_bodies=["Vote early 3"], ad_status="REMOVED", removed_at="2024-09-20T00:00:00Z"
    )
    result = import_files(mostly_american, [write_meta(tmp_path / "b.json", [moved, removed])], "meta")
    assert (result.stats.changed, result.stats.removed) == (1, 1)
    assert ids(mostly_american, AdFilters(q="vote", country="DE")) == []
    assert ids(mostly_american, AdFilters(q="vote", country="FR", currency="EUR")) == ["de0"]
    assert _fts_rowids(mostly_american, ["vote"], AdFilters(country="DE")) in (set(), None)
    assert _fts_rowids(mostly_american, ["vote"], AdFilters(country="FR")) in ({de0}, None)
    # The removal changed the status facet.
    assert ids(mostly_american, AdFilters(q="vote", status="removed"), limit=100) == ["us3"]
    assert "us3" not in ids(mostly_american, AdFilters(q="vote", country="US", status="active"), limit=100)
    # A deleted row leaves the index too.
    with mostly_american.session() as session:
        session.execute(delete(Delivery).where(Delivery.ad_id == de0))
        session.execute(delete(AdVersion).where(AdVersion.ad_id == de0))
        session.execute(delete(Ad).where(Ad.id == de0))
    assert ids(mostly_american, AdFilters(q="vote", country="FR")) == []
    assert _fts_rowids(mostly_american, ["vote"], AdFilters(country="FR")) in (set(), None)
    assert _fts_rowids(mostly_american, ["wahl"], AdFilters()) in (
        {_ad_id(mostly_american, f"de{i}") for i in (1, 2, 3)},
        None,
    )
