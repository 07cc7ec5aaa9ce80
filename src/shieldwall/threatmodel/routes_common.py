"""What the threat model's pages and JSON API share: lookups that answer 404, forms, error mapping, JSON views."""

from __future__ import annotations

import hmac
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange.auth import csrf_token
from shieldwall.exchange.deps import SESSION_COOKIE, ApiError
from shieldwall.exchange.policy import Principal
from shieldwall.stix.tlp import TLP
from shieldwall.threatmodel import authoring, countermeasures, elections
from shieldwall.threatmodel.graph import CampaignGraph, CampaignView
from shieldwall.threatmodel.tables import Election

# An id in a request body: a 32-bit positive integer, so a larger number is a 422 naming the field, never a
# database error.
DbId = Annotated[int, Field(ge=1, le=elections.MAX_ID)]
# The calendar's country filter: an ISO 3166-1 alpha-2 code (or nothing).
COUNTRY_FILTER = r"^([A-Za-z]{2})?$"


class Body(BaseModel):
    """A JSON request body: its text never carries NUL characters (PostgreSQL cannot store them), so they are
    refused with a 422 naming the field rather than reaching the database."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("must not contain NUL characters")
        return value


WRITE_ERRORS = (
    authoring.AuthoringError,
    elections.ElectionError,
    countermeasures.CountermeasureError,
    authoring.NotVisible,
    countermeasures.Hidden,
    PermissionError,
)


def as_api_error(error: Exception) -> ApiError:
    """Hidden things answer 404 (never 403, so existence does not leak); refusals of what the caller may
    read 403; references to what does not exist (or may not be named) 422; other bad input 400."""
    if isinstance(error, (authoring.NotVisible, countermeasures.Hidden)):
        return ApiError(404, str(error))
    if isinstance(error, PermissionError):
        return ApiError(403, str(error))
    if isinstance(error, (authoring.UnknownReference, elections.UnknownReference)):
        return ApiError(422, str(error))
    return ApiError(400, str(error))


def election_or_404(session: Session, election_id: int) -> Election:
    election = elections.get_election(session, election_id)
    if election is None:
        raise ApiError(404, f"no election {election_id}")
    return election


def election_to_change(session: Session, principal: Principal, election_id: int) -> Election:
    """Elections are public, so anyone may know one exists: a caller who may not change it gets 403."""
    election = election_or_404(session, election_id)
    if not elections.may_change(principal, election):
        raise ApiError(403, "only the organisation that created this election may change it")
    return election


def csrf_for(request: Request) -> str:
    cookie = request.cookies.get(SESSION_COOKIE)
    return csrf_token(request.app.state.settings.secret_key, cookie) if cookie else ""


async def read_form(request: Request) -> dict[str, Any]:
    """A posted form; cookie-authenticated posts must carry the page's CSRF token (token-authenticated
    API clients send no cookie and need none)."""
    form = await request.form()
    data: dict[str, Any] = {key: form.getlist(key) if len(form.getlist(key)) > 1 else form.get(key) for key in form}
    if "authorization" not in request.headers:
        expected = csrf_for(request)
        if not expected or not hmac.compare_digest(str(data.get("csrf", "")), expected):
            raise ApiError(403, "the form has expired or did not come from this site; reload the page and retry")
    return data


def lines(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value or "")
    return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]


def back(url: str, *, error: str | None = None, ok: str | None = None) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    if error:
        url += f"{sep}error={quote(error)}"
    elif ok:
        url += f"{sep}ok={quote(ok)}"
    return RedirectResponse(url, status_code=303)


def parse_election_form(data: dict[str, Any]) -> elections.ElectionInput:
    try:
        when = date.fromisoformat(str(data.get("date", "")))
    except ValueError:
        raise elections.ElectionError(f"date {data.get('date')!r} is not a date (YYYY-MM-DD)") from None
    group = str(data.get("trust_group_id") or "").strip()
    if group and not group.isdigit():
        raise elections.UnknownReference(f"trust_group_id {group!r}: no such trust group")
    return elections.ElectionInput(
        country=str(data.get("country", "")).strip().upper(),
        level=str(data.get("level", "")).strip(),
        name=str(data.get("name", "")),
        election_date=when,
        trust_group_id=int(group) if group else None,
        status=str(data.get("status") or "scheduled"),
        description=str(data.get("description") or ""),
    )


def parse_tlp(value: Any, default: TLP = TLP.AMBER) -> TLP:
    if value in (None, ""):
        return default
    try:
        return TLP.parse(str(value))
    except ValueError as error:
        raise authoring.AuthoringError(f"tlp: {error}") from None


def view_json(view: CampaignView) -> dict[str, Any]:
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


def campaign_view(session: Session, principal: Principal, campaign_id: str) -> CampaignView:
    valid = authoring.CAMPAIGN_ID.fullmatch(campaign_id) is not None
    views = CampaignGraph(session, principal).views([campaign_id], with_notes=True) if valid else []
    if not views:
        raise ApiError(404, f"no campaign {campaign_id}")
    return views[0]


def elections_by_stix(session: Session) -> dict[str, Election]:
    return {e.stix_id: e for e in session.scalars(select(Election))}
