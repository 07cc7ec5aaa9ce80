"""Ad spend around an election, from the ads capability's public archive (political ad libraries are public
transparency data, so no TLP applies). The ads capability offers spend aggregates but no election-spend
anomaly function yet: the briefing lists the top sponsors in the run-up and flags disclosure gaps
(non-compliant ads, no sponsor disclosed), and says so plainly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.threatmodel.tables import Election

RUN_UP_DAYS = 180
UNAVAILABLE = "Not available: the ads capability is not installed here, so no ad spend can be shown for this election."
LIMITATION = (
    f"Top sponsors by spend in the {RUN_UP_DAYS} days before the election, from the ads archive, with disclosure "
    "gaps flagged. The ads capability has no anomaly-scoring function for election spend yet, so this is spend "
    "and compliance, not a statistical anomaly score."
)


@dataclass
class AdSpend:
    note: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def _money(currency: str | None, lower: float, upper: float | None) -> str:
    unit = currency or ""
    if upper is None:
        return f"{unit} {lower:,.0f}+".strip()
    if upper == lower:
        return f"{unit} {lower:,.0f}".strip()
    return f"{unit} {lower:,.0f}–{upper:,.0f}".strip()


def election_ad_spend(session: Session, election: Election, limit: int = 10) -> AdSpend:
    try:
        from shieldwall.ads.aggregates import top_sponsors
        from shieldwall.ads.search import AdFilters
    except ImportError:
        return AdSpend(UNAVAILABLE)
    filters = AdFilters(
        country=election.country,
        date_from=election.election_date - timedelta(days=RUN_UP_DAYS),
        date_to=election.election_date,
    )
    try:
        with session.begin_nested():  # a failure in the other capability must not abort our transaction
            sponsors = top_sponsors(session, filters, limit=limit)
    except Exception as error:  # shown in the briefing rather than failing it
        return AdSpend(f"The ads archive could not be read for this election: {type(error).__name__}: {error}")
    rows = []
    for s in sponsors:
        flags = []
        if s.get("non_compliant_ads"):
            flags.append(f"{s['non_compliant_ads']} ad(s) missing required disclosures")
        if s.get("sponsor_id") is None:
            flags.append("no sponsor disclosed")
        rows.append(
            {
                "label": s["sponsor"],
                "spend": _money(s.get("currency"), float(s["spend_lower"]), s.get("spend_upper")),
                "ads": s["ads"],
                "flags": "; ".join(flags),
            }
        )
    if not rows:
        return AdSpend(f"No political ads in the archive for {election.country} in the {RUN_UP_DAYS} days before it.")
    return AdSpend(LIMITATION, rows)


@dataclass
class LinkedSpend:
    """Ads the ad library links to this election (their `election_key` is its slug): totals per currency and
    the top sponsors, as ranges; and the run-up in its country, however the ads were linked."""

    available: bool
    totals: list[dict[str, Any]] = field(default_factory=list)
    top: list[dict[str, Any]] = field(default_factory=list)
    ads_url: str = ""
    run_up: AdSpend | None = None
    run_up_url: str = ""


def election_spend(session: Session, election: Election, limit: int = 10) -> LinkedSpend:
    try:
        from shieldwall.ads.aggregates import spend_totals, top_sponsors
        from shieldwall.ads.search import AdFilters
    except ImportError:
        return LinkedSpend(False)
    filters = AdFilters(election=election.slug)
    try:
        with session.begin_nested():  # a failure in the other capability must not abort our transaction
            totals = [t.as_dict() for t in spend_totals(session, filters)]
            top = top_sponsors(session, filters, limit=limit)
    except Exception:  # shown as "not available" rather than failing the page
        return LinkedSpend(False)
    start = election.election_date - timedelta(days=RUN_UP_DAYS)
    return LinkedSpend(
        True,
        totals,
        top,
        f"/ads?election={election.slug}",
        election_ad_spend(session, election, limit=limit),
        f"/ads?country={election.country}&date_from={start.isoformat()}&date_to={election.election_date.isoformat()}",
    )
