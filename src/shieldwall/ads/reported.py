"""Reading the spend the platforms report per page, advertiser and region (`ads_reported_spend`): a
sponsor's figures, the pages that ran political ads without a disclaimer, and a paged list.

Only the current snapshot of each report is read. Sums are per currency and carry both bounds, like the
ad aggregates: never a midpoint, never a conversion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from shieldwall.ads.importers.detect import SPEND_FORMATS
from shieldwall.ads.tables import ReportedSpend

MAX_ID = 2**63 - 1
MAX_LIMIT = 1000


class ReportedError(ValueError):
    """A filter that cannot be applied; the message names it."""


@dataclass(frozen=True)
class ReportedFilters:
    country: str | None = None
    report: str | None = None
    no_disclaimer: bool | None = None
    sponsor_id: int | None = None

    @classmethod
    def from_query(cls, params: dict[str, Any]) -> ReportedFilters:
        country = (params.get("country") or "").strip().upper() or None
        if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
            raise ReportedError("country: an ISO 3166-1 alpha-2 code, e.g. US")
        report = (params.get("report") or "").strip() or None
        if report is not None and report not in SPEND_FORMATS:
            raise ReportedError(f"report: one of {', '.join(SPEND_FORMATS)}")
        flag = params.get("no_disclaimer")
        no_disclaimer = None
        if flag not in (None, ""):
            if str(flag).lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ReportedError("no_disclaimer: true or false")
            no_disclaimer = str(flag).lower() in ("1", "true", "yes", "on")
        sponsor = params.get("sponsor_id")
        sponsor_id = None
        if sponsor not in (None, ""):
            if not str(sponsor).isdigit() or not 1 <= int(str(sponsor)) <= 2**31 - 1:
                raise ReportedError("sponsor_id: a sponsor id (a positive whole number)")
            sponsor_id = int(str(sponsor))
        return cls(country, report, no_disclaimer, sponsor_id)

    def as_query(self) -> dict[str, str]:
        query = {"country": self.country, "report": self.report, "sponsor_id": self.sponsor_id}
        out = {k: str(v) for k, v in query.items() if v is not None}
        if self.no_disclaimer is not None:
            out["no_disclaimer"] = "1" if self.no_disclaimer else "0"
        return out

    def conditions(self) -> list[Any]:
        where: list[Any] = [ReportedSpend.current.is_(True)]
        if self.country:
            where.append(ReportedSpend.country == self.country)
        if self.report:
            where.append(ReportedSpend.report == self.report)
        if self.no_disclaimer is not None:
            where.append(ReportedSpend.no_disclaimer.is_(self.no_disclaimer))
        if self.sponsor_id is not None:
            where.append(
                or_(ReportedSpend.sponsor_id == self.sponsor_id, ReportedSpend.payer_sponsor_id == self.sponsor_id)
            )
        return where


def figure_json(row: ReportedSpend) -> dict[str, Any]:
    return {
        "id": row.id,
        "report": row.report,
        "platform": row.platform,
        "account_id": row.account_id,
        "name": row.name,
        "disclaimer": row.disclaimer,
        "no_disclaimer": row.no_disclaimer,
        "sponsor_id": row.sponsor_id,
        "payer_sponsor_id": row.payer_sponsor_id,
        "country": row.country,
        "region": row.region,
        "district": row.district,
        "period_start": row.period_start.isoformat() if row.period_start else None,
        "period_end": row.period_end.isoformat() if row.period_end else None,
        "currency": row.currency,
        "spend": {"lower_bound": row.spend_lower, "upper_bound": row.spend_upper},
        "ads_count": row.ads_count,
        "elections": row.elections,
        "source_line": row.line,
    }


def list_figures(
    session: Session, filters: ReportedFilters, cursor: int | None = None, limit: int = 50
) -> tuple[list[ReportedSpend], int | None]:
    """Figures in id order (the order they were imported in), `limit` at a time; (rows, next cursor)."""
    statement = select(ReportedSpend).where(*filters.conditions()).order_by(ReportedSpend.id).limit(limit + 1)
    if cursor is not None:
        statement = statement.where(ReportedSpend.id > cursor)
    rows = list(session.scalars(statement))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def sponsor_figures(session: Session, sponsor_id: int, limit: int = 200) -> list[ReportedSpend]:
    filters = ReportedFilters(sponsor_id=sponsor_id)
    statement = (
        select(ReportedSpend)
        .where(*filters.conditions())
        .order_by(ReportedSpend.period_end.desc(), ReportedSpend.country, ReportedSpend.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def without_disclaimer(session: Session, country: str | None = None) -> list[dict[str, Any]]:
    """Per report, country, period and currency: how many pages the platform says ran political ads
    without a disclaimer, out of how many it lists, and what they spent (a range)."""
    missing = ReportedSpend.no_disclaimer.is_(True)
    statement = (
        select(
            ReportedSpend.report,
            ReportedSpend.country,
            ReportedSpend.period_start,
            ReportedSpend.period_end,
            ReportedSpend.currency,
            func.count(),
            func.sum(case((missing, 1), else_=0)),
            func.sum(case((missing, ReportedSpend.spend_lower), else_=0)),
            func.sum(case((missing, ReportedSpend.spend_upper), else_=0)),
            func.sum(case((missing & ReportedSpend.spend_upper.is_(None), 1), else_=0)),
        )
        .where(ReportedSpend.current.is_(True), ReportedSpend.report == "meta-report")
        .group_by(
            ReportedSpend.report,
            ReportedSpend.country,
            ReportedSpend.period_start,
            ReportedSpend.period_end,
            ReportedSpend.currency,
        )
        .order_by(ReportedSpend.country, ReportedSpend.period_end)
    )
    if country:
        statement = statement.where(ReportedSpend.country == country)
    return [
        {
            "report": report,
            "country": cc,
            "period_start": start.isoformat() if start else None,
            "period_end": end.isoformat() if end else None,
            "currency": currency,
            "pages": int(pages),
            "pages_without_disclaimer": int(bad or 0),
            "spend_lower": float(lo or 0),
            "spend_upper": None if open_ else float(hi or 0),
        }
        for report, cc, start, end, currency, pages, bad, lo, hi, open_ in session.execute(statement)
    ]
