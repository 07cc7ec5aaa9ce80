"""Aggregates over ranges: sums carry both bounds (lower = sum of lowers, upper = sum of uppers, and
unbounded as soon as one upper is unbounded). Never midpoints: a midpoint invents precision the
platforms did not publish. Amounts are kept per currency; nothing is converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from shieldwall.ads.archive import POLITICAL_THRESHOLD
from shieldwall.ads.search import AdFilters, conditions
from shieldwall.ads.tables import Ad, Delivery, Sponsor


@dataclass
class RangeSum:
    label: str
    currency: str | None
    lower: float
    upper: float | None  # None: at least one ad's upper bound is open
    ads: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "currency": self.currency,
            "lower": self.lower,
            "upper": self.upper,
            "ads": self.ads,
        }


def _open(column: Any) -> ColumnElement[int]:
    return func.sum(case((column.is_(None), 1), else_=0))


def _rows(result: Any) -> list[RangeSum]:
    return [
        RangeSum(
            str(label) if label is not None else "", currency, float(lo or 0), None if open_ else float(hi or 0), n
        )
        for label, currency, lo, hi, open_, n in result
    ]


def month_of(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def spend_totals(session: Session, filters: AdFilters) -> list[RangeSum]:
    query = (
        select(
            Ad.currency.label("label"),
            Ad.currency,
            func.sum(Ad.spend_lower),
            func.sum(Ad.spend_upper),
            _open(Ad.spend_upper),
            func.count(Ad.id),
        )
        .where(*conditions(session, filters))
        .group_by(Ad.currency)
        .order_by(Ad.currency)
    )
    return _rows(session.execute(query))


def impressions_total(session: Session, filters: AdFilters) -> RangeSum:
    query = select(
        func.sum(Ad.impressions_lower), func.sum(Ad.impressions_upper), _open(Ad.impressions_upper), func.count(Ad.id)
    ).where(*conditions(session, filters))
    lo, hi, open_, n = session.execute(query).one()
    return RangeSum("impressions", None, float(lo or 0), None if open_ else float(hi or 0), n)


@dataclass
class ClassifierShare:
    """How many of a set of ads the classifier scored, and labels political. Shown per sponsor because the
    labels it learned from are given per page: a page's share says more than any one of its ads."""

    ads: int
    scored: int
    political: int
    mean_score: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"ads": self.ads, "scored": self.scored, "political": self.political, "mean_score": self.mean_score}


def classifier_share(session: Session, filters: AdFilters, threshold: float = POLITICAL_THRESHOLD) -> ClassifierShare:
    query = select(
        func.count(Ad.id),
        func.count(Ad.political_score),
        func.sum(case((Ad.political_score >= threshold, 1), else_=0)),
        func.avg(Ad.political_score),
    ).where(*conditions(session, filters))
    ads, scored, political, mean = session.execute(query).one()
    return ClassifierShare(ads, scored, int(political or 0), None if mean is None else round(float(mean), 4))


def spend_by_month(session: Session, filters: AdFilters) -> list[RangeSum]:
    """Spend by the month an ad started (platforms publish one total per ad, not a daily split)."""
    month = month_of(session, Ad.delivery_start)
    query = (
        select(
            month, Ad.currency, func.sum(Ad.spend_lower), func.sum(Ad.spend_upper), _open(Ad.spend_upper), func.count()
        )
        .where(*conditions(session, filters))
        .group_by(month, Ad.currency)
        .order_by(month, Ad.currency)
    )
    return _rows(session.execute(query))


def spend_by_delivery(session: Session, filters: AdFilters, dimension: str, limit: int = 25) -> list[RangeSum]:
    lower = func.sum(Delivery.spend_lower)
    query = (
        select(
            Delivery.key, Ad.currency, lower, func.sum(Delivery.spend_upper), _open(Delivery.spend_upper), func.count()
        )
        .join(Ad, Ad.id == Delivery.ad_id)
        .where(Delivery.dimension == dimension, *conditions(session, filters))
        .group_by(Delivery.key, Ad.currency)
        .order_by(lower.desc(), Delivery.key)
        .limit(limit)
    )
    return _rows(session.execute(query))


def top_sponsors(session: Session, filters: AdFilters, limit: int = 20) -> list[dict[str, Any]]:
    lower = func.sum(Ad.spend_lower)
    query = (
        select(
            Ad.sponsor_id,
            Sponsor.name,
            Ad.currency,
            lower,
            func.sum(Ad.spend_upper),
            _open(Ad.spend_upper),
            func.count(Ad.id),
            func.sum(case((Ad.compliance == "non_compliant", 1), else_=0)),
        )
        .outerjoin(Sponsor, Sponsor.id == Ad.sponsor_id)
        .where(*conditions(session, filters))
        .group_by(Ad.sponsor_id, Sponsor.name, Ad.currency)
        .order_by(lower.desc(), Ad.sponsor_id)
        .limit(limit)
    )
    return [
        {
            "sponsor_id": sid,
            "sponsor": name or "(no sponsor disclosed)",
            "currency": currency,
            "spend_lower": float(lo or 0),
            "spend_upper": None if open_ else float(hi or 0),
            "ads": n,
            "non_compliant_ads": int(bad or 0),
        }
        for sid, name, currency, lo, hi, open_, n, bad in session.execute(query)
    ]


def non_compliant_by_sponsor(session: Session, filters: AdFilters, limit: int = 500) -> list[dict[str, Any]]:
    """Sponsors with non-compliant ads, worst first, with which disclosure items are missing."""
    count = func.count(Ad.id)
    query = (
        select(Ad.sponsor_id, Sponsor.name, count)
        .outerjoin(Sponsor, Sponsor.id == Ad.sponsor_id)
        .where(Ad.compliance == "non_compliant", *conditions(session, filters))
        .group_by(Ad.sponsor_id, Sponsor.name)
        .order_by(count.desc(), Ad.sponsor_id)
        .limit(limit)
    )
    rows = session.execute(query).all()
    issues: dict[int | None, dict[str, int]] = {}
    ids = [sid for sid, _, _ in rows]
    issue_query = select(Ad.sponsor_id, Ad.compliance_issues).where(
        Ad.compliance == "non_compliant", *conditions(session, filters)
    )
    if None not in ids:
        issue_query = issue_query.where(Ad.sponsor_id.in_(ids))
    for sid, found in session.execute(issue_query):
        if sid not in ids:
            continue
        bucket = issues.setdefault(sid, {})
        for issue in found or []:
            label = f"{issue['jurisdiction']}: {issue['item']}"
            bucket[label] = bucket.get(label, 0) + 1
    return [
        {
            "sponsor_id": sid,
            "sponsor": name or "(no sponsor disclosed)",
            "non_compliant_ads": n,
            "issues": dict(sorted(issues.get(sid, {}).items(), key=lambda kv: -kv[1])),
        }
        for sid, name, n in rows
    ]
