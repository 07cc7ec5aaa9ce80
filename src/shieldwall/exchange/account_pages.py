"""Account pages: your API tokens; your organisation's members and trust groups (admins); the audit log (the
hub operator). A newcomer needs neither the CLI nor the REST API to get a TAXII token.

Every form posts with the CSRF token and every route declares its access rule. The work is done by the REST
API's own functions (rest_directory) and the directory, so a page can do no more than the API, and both
audit the same way. What the caller may not see answers 404, as in the API.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange import access, directory, rest_directory
from shieldwall.exchange.access import PAGE
from shieldwall.exchange.audit import record
from shieldwall.exchange.deps import db_session, token_cache
from shieldwall.exchange.pages import check_csrf, csrf_for
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import ROLES, AuditEntry, Member, Organisation
from shieldwall.store.base import utcnow
from shieldwall.web.templating import render

router = APIRouter(prefix="/account", include_in_schema=False)

INT_MAX = 2**31 - 1  # Integer primary keys on PostgreSQL
BIGINT_MAX = 2**63 - 1
EXPIRIES = {"30": 30, "90": 90, "365": 365, "never": None}
AUDIT_PAGE = 50


def _id(value: str, what: str, limit: int = INT_MAX) -> int:
    """A path id as an int; anything else (text, 0, beyond the column) is simply not there."""
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= limit:
        raise HTTPException(404, f"no {what} {value[:40]!r}")
    return int(value)


def _when(value: datetime | None, empty: str = "—") -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else empty


def _invalid(error: ValidationError) -> str:
    """The first problem of a form, naming the field."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or "form"
    return f"{field}: {first.get('msg', 'invalid')}"


def _control_characters(**fields: str | list[str]) -> str | None:
    """A message naming the first field holding a control character (NUL and the like: no name, e-mail or slug
    needs one, and PostgreSQL text cannot store NUL), else None."""
    for name, value in fields.items():
        for text in [value] if isinstance(value, str) else value:
            if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
                return f"{name}: control characters (such as NUL) are not allowed"
    return None


def _page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    context.setdefault("csrf", csrf_for(request))
    return render(request, template, context, status_code=status)


# ------------------------------------------------------------------------------------------- my tokens


def _token_rows(session: Session, principal: Principal) -> list[dict[str, Any]]:
    now = utcnow()
    rows = []
    for token in rest_directory.tokens(principal, session):
        if token["revoked_at"]:
            state = f"revoked {_when(token['revoked_at'])}"
        elif token["expires_at"] and token["expires_at"] <= now:
            state = "expired"
        else:
            state = "active"
        rows.append(
            {
                **token,
                "created": _when(token["created_at"]),
                "last_used": _when(token["last_used_at"], "never"),
                "expires": _when(token["expires_at"], "never"),
                "state": state,
            }
        )
    return rows


