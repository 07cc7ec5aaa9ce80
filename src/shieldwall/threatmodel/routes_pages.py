"""The threat model's pages: /elections (calendar, heat map, briefing, Navigator layer) and /campaigns.

Every page reads intelligence for the reader at hand through the exchange's sharing rule; forms change only
what the reader's organisation owns (see README "Who may do what").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange import access
from shieldwall.exchange.access import PAGE
from shieldwall.exchange.deps import ApiError, db_session
from shieldwall.exchange.policy import Principal
from shieldwall.stix.tlp import TLP
from shieldwall.threatmodel import adspend, authoring, briefing, countermeasures, coverage, elections
from shieldwall.threatmodel.graph import CampaignGraph
from shieldwall.threatmodel.routes_common import (
    COUNTRY_FILTER,
    WRITE_ERRORS,
    as_api_error,
    back,
    campaign_view,
    csrf_for,
    election_or_404,
    elections_by_stix,
    lines,
    parse_election_form,
    parse_tlp,
    read_form,
)
from shieldwall.threatmodel.tables import (
    COUNTERMEASURE_STATUSES,
    ELECTION_LEVELS,
    ELECTION_STATUSES,
    Election,
    Technique,
)
from shieldwall.web.templating import render, templates

# Writes take `Depends(db_session, scope="function")`: the transaction commits before the response goes
# out, so a client that follows the redirect sees what it wrote.
pages = APIRouter(include_in_schema=False)


def _techniques(session: Session) -> list[Technique]:
    return list(session.scalars(select(Technique).order_by(Technique.external_id)))


@pages.get("/elections", response_class=HTMLResponse)
def calendar_page(
    request: Request,
    country: str = Query("", pattern=COUNTRY_FILTER),
    show_past: bool = False,
    principal: Principal = Depends(access.anyone(via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    today = date.today()
    rows = elections.list_elections(session, upcoming_from=None if show_past else today, country=country or None)
    months: dict[str, list[Election]] = {}
    for election in rows:
        months.setdefault(election.election_date.strftime("%B %Y"), []).append(election)
    countries = sorted({e.country for e in elections.list_elections(session)})
    return render(
        request,
        "threatmodel/calendar.html",
        {
            "months": months,
            "count": len(rows),
            "country": country.upper(),
            "countries": countries,
            "country_name": elections.country_name,
            "show_past": show_past,
            "today": today,
            "groups": elections.trust_group_names(session, principal),  # only the reader's own groups
            "levels": ELECTION_LEVELS,
            "statuses": ELECTION_STATUSES,
            "csrf": csrf_for(request),
            "error": request.query_params.get("error"),
        },
    )


@pages.post("/elections")
async def create_election_form(
    request: Request,
    principal: Principal = Depends(access.writer(via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    data = await read_form(request)
    try:
        election = elections.create_election(session, parse_election_form(data), principal, by_member=True)
    except WRITE_ERRORS as error:
        session.rollback()
        return back("/elections", error=str(error))
    return back(f"/elections/{election.id}", ok="election added")


@pages.get("/elections/{election_id}", response_class=HTMLResponse)
def election_page(
    request: Request,
    election_id: int,
    all_techniques: bool = False,
    principal: Principal = Depends(access.anyone("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    election = election_or_404(session, election_id)
    cov = coverage.compute(session, principal, election, show_all=all_techniques)
    audience, _ = countermeasures.audience_for(principal, election)
    return render(
        request,
        "threatmodel/election.html",
        {
            "election": election,
            "country_name": elections.country_name(election.country),
            "group": elections.trust_group_names(session, principal).get(election.trust_group_id or 0),
            "coverage": cov,
            "all_techniques": all_techniques,
            "techniques": _techniques(session),
            "statuses": COUNTERMEASURE_STATUSES,
            "countermeasure_audience": audience,
            "csrf": csrf_for(request),
            "error": request.query_params.get("error"),
            "ok": request.query_params.get("ok"),
            "tlps": list(TLP),
            "ad_spend": adspend.election_spend(session, election),
            "range_text": range_text,
        },
    )


def range_text(lower: float, upper: float | None, currency: str | None = None) -> str:
    """A spend range as the ad library writes it (exact, "lower–upper CUR" or "≥ lower CUR")."""
    unit = f" {currency}" if currency else ""
    if upper is not None and lower == upper:
        return f"{lower:,.0f}{unit}"
    return f"≥ {lower:,.0f}{unit}" if upper is None else f"{lower:,.0f}–{upper:,.0f}{unit}"


@pages.get("/elections/{election_id}/navigator.json")
def navigator_json(
    election_id: int,
    principal: Principal = Depends(access.anyone("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> JSONResponse:
    election = election_or_404(session, election_id)
    layer = coverage.navigator_layer(
        coverage.compute(session, principal, election), coverage.tactic_shortnames(session)
    )
    return JSONResponse(
        layer, headers={"Content-Disposition": f'attachment; filename="{election.slug}-navigator.json"'}
    )


def _briefing_html(request: Request, session: Session, principal: Principal, election: Election) -> str:
    report = briefing.build(session, principal, election)
    template = templates.env.get_template("threatmodel/briefing.html")
    return template.render({"b": report, "request": request})


@pages.get("/elections/{election_id}/briefing", response_class=HTMLResponse)
def briefing_page(
    request: Request,
    election_id: int,
    principal: Principal = Depends(access.anyone("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    election = election_or_404(session, election_id)
    return HTMLResponse(_briefing_html(request, session, principal, election))


@pages.get("/elections/{election_id}/briefing.pdf")
def briefing_pdf(
    request: Request,
    election_id: int,
    principal: Principal = Depends(access.anyone("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    election = election_or_404(session, election_id)
    pdf = briefing.render_pdf(_briefing_html(request, session, principal, election), str(request.base_url))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{election.slug}-briefing.pdf"'},
    )


@pages.post("/elections/{election_id}/campaigns")
async def create_campaign_form(
    request: Request,
    election_id: int,
    principal: Principal = Depends(access.writer("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    election = election_or_404(session, election_id)
    data = await read_form(request)
    try:
        campaign = authoring.create_campaign(
            session,
            principal,
            authoring.CampaignInput(
                name=str(data.get("name", "")),
                election_id=election.id,
                description=str(data.get("description") or ""),
                tlp=parse_tlp(data.get("tlp")),
                techniques=lines(data.get("techniques")),
                technique_evidence=str(data.get("evidence") or ""),
                evidence_urls=lines(data.get("evidence_urls")),
                actors=lines(data.get("actors")),
                narratives=[n for n in str(data.get("narratives") or "").splitlines() if n.strip()],
            ),
        )
    except WRITE_ERRORS as error:
        session.rollback()
        return back(f"/elections/{election.id}", error=str(error))
    return back(f"/campaigns/{campaign['id']}", ok="campaign shared")


@pages.post("/elections/{election_id}/countermeasures")
async def countermeasure_form(
    request: Request,
    election_id: int,
    principal: Principal = Depends(access.writer("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    election = election_or_404(session, election_id)
    data = await read_form(request)
    try:
        countermeasures.record(
            session,
            principal,
            election,
            str(data.get("technique", "")),
            str(data.get("name", "")),
            str(data.get("description") or ""),
            str(data.get("status") or "in place"),
        )
    except WRITE_ERRORS as error:
        session.rollback()
        return back(f"/elections/{election.id}", error=str(error))
    return back(f"/elections/{election.id}", ok="countermeasure recorded")


@pages.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(
    request: Request,
    principal: Principal = Depends(access.anyone(via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    views = CampaignGraph(session, principal).views()
    return render(
        request,
        "threatmodel/campaigns.html",
        {"views": views, "elections_by_stix": elections_by_stix(session)},
    )


@pages.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    request: Request,
    campaign_id: str,
    principal: Principal = Depends(access.anyone("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    view = campaign_view(session, principal, campaign_id)
    return render(
        request,
        "threatmodel/campaign.html",
        {
            "view": view,
            "elections_by_stix": elections_by_stix(session),
            "all_elections": elections.list_elections(session),
            "techniques": _techniques(session),
            # Shows the forms; the write routes check ownership again (authoring.owned_campaign).
            "may_change": principal.can_write and view.campaign.publisher_org_id == principal.org_id,
            "csrf": csrf_for(request),
            "error": request.query_params.get("error"),
            "ok": request.query_params.get("ok"),
        },
    )


def _refused(error: Exception) -> ApiError | None:
    """A refusal (hidden: 404, not the owner: 403) is answered, not shown as a form error."""
    if isinstance(error, (authoring.NotVisible, PermissionError)):
        return as_api_error(error)
    return None


async def _owned_campaign_form(
    request: Request, session: Session, principal: Principal, campaign_id: str
) -> dict[str, Any]:
    """The form posted to a campaign, once the caller's organisation is known to own it."""
    try:
        authoring.owned_campaign(session, principal, campaign_id)
    except (authoring.NotVisible, PermissionError) as error:
        raise as_api_error(error) from None
    return await read_form(request)


