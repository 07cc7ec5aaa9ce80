"""The ad library's part of the demo: the real Snap political-ads file when it is next to the
project (../shared/data/ads/), a few elections, a handful of Meta-style ads that show versions, a
removal, EU and Brazilian disclosure gaps and an undeclared political ad, and the Meta Ad Library Reports
(pages' spend per country, and the pages that ran ads without a disclaimer) when they are there too."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path

from rich.console import Console

from shieldwall.ads.importing import import_files
from shieldwall.ads.maintenance import upsert_election
from shieldwall.ads.service import election_by_key, installed_scorer, scorer_source
from shieldwall.ads.spend_import import import_spend_files
from shieldwall.config import Settings
from shieldwall.store.db import Database

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SHARED_ADS = PROJECT_ROOT.parent / "shared" / "data" / "ads"
SNAP_FILE = SHARED_ADS / "snapchat-political-ads-2019-2020.csv"
META_REPORTS = SHARED_ADS / "meta-ad-library-report"

# Elections of the hub's one registry that the ad demo links ads to. The French presidential election is the
# threat model demo's (fr-presidential-2027): it is created there, and `finish` re-applies France's rule once
# every demo has loaded.
ELECTIONS = [
    ("us-2020-general", "US general election 2020", "US", "national", "2020-11-03"),
    ("de-2025-bundestag", "German federal election 2025", "DE", "national", "2025-02-23"),
    ("br-2026-general", "Brazilian general election 2026", "BR", "national", "2026-10-04"),
]
FR_ELECTION = "fr-presidential-2027"


def meta_demo_ads() -> list[dict[str, object]]:
    base = {
        "publisher_platforms": ["facebook", "instagram"],
        "currency": "EUR",
        "spend": {"lower_bound": "100", "upper_bound": "199"},
        "impressions": {"lower_bound": "1000", "upper_bound": "4999"},
    }
    return [
        {
            **base,
            "id": "demo-fr-1",
            "page_id": "1001",
            "page_name": "Avenir Commun",
            "bylines": "Avenir Commun",
            "ad_creative_bodies": ["Le 11 avril, votez pour l'avenir de la France."],
            "ad_delivery_start_time": "2027-02-01",
            "ad_delivery_stop_time": "2027-03-01",
            "ad_reached_countries": ["FR"],
            "languages": ["fr"],
            "delivery_by_region": [
                {"region": "Île-de-France", "percentage": "0.6"},
                {"region": "Bretagne", "percentage": "0.4"},
            ],
            "demographic_distribution": [
                {"age": "18-24", "gender": "female", "percentage": "0.5"},
                {"age": "25-34", "gender": "male", "percentage": "0.5"},
            ],
            "eu_transparency": {"election": FR_ELECTION},
        },
        {
            **base,
            "id": "demo-de-1",
            "page_id": "2002",
            "page_name": "Bürgerinitiative Klima",
            "ad_creative_bodies": ["Am 23. Februar: Klimaschutz wählen!"],
            "ad_delivery_start_time": "2025-01-10",
            "ad_reached_countries": ["DE"],
            "languages": ["de"],
            "eu_transparency": {"election": "de-2025-bundestag"},
        },
        {
            **base,
            "currency": "BRL",
            "id": "demo-br-1",
            "page_id": "3003",
            "page_name": "Movimento Renova",
            "bylines": "Movimento Renova",
            "payer_ids": {"cnpj": "11.222.333/0001-81"},
            "ad_creative_bodies": ["Vote consciente em outubro."],
            "ad_delivery_start_time": "2026-08-20",
            "ad_reached_countries": ["BR"],
            "languages": ["pt"],
            "eu_transparency": {"election": "br-2026-general"},
        },
        {
            **base,
            "currency": "CAD",
            "id": "demo-ca-undeclared",
            "page_id": "4004",
            "page_name": "Everyday Savings Club",
            "bylines": "Everyday Savings Club Inc.",
            "declared_political": False,  # run as an ordinary ad, but it is an issue ad
            "ad_creative_bodies": ["The government must act on climate change now. Sign our petition to your MP."],
            "ad_delivery_start_time": "2021-08-20",
            "ad_reached_countries": ["CA"],
            "languages": ["en"],
        },
    ]


def load(database: Database, settings: Settings, console: Console) -> None:
    with database.session() as session:
        for key, name, country, level, day in ELECTIONS:
            if election_by_key(session, key) is None:
                upsert_election(session, key, name, country, level, date.fromisoformat(day))
    scorer = installed_scorer(settings)  # the bundled model unless one was trained here
    console.print(f"demo: ads: political-ad classifier {scorer_source(settings)}")
    if SNAP_FILE.is_file():
        result = import_files(database, [SNAP_FILE], "snap", scorer=scorer)
        console.print(f"demo: ads: Snap political ads: {result.summary()}")
    else:
        console.print(f"demo: ads: {SNAP_FILE} not found; only the small Meta-style demo is loaded")
    ads = meta_demo_ads()
    with tempfile.TemporaryDirectory() as tmp:
        first = Path(tmp) / "page1.json"
        first.write_text(json.dumps({"data": ads, "paging": {}}))
        import_files(database, [first], "meta", scorer=scorer)
        # A week later the French ad's text was revised and the German one taken down: both stay visible.
        revised = json.loads(json.dumps(ads))
        revised[0]["ad_creative_bodies"] = ["Le 11 avril, votez pour une France plus juste."]
        revised[0]["ad_delivery_stop_time"] = "2027-03-15"
        revised[1]["ad_status"] = "REMOVED"
        revised[1]["removed_at"] = "2025-01-20T00:00:00Z"
        second = Path(tmp) / "page2.json"
        second.write_text(json.dumps({"data": revised}))
        result = import_files(database, [second], "meta", scorer=scorer)
    console.print(f"demo: ads: Meta-style examples: {result.summary()}")
    reports = sorted(META_REPORTS.glob("month-*.csv")) if META_REPORTS.is_dir() else []
    if reports:  # the Meta Ad Library Report per country: pages' spend and who ran ads without a disclaimer
        spend = import_spend_files(database, reports, "meta-report")
        for summary in spend.files:
            console.print(f"demo: ads: {summary.line()}")


def finish(database: Database, settings: Settings, console: Console) -> None:
    """After every demo: re-apply the disclosure rules now that the threat model's elections exist."""
    from shieldwall.ads.maintenance import recheck

    count = recheck(database, installed_scorer(settings))
    console.print(f"demo: ads: rechecked {count} ads against every election of the calendar")
