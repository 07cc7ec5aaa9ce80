"""One election registry for the hub: the ad library links ads to the threat model's elections (by slug),
its old calendar's rows move there, and its old addresses lead to the one calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select
from typer.testing import CliRunner

from shieldwall.ads.disclosure import ElectionDate, evaluate
from shieldwall.ads.importing import import_files
from shieldwall.ads.maintenance import upsert_election
from shieldwall.ads.tables import Ad
from shieldwall.cli import app
from shieldwall.store.db import Database
from shieldwall.store.migrate import alembic_config, upgrade
from shieldwall.threatmodel.tables import Election
from tests.ads.conftest import meta_ad, write_meta
from tests.support.live import LiveServer


def test_the_ad_library_elections_move_into_the_one_registry(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "ads@11e5d7771733")  # before the registry was one: ads_elections exists
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO ads_elections (key, name, country, kind, election_date) VALUES "
                    "('fr-2027-presidential', 'French presidential election 2027', 'FR', 'presidential', :a), "
                    "('us-2020-general', 'US general election 2020', 'US', 'general', :b)"
                ),
                {"a": datetime(2027, 4, 11), "b": datetime(2020, 11, 3)},
            )
        upgrade(database_url)
        with engine.begin() as connection:
            moved = connection.execute(
                sa.text("SELECT slug, country, level, election_date, stix_id FROM tm_elections ORDER BY slug")
            ).all()
            assert not sa.inspect(connection).has_table("ads_elections")
    finally:
        engine.dispose()
    assert [(slug, country, level, str(day)[:10]) for slug, country, level, day, _ in moved] == [
        ("fr-2027-presidential", "FR", "presidential", "2027-04-11"),
        ("us-2020-general", "US", "national", "2020-11-03"),
    ]
    assert all(stix.startswith("x-shieldwall-election--") for *_, stix in moved)


def test_ads_use_the_registry_for_their_rules(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        upsert_election(
            session, "fr-presidential-2027", "Presidential election 2027", "FR", "presidential", date(2027, 4, 11)
        )
        upsert_election(session, "fr-presidential-2027", "Présidentielle 2027", "FR", "presidential", date(2027, 4, 11))
        (election,) = session.scalars(select(Election)).all()
        assert (election.name, election.level, election.key, election.kind) == (
            "Présidentielle 2027", "presidential", "fr-presidential-2027", "presidential",
        )  # fmt: skip
    french = meta_ad(
        "fr1", ad_reached_countries=["FR"], currency="EUR", bylines=None, payer_name=None,
        ad_delivery_start_time="2027-02-01", ad_delivery_stop_time="2027-03-01",
        eu_transparency={"election": "fr-presidential-2027"},
    )  # fmt: skip
    import_files(database, [write_meta(tmp_path / "fr.json", [french])], "meta")
    with database.session() as session:
        ad = session.scalars(select(Ad)).one()
    assert ad.election_key == "fr-presidential-2027"
    assert "fr" in {issue["jurisdiction"].lower() for issue in ad.compliance_issues}  # three months before it
    # The registry keeps days; the rules take them as they take datetimes.
    as_day = ElectionDate("x", "FR", "presidential", date(2027, 4, 11))
    as_time = ElectionDate("x", "FR", "presidential", datetime(2027, 4, 11, tzinfo=UTC))
    doc = {"country": "FR", "delivery_start": "2027-02-01T00:00:00Z", "spend": [100, 199], "election_key": "x"}
    assert evaluate(doc, [as_day]) == evaluate(doc, [as_time])


def test_election_add_writes_the_one_calendar(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", database_url)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    args = ["ads", "election-add", "de-2029-bundestag", "--name", "Bundestagswahl 2029", "--country", "de"]
    done = runner.invoke(app, [*args, "--date", "2029-09-23", "--kind", "general"])
    assert done.exit_code == 0, done.output
    bad = runner.invoke(app, [*args, "--date", "2029-09-23", "--kind", "coronation"])
    assert bad.exit_code == 2 and "level 'coronation' is not one of" in " ".join(bad.output.split())
    database = Database(database_url)
    try:
        with database.session() as session:
            election = session.scalars(select(Election)).one()
            assert (election.slug, election.country, election.level) == ("de-2029-bundestag", "DE", "national")
            assert election.org_id is None  # no hub organisation in this database: the operator's own
    finally:
        database.dispose()


def test_old_addresses_lead_to_the_one_calendar(live_server: LiveServer) -> None:
    database: Database = live_server.app.state.database
    with database.session() as session:
        election = upsert_election(session, "us-2024", "US general election 2024", "US", "general", date(2024, 11, 5))
        election_id = election.id
    with httpx.Client(base_url=live_server.url) as client:
        calendar = client.get("/ads/elections")
        assert (calendar.status_code, calendar.headers["location"]) == (308, "/elections?show_past=true")
        page = client.get("/ads/elections/us-2024")
        assert (page.status_code, page.headers["location"]) == (308, f"/elections/{election_id}#ad-spend")
        assert client.get("/ads/elections/nope").status_code == 404
        assert client.get("/ads/elections/" + "x" * 500).status_code == 404
        api = client.get("/api/v1/ads/elections/us-2024").json()
        assert (api["id"], api["url"], api["level"], api["date"]) == (
            election_id,
            f"/elections/{election_id}",
            "national",
            "2024-11-05",
        )
        assert client.get("/api/v1/ads/elections/nope").status_code == 404
        assert client.get("/api/v1/ads/elections/a%00b").status_code == 404
        assert client.get("/ads/elections/a%00b").status_code == 404
        shown = client.get(f"/elections/{election_id}").text
        assert 'id="ad-spend"' in shown and 'href="/ads?election=us-2024"' in shown
