"""The Ad Library pages: search, an ad with its versions, a sponsor, an election, compliance, labels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.ads import aggregates, charts
from shieldwall.ads.importers.detect import SPEND_FORMATS
from shieldwall.ads.labels import label_content
from shieldwall.ads.reported import ReportedError, ReportedFilters, list_figures, without_disclaimer
from shieldwall.ads.search import COMPLIANCE, SORTS, AdFilters, SearchError, SearchLimit, search_ads
from shieldwall.ads.service import (
    election_by_key,
    elections,
    find_ad,
    find_sponsor,
    installed_scorer,
    sponsor_report,
    version_history,
)
from shieldwall.ads.sponsors import sponsor_identifiers
from shieldwall.ads.tables import ReportedSpend, Sponsor
from shieldwall.exchange import access
from shieldwall.exchange.deps import db_session
from shieldwall.web.templating import render

# The ad library is public: every page is open to anyone (the header still shows who is signed in).
router = APIRouter(include_in_schema=False, dependencies=[Depends(access.anyone(via=access.PAGE))])
PAGE_SIZE = 50


def _common(request: Request) -> dict[str, Any]:
    return {"range_text": charts.range_text, "money": charts.money}


@router.get("/ads", response_class=HTMLResponse)
def library(request: Request, session: Session = Depends(db_session)) -> Any:
    params = dict(request.query_params)
    sort = params.get("sort", "newest")
    error, status = None, 200
    try:
        filters = AdFilters.from_query(params)
        page = search_ads(session, filters, sort=sort, cursor=params.get("cursor"), limit=PAGE_SIZE)
        # Totals over the whole archive would scan it on every visit: they come with a filter.
        totals = aggregates.spend_totals(session, filters) if filters.as_query() else []
    except SearchError as exc:
        filters, page, totals, error = AdFilters(), None, [], str(exc)
        status = 422 if isinstance(exc, SearchLimit) else 400
    sponsor_names = {}
    if page is not None:
        ids = {i for ad in page.ads for i in (ad.sponsor_id,) if i is not None}
        if ids:
            sponsor_names = dict(session.execute(select(Sponsor.id, Sponsor.name).where(Sponsor.id.in_(ids))).all())
    query = filters.as_query()
    if sort != "newest":
        query["sort"] = sort
    return render(
        request,
        "ads/library.html",
        {
            **_common(request),
            "filters": filters,
            "page": page,
            "error": error,
            "totals": totals,
            "sort": sort,
            "sorts": list(SORTS),
            "compliance_values": COMPLIANCE,
            "query": query,
            "sponsor_names": sponsor_names,
            "elections": elections(session),
        },
        status_code=status,
    )


@router.get("/ads/ad/{ad_id:int}", response_class=HTMLResponse)
def ad_page(request: Request, ad_id: int, session: Session = Depends(db_session)) -> Any:
    ad = find_ad(session, ad_id)
    if ad is None:
        return render(request, "error.html", {"status_code": 404, "message": f"No ad {ad_id}"}, status_code=404)
    # The payer has its own row (its name as disclosed, linked to its sponsor entity, its ids).
    sponsors = {
        role: find_sponsor(session, sid)
        for role, sid in (("Sponsor", ad.sponsor_id), ("Page", ad.page_sponsor_id))
        if sid is not None
    }
    return render(
        request,
        "ads/ad.html",
        {
            **_common(request),
            "ad": ad,
            "sponsors": sponsors,
            "versions": version_history(session, ad_id),
            "payer": find_sponsor(session, ad.payer_sponsor_id) if ad.payer_sponsor_id else None,
            "payer_ids": sponsor_identifiers(session, ad.payer_sponsor_id) if ad.payer_sponsor_id else [],
            "election": election_by_key(session, ad.election_key) if ad.election_key else None,
        },
    )


@router.get("/ads/sponsors/{sponsor_id:int}", response_class=HTMLResponse)
def sponsor_page(request: Request, sponsor_id: int, session: Session = Depends(db_session)) -> Any:
    report = sponsor_report(session, sponsor_id)
    if report is None:
        return render(
            request, "error.html", {"status_code": 404, "message": f"No sponsor {sponsor_id}"}, status_code=404
        )
    chart_over_time = charts.range_columns("Spend over time (by month the ad started)", report["by_month"])
    chart_region = charts.range_bars("Spend by region", report["by_region"])
    chart_demo = charts.range_bars("Spend by demographic", report["by_demographic"])
    recent = search_ads(session, AdFilters(sponsor_id=sponsor_id), limit=20)
    return render(
        request,
        "ads/sponsor.html",
        {
            **_common(request),
            **report,
            "charts": [Markup(chart_over_time), Markup(chart_region), Markup(chart_demo)],
            "recent": recent.ads,
        },
    )


@router.get("/ads/elections")
def elections_page() -> RedirectResponse:
    """One election calendar for the hub: the threat model's."""
    return RedirectResponse("/elections?show_past=true", status_code=308)


