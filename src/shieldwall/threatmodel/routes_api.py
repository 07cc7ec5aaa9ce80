"""The threat model's JSON API (/api/threatmodel/...).

Each route declares its access rule (shieldwall.exchange.access). Objects a route names are checked in the
handler: what the caller may not read answers 404; what it may read but not change answers 403; ids and
references that name nothing answer 404 (in the path) or 422 (in the body), never a database error.
"""

from __future__ import annotations

import datetime
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange import access
from shieldwall.exchange.deps import ApiError, db_session
from shieldwall.exchange.policy import Principal
from shieldwall.threatmodel import authoring, countermeasures, coverage, elections
from shieldwall.threatmodel.routes_common import (
    COUNTRY_FILTER,
    WRITE_ERRORS,
    Body,
    DbId,
    as_api_error,
    campaign_view,
    election_or_404,
    election_to_change,
    parse_tlp,
    view_json,
)
from shieldwall.threatmodel.tables import COUNTERMEASURE_STATUSES, ELECTION_LEVELS, Tactic, Technique

# Writes take `Depends(db_session, scope="function")`: the transaction commits before the response goes
# out, so a client that reads right after a 201 sees what it wrote.
api = APIRouter(prefix="/api/threatmodel", tags=["threat model"])


class ElectionIn(Body):
    country: str = Field(description="ISO 3166-1 alpha-2, e.g. BR")
    level: str = Field(description=f"one of {', '.join(ELECTION_LEVELS)}")
    name: str
    date: date
    trust_group_id: DbId | None = Field(None, description="one of your organisation's trust groups")
    status: str = "scheduled"
    description: str = ""


class ElectionPatch(Body):
    status: str | None = None
    date: datetime.date | None = None
    trust_group_id: DbId | None = Field(None, description="one of your organisation's trust groups")
    description: str | None = None


class CampaignIn(Body):
    name: str
    election_id: DbId | None = None
    description: str = ""
    tlp: str = "amber"
    techniques: list[str] = Field(default_factory=list, description="DISARM ids, e.g. T0049.001")
    evidence: str = ""
    evidence_urls: list[str] = Field(default_factory=list)
    actors: list[str] = Field(default_factory=list)
    narratives: list[str] = Field(default_factory=list)
    first_seen: str | None = None
    org_ids: list[DbId] = Field(default_factory=list, description="organisations (AMBER, AMBER+STRICT)")
    trust_group_ids: list[DbId] = Field(default_factory=list, description="your organisation's trust groups")
    member_ids: list[DbId] = Field(default_factory=list, description="members (TLP:RED)")


class TechniqueMappingIn(Body):
    technique: str = Field(description="DISARM id, e.g. T0049.001")
    evidence: str = ""
    evidence_urls: list[str] = Field(default_factory=list)


class ElectionLinkIn(Body):
    election_id: DbId


class CountermeasureIn(Body):
    technique: str
    name: str
    description: str = ""
    status: str = Field("in place", description=f"one of {', '.join(COUNTERMEASURE_STATUSES)}")


class CountermeasurePatch(Body):
    status: str | None = None
    description: str | None = None


