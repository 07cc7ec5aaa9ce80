"""The demo fills the library from the real Snap file and shows versions, removals and labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select

from shieldwall.ads import demo
from shieldwall.ads.tables import Ad, AdVersion, Election, ReportedSpend
from shieldwall.config import load_settings
from shieldwall.store.db import Database


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_loads_the_real_snap_file_and_the_examples(database: Database, shared_data: Path, tmp_path: Path) -> None:
    assert demo.SNAP_FILE.is_file()
    settings = load_settings(database_url=database.url, data_dir=str(tmp_path / "data"))
    demo.load(database, settings, Console(quiet=True))
    with database.session() as session:
        assert (session.scalar(select(func.count()).select_from(Ad)) or 0) > 5500
        slugs = set(session.scalars(select(Election.slug)))
        assert slugs == {key for key, *_ in demo.ELECTIONS}  # the hub's one registry (the threat model's)
        revised = session.scalars(select(Ad).where(Ad.platform_ad_id == "demo-fr-1")).one()
        removed = session.scalars(select(Ad).where(Ad.platform_ad_id == "demo-de-1")).one()
        undeclared = session.scalars(select(Ad).where(Ad.platform_ad_id == "demo-ca-undeclared")).one()
        kinds = session.scalars(select(AdVersion.kind).where(AdVersion.ad_id == revised.id).order_by(AdVersion.version))
        assert list(kinds) == ["created", "changed"]
        assert removed.status == "removed"
        assert undeclared.undeclared_political  # the bundled model flags it, with no training first
        scored = session.scalar(select(func.count()).select_from(Ad).where(Ad.political_score >= 0.5)) or 0
        assert scored > 1000  # every ad is scored from the first import
        unsigned = session.scalar(select(func.count()).select_from(ReportedSpend).where(ReportedSpend.no_disclaimer))
        assert unsigned == 6_739 + 1_273 + 992 + 4_830  # the four Meta Ad Library Reports
    assert not (tmp_path / "data" / "ads" / "political-model.npz").exists()  # nothing trained at run time
