"""The threat model's pages (/elections, /campaigns) and JSON API (/api/threatmodel/...)."""

from __future__ import annotations

import datetime
import hmac
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange.auth import csrf_token
from shieldwall.exchange.deps import SESSION_COOKIE, ApiError, current_principal, db_session, require_writer
from shieldwall.exchange.policy import Principal
from shieldwall.stix.tlp import TLP
from shieldwall.threatmodel import authoring, briefing, coverage, elections
from shieldwall.threatmodel.graph import CampaignGraph, CampaignView
from shieldwall.threatmodel.tables import (
    COUNTERMEASURE_STATUSES,
    ELECTION_LEVELS,
    ELECTION_STATUSES,
    Election,
    Tactic,
    Technique,
)
from shieldwall.web.templating import render, templates

# Writes take `Depends(db_session, scope="function")`: the transaction commits before the response goes
# out, so a client that follows the redirect (or reads right after a 201) sees what it wrote.
pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/threatmodel", tags=["threat model"])


STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    app.mount("/threatmodel/static", StaticFiles(directory=str(STATIC_DIR)), name="threatmodel-static")
    app.include_router(pages)
    app.include_router(api)


# ------------------------------------------------------------------------------------------------ helpers


def _election_or_404(session: Session, election_id: int) -> Election:
    election = elections.get_election(session, election_id)
    if election is None:
        raise ApiError(404, f"no election {election_id}")
    return election


def _csrf_for(request: Request) -> str:
    cookie = request.cookies.get(SESSION_COOKIE)
    return csrf_token(request.app.state.settings.secret_key, cookie) if cookie else ""


async def _form(request: Request) -> dict[str, Any]:
    """A posted form; cookie-authenticated posts must carry the page's CSRF token (token-authenticated
    API clients send no cookie and need none)."""
    form = await request.form()
    data: dict[str, Any] = {key: form.getlist(key) if len(form.getlist(key)) > 1 else form.get(key) for key in form}
    if "authorization" not in request.headers:
        expected = _csrf_for(request)
        if not expected or not hmac.compare_digest(str(data.get("csrf", "")), expected):
            raise ApiError(403, "the form has expired or did not come from this site; reload the page and retry")
    return data


def _lines(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value or "")
    return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]


def _back(url: str, *, error: str | None = None, ok: str | None = None) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    if error:
        url += f"{sep}error={quote(error)}"
    elif ok:
        url += f"{sep}ok={quote(ok)}"
    return RedirectResponse(url, status_code=303)


def _errors_as_api(error: Exception) -> ApiError:
    if isinstance(error, authoring.NotVisible):
        return ApiError(404, str(error))
    if isinstance(error, PermissionError):
        return ApiError(403, str(error))
    return ApiError(400, str(error))


WRITE_ERRORS = (authoring.AuthoringError, elections.ElectionError, authoring.NotVisible, PermissionError)


def _parse_election_form(data: dict[str, Any]) -> elections.ElectionInput:
    try:
        when = date.fromisoformat(str(data.get("date", "")))
    except ValueError:
        raise elections.ElectionError(f"date {data.get('date')!r} is not a date (YYYY-MM-DD)") from None
    group = str(data.get("trust_group_id") or "").strip()
    return elections.ElectionInput(
        country=str(data.get("country", "")).strip().upper(),
        level=str(data.get("level", "")).strip(),
        name=str(data.get("name", "")),
        election_date=when,
        trust_group_id=int(group) if group.isdigit() else None,
        status=str(data.get("status") or "scheduled"),
        description=str(data.get("description") or ""),
    )


def _tlp(value: Any, default: TLP = TLP.AMBER) -> TLP:
    if value in (None, ""):
        return default
    try:
        return TLP.parse(str(value))
    except ValueError as error:
        raise authoring.AuthoringError(str(error)) from None


def _view_json(view: CampaignView) -> dict[str, Any]:
    return {
        "id": view.campaign.id,
        "name": view.campaign.name,
        "tlp": TLP(view.campaign.tlp).label,
        "elections": view.election_ids,
        "techniques": [
            {
                "id": t.external_id,
                "name": t.name,
                "tactics": [{"id": tid, "name": tname} for tid, tname in t.tactics],
                "relationship": t.relationship.id,
                "tlp": TLP(t.relationship.tlp).label,
                "evidence": t.evidence,
                "evidence_urls": t.evidence_urls,
            }
            for t in view.techniques
        ],
        "actors": [{"id": a.id, "type": a.obj["type"], "name": a.name} for a in view.actors],
        "narratives": [{"id": n.id, "name": n.name} for n in view.narratives],
        "indicators": [{"id": i.id, "name": i.name, "tlp": TLP(i.tlp).label} for i in view.indicators],
        "notes": [{"id": n.id, "content": n.obj.get("content", "")} for n in view.notes],
    }