def _tokens_page(request: Request, session: Session, principal: Principal, status: int = 200, **extra: Any) -> Response:
    context = {"tokens": _token_rows(session, principal), "principal": principal, "error": None, **extra}
    response = _page(request, "exchange/account_tokens.html", context, status)
    if extra.get("new_token"):
        response.headers["Cache-Control"] = "no-store"  # the one time a token is shown: no copy in any cache
    return response


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(
    request: Request,
    principal: Principal = Depends(access.member("own", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return _tokens_page(request, session, principal)


@router.post("/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    csrf: str = Form(""),
    name: str = Form(""),
    expires: str = Form("90"),
    principal: Principal = Depends(access.member("own", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(request, csrf)
    name = name.strip()
    error = _control_characters(name=name)
    if error is None and (not name or len(name) > 200):
        error = "name: give the token a name of 1 to 200 characters (e.g. the tool that will use it)"
    if error is None and expires not in EXPIRIES:
        error = f"expires: choose one of {', '.join(EXPIRIES)}"
    if error is not None:
        return _tokens_page(request, session, principal, 422, error=error)
    days = EXPIRIES[expires]
    expires_at = utcnow() + timedelta(days=days) if days else None
    issued = rest_directory.issue_token(rest_directory.TokenIn(name=name, expires_at=expires_at), principal, session)
    # Shown in this response only: the hub keeps the hash, and no later page can show it again.
    return _tokens_page(request, session, principal, new_token=issued["token"], new_name=name)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(
    request: Request,
    token_id: str,
    csrf: str = Form(""),
    principal: Principal = Depends(access.member("own", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(request, csrf)
    rest_directory.revoke_token(_id(token_id, "token of yours"), request, principal, session)
    return RedirectResponse("/account/tokens", status_code=303)


# --------------------------------------------------------------------------------------------- members

NOTICES = {
    "added": "Member added. Give them their e-mail and password; they can sign in now.",
    "role": "Role changed; it applies from their next request.",
    "deactivated": "Member deactivated: their sessions ended and their tokens no longer work.",
}


def _members_page(
    request: Request, session: Session, principal: Principal, slug: str, status: int = 200, **extra: Any
) -> Response:
    members = rest_directory.members(slug, principal, session)  # 404 unless it is the caller's organisation
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    context = {
        "org": org,
        "members": members,
        "roles": ROLES,
        # The operator may manage any organisation's members; an admin only their own.
        "organisations": directory.organisations_for(session, principal) if principal.is_operator else [],
        "principal": principal,
        "error": None,
        "notice": None,
        **extra,
    }
    return _page(request, "exchange/account_members.html", context, status)


def _back_to_members(slug: str, done: str) -> Response:
    return RedirectResponse(f"/account/members?{urlencode({'org': slug, 'done': done})}", status_code=303)


@router.get("/members", response_class=HTMLResponse)
def members_page(
    request: Request,
    org: str = "",
    done: str = "",
    principal: Principal = Depends(access.admin("own", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return _members_page(request, session, principal, org or principal.org_slug, notice=NOTICES.get(done))


@router.post("/members", response_class=HTMLResponse)
def add_member(
    request: Request,
    csrf: str = Form(""),
    org: str = Form(""),
    email: str = Form(""),
    name: str = Form(""),
    role: str = Form("reader"),
    password: str = Form(""),
    principal: Principal = Depends(access.admin("own", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(request, csrf)
    slug = org or principal.org_slug
    problem = _control_characters(org=org, email=email, name=name, role=role)
    if problem is not None:
        return _members_page(request, session, principal, principal.org_slug, 422, error=problem)
    try:
        # The page always sets a password: without one the newcomer could neither sign in nor get a token.
        body = rest_directory.MemberIn(email=email.strip(), name=name.strip(), role=role, password=password)
        with session.begin_nested():
            rest_directory.add_member(slug, body, principal, session)
    except ValidationError as error:
        return _members_page(request, session, principal, slug, 422, error=_invalid(error))
    except HTTPException as error:
        if error.status_code != 422:
            raise
        return _members_page(request, session, principal, slug, 422, error=str(error.detail))
    return _back_to_members(slug, "added")


def _member_of_yours(session: Session, principal: Principal, member_id: str) -> tuple[Member, Organisation]:
    """The member and its organisation when it is the caller's organisation (any, for the operator), else 404."""
    member = session.get(Member, _id(member_id, "member of your organisation"))
    org = session.get(Organisation, member.org_id) if member is not None else None
    if member is None or org is None or not (principal.is_operator or org.id == principal.org_id):
        raise HTTPException(404, f"no member {member_id[:40]!r} of your organisation")
    return member, org


@router.post("/members/{member_id}/role", response_class=HTMLResponse)
def change_role(
    request: Request,
    member_id: str,
    csrf: str = Form(""),
    role: str = Form(""),
    principal: Principal = Depends(access.admin("own", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(request, csrf)
    member, org = _member_of_yours(session, principal, member_id)
    if member.id == principal.member_id:
        error = "you may not change your own role; ask another admin"
        return _members_page(request, session, principal, org.slug, 422, error=error)
    try:
        old = directory.set_role(session, member, role)
    except directory.DirectoryError as error:
        return _members_page(request, session, principal, org.slug, 422, error=f"role: {error}")
    # Tokens remember who they speak for for a few seconds: forget that once the change is committed.
    session.info.setdefault("after_commit", []).append(token_cache(request).clear)
    record(session, principal, "change-role", target=member.email, detail={"from": old, "to": role})
    return _back_to_members(org.slug, "role")


@router.post("/members/{member_id}/deactivate", response_class=HTMLResponse)
def deactivate_member(
    request: Request,
    member_id: str,
    csrf: str = Form(""),
    principal: Principal = Depends(access.admin("own", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(request, csrf)
    member, org = _member_of_yours(session, principal, member_id)
    try:
        rest_directory.deactivate_member(org.slug, member.id, request, principal, session)
    except HTTPException as error:
        if error.status_code != 422:
            raise
        return _members_page(request, session, principal, org.slug, 422, error=str(error.detail))
    return _back_to_members(org.slug, "deactivated")


# ---------------------------------------------------------------------------------------- trust groups


def _groups_page(request: Request, session: Session, principal: Principal, status: int = 200, **extra: Any) -> Response:
    organisations = directory.organisations_for(session, principal)
    context = {
        # Its own organisation's groups for an admin; every group for the operator, who manages them.
        "groups": rest_directory.trust_groups(principal, session),
        "names": {o.slug: o.name for o in organisations},
        "organisations": [o for o in organisations if o.kind != "hub"],
        "principal": principal,
        "error": None,
        **extra,
    }
    return _page(request, "exchange/account_groups.html", context, status)


@router.get("/groups", response_class=HTMLResponse)
def groups_page(
    request: Request,
    principal: Principal = Depends(access.admin("own", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return _groups_page(request, session, principal)


@router.post("/groups", response_class=HTMLResponse)
def create_group(
    request: Request,
    csrf: str = Form(""),
    name: str = Form(""),
    slug: str = Form(""),
    description: str = Form(""),
    organisations: list[str] = Form([]),
    principal: Principal = Depends(access.operator(via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(request, csrf)
    problem = _control_characters(name=name, slug=slug, description=description, organisations=organisations)
    if problem is not None:
        return _groups_page(request, session, principal, 422, error=problem)
    try:
        body = rest_directory.TrustGroupIn(
            name=name.strip(), description=description.strip(), organisations=organisations, slug=slug.strip() or None
        )
        with session.begin_nested():
            rest_directory.create_trust_group(body, principal, session)
    except ValidationError as error:
        return _groups_page(request, session, principal, 422, error=_invalid(error))
    except HTTPException as error:
        return _groups_page(request, session, principal, 422, error=str(error.detail))
    return RedirectResponse("/account/groups", status_code=303)


@router.post("/groups/{slug}/organisations", response_class=HTMLResponse)
def add_to_group(
    request: Request,
    slug: str,
    csrf: str = Form(""),
    organisation: str = Form(""),
    principal: Principal = Depends(access.operator(via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(request, csrf)
    rest_directory.add_group_member(slug, organisation, request, principal, session)
    return RedirectResponse("/account/groups", status_code=303)


@router.post("/groups/{slug}/organisations/{org_slug}/remove", response_class=HTMLResponse)
def remove_from_group(
    request: Request,
    slug: str,
    org_slug: str,
    csrf: str = Form(""),
    principal: Principal = Depends(access.operator(via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    check_csrf(request, csrf)
    rest_directory.remove_group_member(slug, org_slug, request, principal, session)
    return RedirectResponse("/account/groups", status_code=303)


# ------------------------------------------------------------------------------------------- audit log


def _time(value: str, name: str, *, end: bool = False) -> datetime | None:
    """A date (YYYY-MM-DD: the whole day) or a date and time, read as UTC when it names no zone."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{name}: {value[:40]!r} is not a date (YYYY-MM-DD) or a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(value.strip()) == 10:  # "until 2026-10-01" includes that day
        moment += timedelta(days=1)
    return moment


def audit_statement(principal: Principal) -> Any:
    """The entries principal may read, newest first: everything for the operator (sealed sources included),
    its own organisation's unsealed entries for anyone else (the REST API's rule)."""
    statement = select(AuditEntry).order_by(AuditEntry.id.desc())
    if not principal.is_operator:
        statement = statement.where(AuditEntry.org_id == principal.org_id, AuditEntry.sealed.is_(False))
    return statement


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    action: str = "",
    organisation: str = "",
    since: str = "",
    until: str = "",
    before: str = "",
    principal: Principal = Depends(access.operator(via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    filters = {"action": action, "organisation": organisation, "since": since, "until": until}
    statement = audit_statement(principal)
    error = None
    try:
        if action:
            statement = statement.where(AuditEntry.action == action[:40])
        if organisation:
            org_id = session.scalar(select(Organisation.id).where(Organisation.slug == organisation[:64]))
            if org_id is None:
                raise ValueError(f"organisation: no organisation {organisation[:64]!r}")
            statement = statement.where(AuditEntry.org_id == org_id)
        start, stop = _time(since, "since"), _time(until, "until", end=True)
        if start is not None:
            statement = statement.where(AuditEntry.at >= start)
        if stop is not None:
            statement = statement.where(AuditEntry.at < stop)
        if before:
            if not (before.isascii() and before.isdigit() and 0 < int(before) <= BIGINT_MAX):
                raise ValueError("before: not a page of this log (follow the Older link)")
            statement = statement.where(AuditEntry.id < int(before))
    except ValueError as problem:
        error, entries = str(problem), []
    else:
        entries = list(session.scalars(statement.limit(AUDIT_PAGE + 1)))
    more = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    member_ids = {e.member_id for e in entries if e.member_id is not None}
    emails = dict(session.execute(select(Member.id, Member.email).where(Member.id.in_(member_ids))).tuples().all())
    orgs = {o.id: o for o in directory.organisations_for(session, principal)}
    rows = [
        {
            "id": e.id,
            "at": e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "who": emails.get(e.member_id, "") if e.member_id is not None else "system",
            "org": orgs[e.org_id].slug if e.org_id in orgs else "",
            "action": e.action,
            "target": e.target,
            "tlp": e.tlp,
            "sealed": e.sealed,
            "detail": orjson.dumps(e.detail).decode()[:300] if e.detail else "",
        }
        for e in entries
    ]
    # Suggestions for the action filter from recent entries (a DISTINCT over the whole log would scan it).
    recent = audit_statement(principal).limit(2000).subquery()
    actions = sorted(set(session.scalars(select(recent.c.action))))
    next_url = (
        "/account/audit?" + urlencode({**{k: v for k, v in filters.items() if v}, "before": entries[-1].id})
        if more and entries
        else None
    )
    context = {
        "rows": rows,
        "filters": filters,
        "actions": actions,
        "organisations": list(orgs.values()),
        "error": error,
        "next_url": next_url,
        "first_url": "/account/audit?" + urlencode({k: v for k, v in filters.items() if v}) if before else None,
        "principal": principal,
    }
    return _page(request, "exchange/account_audit.html", context, 400 if error else 200)
