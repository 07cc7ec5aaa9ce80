"""Shared look-ups for the API and the pages: one ad with its history, one sponsor with its figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.ads import aggregates
from shieldwall.ads.reported import sponsor_figures
from shieldwall.ads.search import MAX_BIGINT, MAX_SPONSOR_ID, AdFilters
from shieldwall.ads.sponsors import sponsor_identifiers, sponsor_names
from shieldwall.ads.tables import Ad, AdVersion, Election, Sponsor
from shieldwall.config import Settings

DIFF_HIDDEN = {"extra", "targeting"}


def default_model_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "ads" / "political-model.npz"


def adaptation_base(settings: Settings) -> Path:
    """The model `ads adapt` starts from: the model before any adaptation (the one kept aside when the
    first adaptation replaced a locally trained model, else the local model if it is not adapted, else the
    bundled one), so that adapting again never compounds."""
    from shieldwall.ads.build_model import BUNDLED
    from shieldwall.ads.classifier import PoliticalClassifier

    local = default_model_path(settings)
    kept = kept_base_path(settings)
    if kept.is_file():
        return kept
    if local.is_file() and not PoliticalClassifier.load(local).adapted_to:
        return local
    return BUNDLED


def kept_base_path(settings: Settings) -> Path:
    return default_model_path(settings).with_name("political-model.before-adaptation.npz")


_scorers: dict[tuple[str, float], Any] = {}


def scorer_source(settings: Settings) -> Path:
    """The model imports and labels use: one trained here (`ads train`), else the one that ships with the
    package (built from the shared seeds, see shieldwall.ads.build_model)."""
    from shieldwall.ads.build_model import BUNDLED

    local = default_model_path(settings)
    return local if local.is_file() else BUNDLED


def installed_scorer(settings: Settings) -> Any:
    """The political-ad classifier's scoring function (reloaded when its file changes); None only when
    neither a local nor the bundled model can be read."""
    path = scorer_source(settings)
    if not path.is_file():
        return None
    key = (str(path), path.stat().st_mtime)
    if key not in _scorers:
        from shieldwall.ads.classifier import PoliticalClassifier

        _scorers.clear()
        _scorers[key] = PoliticalClassifier.load(path).scores
    return _scorers[key]


@dataclass
class VersionView:
    version: int
    kind: str
    observed_at: str
    source: str
    changes: list[tuple[str, Any, Any]]


def find_ad(session: Session, ad_id: int) -> Ad | None:
    """The ad with this id; None also for ids beyond the column's range (no ad has them, and the
    drivers would overflow on them)."""
    return session.get(Ad, ad_id) if 1 <= ad_id <= MAX_BIGINT else None


def find_sponsor(session: Session, sponsor_id: int) -> Sponsor | None:
    return session.get(Sponsor, sponsor_id) if 1 <= sponsor_id <= MAX_SPONSOR_ID else None


def version_history(session: Session, ad_id: int) -> list[VersionView]:
    versions = (
        session.execute(select(AdVersion).where(AdVersion.ad_id == ad_id).order_by(AdVersion.version)).scalars().all()
    )
    views: list[VersionView] = []
    previous: dict[str, Any] = {}
    for v in versions:
        changes = [
            (field, previous.get(field), v.document.get(field))
            for field in (v.changed_fields or [])
            if field not in DIFF_HIDDEN
        ]
        views.append(VersionView(v.version, v.kind, v.observed_at.isoformat(), v.source, changes))
        previous = v.document
    return views


def ad_json(ad: Ad) -> dict[str, Any]:
    return {
        "id": ad.id,
        "platform": ad.platform,
        "platform_ad_id": ad.platform_ad_id,
        "version": ad.version,
        "status": ad.status,
        "removed_at": ad.removed_at.isoformat() if ad.removed_at else None,
        "page_name": ad.page_name,
        "funding_entity": ad.funding_entity,
        "payer_name": ad.payer_name,
        "payer_tax_id": ad.payer_tax_id,
        "sponsor_id": ad.sponsor_id,
        "payer_sponsor_id": ad.payer_sponsor_id,
        "page_sponsor_id": ad.page_sponsor_id,
        "body": ad.body,
        "link_url": ad.link_url,
        "country": ad.country,
        "languages": (ad.languages or "").split(),
        "delivery_start": ad.delivery_start.isoformat() if ad.delivery_start else None,
        "delivery_stop": ad.delivery_stop.isoformat() if ad.delivery_stop else None,
        "currency": ad.currency,
        "spend": {"lower_bound": ad.spend_lower, "upper_bound": ad.spend_upper},
        "impressions": {"lower_bound": ad.impressions_lower, "upper_bound": ad.impressions_upper},
        "election_key": ad.election_key,
        "declared_political": ad.declared_political,
        "political_score": ad.political_score,
        "undeclared_political": ad.undeclared_political,
        "compliance": ad.compliance,
        "compliance_issues": ad.compliance_issues,
        "first_seen_at": ad.first_seen_at.isoformat(),
        "last_seen_at": ad.last_seen_at.isoformat(),
    }


def sponsor_report(session: Session, sponsor_id: int) -> dict[str, Any] | None:
    sponsor = find_sponsor(session, sponsor_id)
    if sponsor is None:
        return None
    filters = AdFilters(sponsor_id=sponsor_id)
    return {
        "sponsor": sponsor,
        "names": sponsor_names(session, sponsor_id),
        "identifiers": sponsor_identifiers(session, sponsor_id),
        "totals": aggregates.spend_totals(session, filters),
        "impressions": aggregates.impressions_total(session, filters),
        "by_month": aggregates.spend_by_month(session, filters),
        "by_region": aggregates.spend_by_delivery(session, filters, "region"),
        "by_demographic": aggregates.spend_by_delivery(session, filters, "demographic"),
        "reported": sponsor_figures(session, sponsor_id),
        "classifier": aggregates.classifier_share(session, filters),
        "filters": filters,
    }


def elections(session: Session) -> list[Election]:
    """The hub's election registry (the threat model's), newest first."""
    return list(session.scalars(select(Election).order_by(Election.election_date.desc(), Election.slug)))


def election_by_key(session: Session, key: str) -> Election | None:
    """None for keys no slug can be (too long, or with a NUL, which PostgreSQL refuses in a query)."""
    if len(key) > 80 or "\x00" in key:
        return None
    return session.scalar(select(Election).where(Election.slug == key))
