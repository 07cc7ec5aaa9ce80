"""The briefing's ad-spend section reads the ads capability's archive for the election's country and run-up."""

from __future__ import annotations

from datetime import date

from shieldwall.ads.archive import Archive
from shieldwall.ads.document import make_document
from shieldwall.exchange.policy import Principal
from shieldwall.store.db import Database
from shieldwall.threatmodel.briefing import build
from shieldwall.threatmodel.elections import ElectionInput, create_election


def ad(
    ad_id: str, sponsor: str | None, spend: list[float], start: str, country: str = "US", stop: str | None = None
) -> dict[str, object]:
    return make_document(
        platform="snapchat",
        platform_ad_id=ad_id,
        page_name=sponsor or "Anonymous page",
        funding_entity=sponsor,
        payer_name=sponsor,
        body="Vote!",
        country=country,
        delivery_start=start,
        delivery_stop=stop or start.replace("T00", "T23"),
        currency="USD",
        spend=spend,
    )


def test_briefing_lists_sponsors_in_the_run_up_and_flags_gaps(database: Database) -> None:
    with database.session() as session:
        Archive(session, source="test").ingest(
            [
                ad("a1", "Citizens for Tomorrow", [1000, 1000], "2020-09-01T00:00:00Z"),
                ad("a2", "Citizens for Tomorrow", [500, 999], "2020-10-01T00:00:00Z"),
                ad("a3", None, [20, 20], "2020-10-15T00:00:00Z"),
                ad("a4", "Too Early PAC", [9000, 9000], "2019-01-01T00:00:00Z"),  # outside the 180-day run-up
                ad("a5", "Elsewhere e.V.", [7000, 7000], "2020-10-01T00:00:00Z", country="DE"),
            ]
        )
        election = create_election(session, ElectionInput("US", "presidential", "Presidential 2020", date(2020, 11, 3)))
        report = build(session, Principal(), election)
    labels = [row["label"] for row in report.ad_spend]
    assert labels[0] == "Citizens for Tomorrow" and report.ad_spend[0]["spend"] == "USD 1,500–1,999"
    assert "Too Early PAC" not in labels and "Elsewhere e.V." not in labels
    assert "no anomaly-scoring function" in report.ad_spend_note
    assert len(report.ad_spend) == 2