@api.get("/elections")
def api_elections(
    upcoming: bool = False,
    country: str = Query("", pattern=COUNTRY_FILTER, description="ISO 3166-1 alpha-2 code"),
    principal: Principal = Depends(access.anyone()),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    groups = elections.trust_group_names(session, principal)
    rows = elections.list_elections(session, upcoming_from=date.today() if upcoming else None, country=country or None)
    return [elections.election_json(e, groups, principal) for e in rows]


@api.post("/elections", status_code=201)
def api_create_election(
    body: ElectionIn,
    principal: Principal = Depends(access.writer()),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    data = elections.ElectionInput(
        body.country.upper(), body.level, body.name, body.date, body.trust_group_id, body.status, body.description
    )
    try:
        election = elections.create_election(session, data, principal, by_member=True)
    except WRITE_ERRORS as error:
        raise as_api_error(error) from None
    return elections.election_json(election, elections.trust_group_names(session, principal), principal)


@api.patch("/elections/{election_id}")
def api_update_election(
    election_id: int,
    body: ElectionPatch,
    principal: Principal = Depends(access.writer("owner")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    election = election_to_change(session, principal, election_id)
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
        raise as_api_error(error) from None
    return elections.election_json(election, elections.trust_group_names(session, principal), principal)


@api.get("/elections/{election_id}/coverage")
def api_coverage(
    election_id: int,
    all_techniques: bool = False,
    principal: Principal = Depends(access.anyone("visible")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    election = election_or_404(session, election_id)
    cov = coverage.compute(session, principal, election, show_all=all_techniques)
    return {
        "election": elections.election_json(election, elections.trust_group_names(session, principal), principal),
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


@api.get("/elections/{election_id}/countermeasures")
def api_countermeasures(
    election_id: int,
    principal: Principal = Depends(access.anyone("visible")),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    election = election_or_404(session, election_id)
    return [countermeasures.as_json(m) for m in countermeasures.visible_for(session, principal, election.id)]


@api.post("/elections/{election_id}/countermeasures", status_code=201)
def api_countermeasure(
    election_id: int,
    body: CountermeasureIn,
    principal: Principal = Depends(access.writer("visible")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    election = election_or_404(session, election_id)
    try:
        measure = countermeasures.record(
            session, principal, election, body.technique, body.name, body.description, body.status
        )
    except WRITE_ERRORS as error:
        raise as_api_error(error) from None
    return countermeasures.as_json(measure)


@api.patch("/countermeasures/{measure_id}")
def api_update_countermeasure(
    measure_id: int,
    body: CountermeasurePatch,
    principal: Principal = Depends(access.writer("owner")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    try:
        measure = countermeasures.to_change(session, principal, measure_id)
        countermeasures.update(session, measure, status=body.status, description=body.description)
    except WRITE_ERRORS as error:
        raise as_api_error(error) from None
    return countermeasures.as_json(measure)


@api.delete("/countermeasures/{measure_id}", status_code=204)
def api_delete_countermeasure(
    measure_id: int,
    principal: Principal = Depends(access.writer("owner")),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    try:
        measure = countermeasures.to_change(session, principal, measure_id)
    except WRITE_ERRORS as error:
        raise as_api_error(error) from None
    session.delete(measure)
    return Response(status_code=204)


@api.post("/campaigns", status_code=201)
def api_create_campaign(
    body: CampaignIn,
    principal: Principal = Depends(access.writer()),
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
                tlp=parse_tlp(body.tlp),
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
        raise as_api_error(error) from None
    return campaign


@api.get("/campaigns/{campaign_id}")
def api_campaign(
    campaign_id: str,
    principal: Principal = Depends(access.anyone("visible")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    return view_json(campaign_view(session, principal, campaign_id))


@api.post("/campaigns/{campaign_id}/techniques", status_code=201)
def api_map_technique(
    campaign_id: str,
    body: TechniqueMappingIn,
    principal: Principal = Depends(access.writer("owner")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    try:
        return authoring.map_technique(
            session, principal, campaign_id, body.technique, body.evidence, body.evidence_urls
        )
    except WRITE_ERRORS as error:
        raise as_api_error(error) from None


@api.post("/campaigns/{campaign_id}/elections", status_code=201)
def api_link_election(
    campaign_id: str,
    body: ElectionLinkIn,
    principal: Principal = Depends(access.writer("owner")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    try:
        authoring.owned_campaign(session, principal, campaign_id)  # refusals before the body's references
        election = elections.get_election(session, body.election_id)
        if election is None:
            raise ApiError(422, f"election_id {body.election_id}: no such election")
        return authoring.link_election(session, principal, campaign_id, election)
    except WRITE_ERRORS as error:
        raise as_api_error(error) from None


@api.get("/techniques", dependencies=[Depends(access.anyone())])
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