def _campaign_view(session: Session, principal: Principal, campaign_id: str) -> CampaignView:
    views = CampaignGraph(session, principal).views([campaign_id], with_notes=True)
    if not views:
        raise ApiError(404, f"no campaign {campaign_id}")
    return views[0]


def _elections_by_stix(session: Session) -> dict[str, Election]:
    return {e.stix_id: e for e in session.scalars(select(Election))}


# ------------------------------------------------------------------------------------------------ pages


@pages.get("/elections", response_class=HTMLResponse)
def calendar_page(
    request: Request,
    country: str = "",
    show_past: bool = False,
    principal: Principal = Depends(current_principal),
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
            "groups": elections.trust_group_names(session),
            "levels": ELECTION_LEVELS,
            "statuses": ELECTION_STATUSES,
            "csrf": _csrf_for(request),
            "error": request.query_params.get("error"),
        },
    )


@pages.post("/elections")
async def create_election_form(
    request: Request,
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    data = await _form(request)
    try:
        election = elections.create_election(session, _parse_election_form(data), principal)
    except WRITE_ERRORS as error:
        session.rollback()
        return _back("/elections", error=str(error))
    return _back(f"/elections/{election.id}", ok="election added")


@pages.get("/elections/{election_id}", response_class=HTMLResponse)
def election_page(
    request: Request,
    election_id: int,
    all_techniques: bool = False,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    election = _election_or_404(session, election_id)
    cov = coverage.compute(session, principal, election, show_all=all_techniques)
    return render(
        request,
        "threatmodel/election.html",
        {
            "election": election,
            "country_name": elections.country_name(election.country),
            "group": elections.trust_group_names(session).get(election.trust_group_id or 0),
            "coverage": cov,
            "all_techniques": all_techniques,
            "techniques": list(session.scalars(select(Technique).order_by(Technique.external_id))),
            "statuses": COUNTERMEASURE_STATUSES,
            "csrf": _csrf_for(request),
            "error": request.query_params.get("error"),
            "ok": request.query_params.get("ok"),
            "tlps": list(TLP),
        },
    )


@pages.get("/elections/{election_id}/navigator.json")
def navigator_json(
    election_id: int,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> JSONResponse:
    election = _election_or_404(session, election_id)
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
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    election = _election_or_404(session, election_id)
    return HTMLResponse(_briefing_html(request, session, principal, election))


@pages.get("/elections/{election_id}/briefing.pdf")
def briefing_pdf(
    request: Request,
    election_id: int,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    election = _election_or_404(session, election_id)
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
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    election = _election_or_404(session, election_id)
    data = await _form(request)
    try:
        campaign = authoring.create_campaign(
            session,
            principal,
            authoring.CampaignInput(
                name=str(data.get("name", "")),
                election_id=election.id,
                description=str(data.get("description") or ""),
                tlp=_tlp(data.get("tlp")),
                techniques=_lines(data.get("techniques")),
                technique_evidence=str(data.get("evidence") or ""),
                evidence_urls=_lines(data.get("evidence_urls")),
                actors=_lines(data.get("actors")),
                narratives=[n for n in str(data.get("narratives") or "").splitlines() if n.strip()],
            ),
        )
    except WRITE_ERRORS as error:
        session.rollback()
        return _back(f"/elections/{election.id}", error=str(error))
    return _back(f"/campaigns/{campaign['id']}", ok="campaign shared")


@pages.post("/elections/{election_id}/countermeasures")
async def countermeasure_form(
    request: Request,
    election_id: int,
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    election = _election_or_404(session, election_id)
    data = await _form(request)
    try:
        authoring.add_countermeasure(
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
        return _back(f"/elections/{election.id}", error=str(error))
    return _back(f"/elections/{election.id}", ok="countermeasure recorded")


@pages.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(
    request: Request,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    views = CampaignGraph(session, principal).views()
    return render(
        request,
        "threatmodel/campaigns.html",
        {"views": views, "elections_by_stix": _elections_by_stix(session)},
    )


@pages.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    request: Request,
    campaign_id: str,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> HTMLResponse:
    view = _campaign_view(session, principal, campaign_id)
    return render(
        request,
        "threatmodel/campaign.html",
        {
            "view": view,
            "elections_by_stix": _elections_by_stix(session),
            "all_elections": elections.list_elections(session),
            "techniques": list(session.scalars(select(Technique).order_by(Technique.external_id))),
            "csrf": _csrf_for(request),
            "error": request.query_params.get("error"),
            "ok": request.query_params.get("ok"),
        },
    )


@pages.post("/campaigns/{campaign_id}/techniques")
async def map_technique_form(
    request: Request,
    campaign_id: str,
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    data = await _form(request)
    try:
        authoring.map_technique(
            session,
            principal,
            campaign_id,
            str(data.get("technique", "")),
            str(data.get("evidence") or ""),
            _lines(data.get("evidence_urls")),
        )
    except authoring.NotVisible as error:
        raise ApiError(404, str(error)) from None
    except WRITE_ERRORS as error:
        session.rollback()
        return _back(f"/campaigns/{campaign_id}", error=str(error))
    return _back(f"/campaigns/{campaign_id}", ok="technique mapped")


@pages.post("/campaigns/{campaign_id}/elections")
async def link_election_form(
    request: Request,
    campaign_id: str,
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    data = await _form(request)
    election_id = str(data.get("election_id", ""))
    election = elections.get_election(session, int(election_id)) if election_id.isdigit() else None
    if election is None:
        return _back(f"/campaigns/{campaign_id}", error=f"no election {election_id!r}")
    try:
        authoring.link_election(session, principal, campaign_id, election)
    except authoring.NotVisible as error:
        raise ApiError(404, str(error)) from None
    except WRITE_ERRORS as error:
        session.rollback()
        return _back(f"/campaigns/{campaign_id}", error=str(error))
    return _back(f"/campaigns/{campaign_id}", ok="linked to the election")


# ------------------------------------------------------------------------------------------------ JSON API


class ElectionIn(BaseModel):
    country: str = Field(description="ISO 3166-1 alpha-2, e.g. BR")
    level: str = Field(description=f"one of {', '.join(ELECTION_LEVELS)}")
    name: str
    date: date
    trust_group_id: int | None = None
    status: str = "scheduled"
    description: str = ""


class CampaignIn(BaseModel):
    name: str
    election_id: int | None = None
    description: str = ""
    tlp: str = "amber"
    techniques: list[str] = Field(default_factory=list, description="DISARM ids, e.g. T0049.001")
    evidence: str = ""
    evidence_urls: list[str] = Field(default_factory=list)
    actors: list[str] = Field(default_factory=list)
    narratives: list[str] = Field(default_factory=list)
    first_seen: str | None = None
    org_ids: list[int] = Field(default_factory=list)
    trust_group_ids: list[int] = Field(default_factory=list)
    member_ids: list[int] = Field(default_factory=list)


class TechniqueMappingIn(BaseModel):
    technique: str = Field(description="DISARM id, e.g. T0049.001")
    evidence: str = ""
    evidence_urls: list[str] = Field(default_factory=list)


class ElectionLinkIn(BaseModel):
    election_id: int


class CountermeasureIn(BaseModel):
    technique: str
    name: str
    description: str = ""
    status: str = "in place"


@api.get("/elections")
def api_elections(
    upcoming: bool = False, country: str = "", session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    groups = elections.trust_group_names(session)
    rows = elections.list_elections(session, upcoming_from=date.today() if upcoming else None, country=country or None)
    return [elections.election_json(e, groups.get(e.trust_group_id or 0)) for e in rows]


@api.post("/elections", status_code=201)
def api_create_election(
    body: ElectionIn,
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    try:
        election = elections.create_election(
            session,
            elections.ElectionInput(
                body.country.upper(),
                body.level,
                body.name,
                body.date,
                body.trust_group_id,
                body.status,
                body.description,
            ),
            principal,
        )
    except WRITE_ERRORS as error:
        raise _errors_as_api(error) from None
    return elections.election_json(election, elections.trust_group_names(session).get(election.trust_group_id or 0))


class ElectionPatch(BaseModel):
    status: str | None = None
    date: datetime.date | None = None
    trust_group_id: int | None = None
    description: str | None = None


@api.patch("/elections/{election_id}")
def api_update_election(
    election_id: int,
    body: ElectionPatch,
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    election = _election_or_404(session, election_id)
    try:
        elections.update_election(
            session,
            election,
            principal,
            status=body.status,
            election_date=body.date,
            trust_group_id=body.trust_group_id,
            description=body.description,
        )
    except WRITE_ERRORS as error:
        raise _errors_as_api(error) from None
    return elections.election_json(election, elections.trust_group_names(session).get(election.trust_group_id or 0))


@api.get("/elections/{election_id}/coverage")
def api_coverage(
    election_id: int,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    election = _election_or_404(session, election_id)
    cov = coverage.compute(session, principal, election)
    return {
        "election": elections.election_json(election),
        "framework_imported": cov.framework_imported,
        "campaigns": [v.campaign.id for v in cov.views],
        "techniques": [
            {
                "id": c.external_id,
                "name": c.name,
                "campaigns": c.campaign_count,
                "organisations": c.organisation_count,
                "countermeasures": [
                    {"name": m.name, "status": m.status, "organisation": m.org_name} for m in c.countermeasures
                ],
            }
            for c in sorted(cov.cells.values(), key=lambda c: c.external_id)
        ],
    }


@api.post("/elections/{election_id}/countermeasures", status_code=201)
def api_countermeasure(
    election_id: int,
    body: CountermeasureIn,
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    election = _election_or_404(session, election_id)
    try:
        measure = authoring.add_countermeasure(
            session, principal, election, body.technique, body.name, body.description, body.status
        )
    except WRITE_ERRORS as error:
        raise _errors_as_api(error) from None
    return {
        "id": measure.id,
        "technique": measure.technique_external_id,
        "name": measure.name,
        "status": measure.status,
    }


@api.post("/campaigns", status_code=201)
def api_create_campaign(
    body: CampaignIn,
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    try:
        campaign = authoring.create_campaign(
            session,
            principal,
            authoring.CampaignInput(
                name=body.name,
                election_id=body.election_id,
                description=body.description,
                tlp=_tlp(body.tlp),
                techniques=body.techniques,
                technique_evidence=body.evidence,
                evidence_urls=body.evidence_urls,
                actors=body.actors,
                narratives=body.narratives,
                first_seen=body.first_seen,
                org_ids=body.org_ids,
                trust_group_ids=body.trust_group_ids,
                member_ids=body.member_ids,
            ),
        )
    except WRITE_ERRORS as error:
        raise _errors_as_api(error) from None
    return campaign


@api.get("/campaigns/{campaign_id}")
def api_campaign(
    campaign_id: str,
    principal: Principal = Depends(current_principal),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return _view_json(_campaign_view(session, principal, campaign_id))


@api.post("/campaigns/{campaign_id}/techniques", status_code=201)
def api_map_technique(
    campaign_id: str,
    body: TechniqueMappingIn,
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    try:
        return authoring.map_technique(
            session, principal, campaign_id, body.technique, body.evidence, body.evidence_urls
        )
    except WRITE_ERRORS as error:
        raise _errors_as_api(error) from None


@api.post("/campaigns/{campaign_id}/elections", status_code=201)
def api_link_election(
    campaign_id: str,
    body: ElectionLinkIn,
    principal: Principal = Depends(require_writer),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    election = _election_or_404(session, body.election_id)
    try:
        return authoring.link_election(session, principal, campaign_id, election)
    except WRITE_ERRORS as error:
        raise _errors_as_api(error) from None


@api.get("/techniques")
def api_techniques(session: Session = Depends(db_session, scope="function")) -> dict[str, Any]:
    tactics = list(session.scalars(select(Tactic).order_by(Tactic.position)))
    shortnames = coverage.tactic_shortnames(session)
    by_short = {t.shortname: t.external_id for t in tactics}
    return {
        "tactics": [{"id": t.external_id, "name": t.name, "shortname": t.shortname} for t in tactics],
        "techniques": [
            {
                "id": t.external_id,
                "name": t.name,
                "parent": t.parent_external_id,
                "tactics": [by_short[s] for s in shortnames.get(t.external_id, [])],
                "placeholder": t.is_placeholder,
            }
            for t in session.scalars(select(Technique).order_by(Technique.external_id))
        ],
    }