def _campaign_write(session: Session, campaign_id: str, write: Callable[[], object], ok: str) -> Response:
    """Back to the campaign page: with `ok` after the write, with the reason when it is refused as input."""
    try:
        write()
    except WRITE_ERRORS as error:
        session.rollback()
        refusal = _refused(error)
        if refusal is not None:
            raise refusal from None
        return back(f"/campaigns/{campaign_id}", error=str(error))
    return back(f"/campaigns/{campaign_id}", ok=ok)


@pages.post("/campaigns/{campaign_id}/techniques")
async def map_technique_form(
    request: Request,
    campaign_id: str,
    principal: Principal = Depends(access.writer("owner", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    data = await _owned_campaign_form(request, session, principal, campaign_id)
    return _campaign_write(
        session,
        campaign_id,
        lambda: authoring.map_technique(
            session,
            principal,
            campaign_id,
            str(data.get("technique", "")),
            str(data.get("evidence") or ""),
            lines(data.get("evidence_urls")),
        ),
        ok="technique mapped",
    )


@pages.post("/campaigns/{campaign_id}/elections")
async def link_election_form(
    request: Request,
    campaign_id: str,
    principal: Principal = Depends(access.writer("owner", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    data = await _owned_campaign_form(request, session, principal, campaign_id)
    election_id = str(data.get("election_id", "")).strip()
    election = elections.get_election(session, int(election_id)) if election_id.isdigit() else None
    if election is None:
        return back(f"/campaigns/{campaign_id}", error=f"election_id {election_id!r}: no such election")
    return _campaign_write(
        session,
        campaign_id,
        lambda: authoring.link_election(session, principal, campaign_id, election),
        ok="linked to the election",
    )
