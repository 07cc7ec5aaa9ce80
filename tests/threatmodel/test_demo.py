"""The demo gives a first visitor a filled heat map, with or without the DISARM file and the exchange demo."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select

from shieldwall.config import load_settings
from shieldwall.exchange import demo as exchange_demo
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import Organisation
from shieldwall.store.db import Database
from shieldwall.threatmodel import coverage
from shieldwall.threatmodel import demo as threatmodel_demo
from shieldwall.threatmodel.tables import Election, Technique


def first_visitor_view(database: Database) -> dict[str, tuple[int, int]]:
    """country -> (campaigns, observed techniques) as an anonymous visitor sees them."""
    seen = {}
    with database.session() as session:
        for election in session.scalars(select(Election)):
            cov = coverage.compute(session, Principal(), election)
            seen[election.country] = (len(cov.views), len(cov.observed_cells))
    return seen


def test_demo_without_disarm_file_or_exchange_demo(database: Database, tmp_path: Path) -> None:
    settings = load_settings(database_url=database.url, data_dir=str(tmp_path))
    console = Console(record=True, width=200)
    threatmodel_demo.load(database, settings, console, disarm_bundle=None)
    seen = first_visitor_view(database)
    assert set(seen) == {"US", "BR", "MX", "DE", "FR"}
    assert all(campaigns >= 1 and techniques >= 4 for campaigns, techniques in seen.values()), seen
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Technique)) == len(threatmodel_demo.DEMO_TECHNIQUES)
        election = session.scalars(select(Election)).first()
        assert election is not None and not coverage.compute(session, Principal(), election).framework_imported
    threatmodel_demo.load(database, settings, console, disarm_bundle=None)  # twice: no duplicates
    assert "already loaded" in console.export_text()
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Election)) == 5


def test_demo_after_the_exchange_demo_with_the_real_disarm(
    database: Database, tmp_path: Path, shared_data: Path
) -> None:
    settings = load_settings(database_url=database.url, data_dir=str(tmp_path))
    console = Console(record=True, width=200)
    exchange_demo.load(database, settings, console)
    threatmodel_demo.load(database, settings, console, disarm_bundle=shared_data / "disarm" / "DISARM.json")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Technique)) == 391
        us = session.scalar(select(Election).where(Election.country == "US"))
        assert us is not None
        cov = coverage.compute(session, Principal(), us)
        assert cov.framework_imported and len(cov.views) >= 2
        # The campaigns were written by the exchange demo's analysts (no extra organisations needed).
        ours = select(func.count()).select_from(Organisation).where(Organisation.slug.like("tm-%"))
        assert session.scalar(ours) == 0
    seen = first_visitor_view(database)
    assert set(seen) == {"US", "BR", "MX", "DE", "FR"} and all(t >= 4 for _, t in seen.values())