@router.get("/ads/elections/{key}")
def election_page(request: Request, key: str, session: Session = Depends(db_session)) -> Any:
    found = election_by_key(session, key)
    if found is None:
        return render(
            request, "error.html", {"status_code": 404, "message": f"No election {key[:80]}"}, status_code=404
        )
    return RedirectResponse(f"/elections/{found.id}#ad-spend", status_code=308)


@router.get("/ads/compliance", response_class=HTMLResponse)
def compliance_page(request: Request, session: Session = Depends(db_session)) -> Any:
    try:
        filters = AdFilters.from_query(dict(request.query_params))
    except SearchError:
        filters = AdFilters()
    rows = aggregates.non_compliant_by_sponsor(session, filters)
    export_query = {**filters.as_query(), "compliance": "non_compliant"}
    unsigned = without_disclaimer(session, filters.country)
    return render(
        request,
        "ads/compliance.html",
        {**_common(request), "rows": rows, "filters": filters, "export_query": export_query, "unsigned": unsigned},
    )


@router.get("/ads/reported", response_class=HTMLResponse)
def reported_page(request: Request, session: Session = Depends(db_session)) -> Any:
    params = dict(request.query_params)
    error, status, next_cursor = None, 200, None
    rows: list[ReportedSpend] = []
    try:
        filters = ReportedFilters.from_query(params)
        cursor_text = params.get("cursor") or ""
        if cursor_text and (not cursor_text.isdigit() or len(cursor_text) > 18):
            raise ReportedError("cursor: not one this page gave")
        rows, next_cursor = list_figures(session, filters, int(cursor_text) if cursor_text else None, PAGE_SIZE)
    except ReportedError as exc:
        filters, error, status = ReportedFilters(), str(exc), 422
    return render(
        request,
        "ads/reported.html",
        {
            **_common(request),
            "filters": filters,
            "rows": rows,
            "next_cursor": next_cursor,
            "error": error,
            "query": filters.as_query(),
            "reports": SPEND_FORMATS,
        },
        status_code=status,
    )


@router.get("/ads/label", response_class=HTMLResponse)
def label_page(request: Request, session: Session = Depends(db_session)) -> Any:
    params = request.query_params
    result = None
    if params.get("publisher") or params.get("url") or params.get("text"):
        result = label_content(
            publisher=params.get("publisher") or None,
            is_paid=params.get("paid") in ("1", "true", "on", "yes"),
            paid_by=params.get("paid_by") or None,
            declared_political=params.get("declared_political") in ("1", "true", "on", "yes"),
            text=params.get("text") or None,
            url=params.get("url") or None,
            scorer=installed_scorer(request.app.state.settings),
            session=session,
        )
    return render(request, "ads/label.html", {**_common(request), "result": result, "params": params})
