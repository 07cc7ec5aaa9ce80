"""REST API: organisations, members, API tokens, trust groups, collections, audit log.

The directory is shown only to those entitled: a visitor sees nothing; a guest organisation's member
its own organisation; members of member organisations the list of organisations, but the members of
their own organisation only; a trust group only to its organisations (the hub operator sees them all).
What the caller may not see answers 404, as if it did not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange import access, directory
from shieldwall.exchange.audit import as_dict as audit_dict
from shieldwall.exchange.audit import record
from shieldwall.exchange.deps import db_session, token_cache
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import (
    ApiToken,
    AuditEntry,
    Collection,
    Member,
    Organisation,
    TrustGroup,
    TrustGroupMember,
)
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow

router = APIRouter(prefix="/api/v1", tags=["directory"])
# Ids are Integer columns (32 bits on PostgreSQL): one beyond them is refused naming the parameter, before any query.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _bad(error: Exception) -> HTTPException:
    return HTTPException(422, str(error))


def org_json(org: Organisation) -> dict[str, Any]:
    return {
        "slug": org.slug,
        "name": org.name,
        "kind": org.kind,
        "country": org.country,
        "is_member": org.is_member,
        "identity": org.identity_id,
    }


@router.get("/me")
def me(principal: Principal = Depends(access.member("own"))) -> dict[str, Any]:
    return {
        "email": principal.email,
        "role": principal.role,
        "organisation": principal.org_slug,
        "is_operator": principal.is_operator,
        "trust_groups": sorted(principal.trust_group_ids),
    }


class OrganisationIn(BaseModel):
    name: str = Field(min_length=2, max_length=200)
    kind: str
    country: str | None = Field(None, description="ISO 3166-1 alpha-2")
    is_member: bool = True
    slug: str | None = None


@router.get("/organisations")
def organisations(
    principal: Principal = Depends(access.member("visible")), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    return [org_json(o) for o in directory.organisations_for(session, principal)]


@router.post("/organisations", status_code=201)
def create_organisation(
    body: OrganisationIn,
    principal: Principal = Depends(access.operator()),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    try:
        org = directory.create_org(
            session, body.name, body.kind, body.country, is_member=body.is_member, slug=body.slug
        )
    except directory.DirectoryError as error:
        raise _bad(error) from None
    record(session, principal, "create-organisation", target=org.slug)
    return org_json(org)


class MemberIn(BaseModel):
    email: str = Field(max_length=directory.MAX_EMAIL)
    name: str = Field("", max_length=200)
    role: str = Field("analyst", max_length=40)
    password: str | None = Field(None, min_length=8, max_length=1024)


def member_json(m: Member) -> dict[str, Any]:
    return {"id": m.id, "email": m.email, "name": m.name, "role": m.role, "active": m.is_active}


@router.get("/organisations/{slug}/members")
def members(
    slug: str,
    principal: Principal = Depends(access.member("own")),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    org = _own_org(session, principal, slug)
    return [
        member_json(m) for m in session.scalars(select(Member).where(Member.org_id == org.id).order_by(Member.email))
    ]


@router.post("/organisations/{slug}/members", status_code=201)
def add_member(
    slug: str,
    body: MemberIn,
    principal: Principal = Depends(access.admin("own")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    """An admin adds a member to their own organisation (the hub operator, to any)."""
    org = _own_org(session, principal, slug)
    try:
        member = directory.create_member(
            session, org, body.email, body.name or body.email, body.role, password=body.password
        )
    except directory.DirectoryError as error:
        raise _bad(error) from None
    record(session, principal, "add-member", target=member.email)
    return member_json(member)


@router.delete("/organisations/{slug}/members/{member_id}")
def deactivate_member(
    slug: str,
    member_id: RowId,
    request: Request,
    principal: Principal = Depends(access.admin("own")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    """Deactivate a member of your organisation: no more sign-in or token use; their web sessions end now."""
    org = _own_org(session, principal, slug)
    member = session.get(Member, member_id)
    if member is None or member.org_id != org.id:
        raise HTTPException(404, f"no member {member_id} in {slug!r}")
    if member.id == principal.member_id:
        raise HTTPException(422, "you may not deactivate yourself; ask another admin")
    directory.deactivate_member(session, member)
    session.info.setdefault("after_commit", []).append(token_cache(request).clear)
    record(session, principal, "deactivate-member", target=member.email)
    return member_json(member)


def _org(session: Session, slug: str) -> Organisation:
    try:
        return directory.org_by_slug(session, slug)
    except directory.DirectoryError as error:
        raise HTTPException(404, str(error)) from None


def _own_org(session: Session, principal: Principal, slug: str) -> Organisation:
    """The caller's own organisation (any, for the hub operator); another one answers as if missing."""
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None or not (principal.is_operator or org.id == principal.org_id):
        raise HTTPException(404, f"no organisation {slug!r} of yours")
    return org


class TokenIn(BaseModel):
    name: str = Field("api", max_length=200)
    expires_at: datetime | None = Field(None, description="UTC; omit for no expiry")


def token_json(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "revoked_at": t.revoked_at,
        "last_used_at": t.last_used_at,
    }


@router.get("/tokens")
def tokens(
    principal: Principal = Depends(access.member("own")), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    rows = session.scalars(select(ApiToken).where(ApiToken.member_id == principal.member_id).order_by(ApiToken.id))
    return [token_json(t) for t in rows]


@router.post("/tokens", status_code=201)
def issue_token(
    body: TokenIn,
    principal: Principal = Depends(access.member("own")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    """Issue a token for yourself. The token is in this response only; the hub keeps its hash."""
    member = session.get(Member, principal.member_id)
    assert member is not None
    expires = body.expires_at
    if expires is not None and expires.tzinfo is None:
        raise HTTPException(422, "expires_at needs a time zone (e.g. 2027-01-01T00:00:00Z)")
    if expires is not None and expires <= utcnow():
        raise HTTPException(422, "expires_at is in the past")
    token, row = directory.create_token(session, member, body.name, expires)
    record(session, principal, "issue-token", target=row.prefix)
    return {**token_json(row), "token": token}


@router.delete("/tokens/{token_id}")
def revoke_token(
    token_id: RowId,
    request: Request,
    principal: Principal = Depends(access.member("own")),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    row = session.get(ApiToken, token_id)
    owner = session.get(Member, row.member_id) if row else None
    allowed = owner is not None and (
        owner.id == principal.member_id
        or principal.is_operator
        or (principal.is_admin and owner.org_id == principal.org_id)
    )
    if row is None or not allowed:
        raise HTTPException(404, f"no token {token_id} of yours")
    row.revoked_at = row.revoked_at or utcnow()
    session.info.setdefault("after_commit", []).append(token_cache(request).clear)
    record(session, principal, "revoke-token", target=row.prefix)
    return token_json(row)


class TrustGroupIn(BaseModel):
    name: str = Field(min_length=2, max_length=200)
    description: str = ""
    organisations: list[str] = Field(default_factory=list, description="organisation slugs")
    slug: str | None = None


def group_json(session: Session, g: TrustGroup) -> dict[str, Any]:
    orgs = session.scalars(
        select(Organisation.slug)
        .join(TrustGroupMember, TrustGroupMember.org_id == Organisation.id)
        .where(TrustGroupMember.group_id == g.id)
        .order_by(Organisation.slug)
    ).all()
    return {"id": g.id, "slug": g.slug, "name": g.name, "description": g.description, "organisations": list(orgs)}


@router.get("/trust-groups")
def trust_groups(
    principal: Principal = Depends(access.member("visible")), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    rows = directory.trust_groups_for(session, principal, operator_sees_all=True)
    return [group_json(session, g) for g in rows]


@router.post("/trust-groups", status_code=201)
def create_trust_group(
    body: TrustGroupIn,
    principal: Principal = Depends(access.operator()),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    try:
        ids = [directory.org_by_slug(session, s).id for s in body.organisations]
        group = directory.create_trust_group(session, body.name, body.description, ids, slug=body.slug)
    except directory.DirectoryError as error:
        raise _bad(error) from None
    record(session, principal, "create-trust-group", target=group.slug)
    return group_json(session, group)


@router.put("/trust-groups/{slug}/organisations/{org_slug}")
def add_group_member(
    slug: str,
    org_slug: str,
    request: Request,
    principal: Principal = Depends(access.operator()),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    group, org = _group(session, slug), _org(session, org_slug)
    directory.add_to_group(session, group, org.id)
    session.info.setdefault("after_commit", []).append(token_cache(request).clear)
    record(session, principal, "join-trust-group", target=f"{slug}:{org_slug}")
    return group_json(session, group)


@router.delete("/trust-groups/{slug}/organisations/{org_slug}")
def remove_group_member(
    slug: str,
    org_slug: str,
    request: Request,
    principal: Principal = Depends(access.operator()),
    session: Session = Depends(db_session, scope="function"),
) -> dict[str, Any]:
    group, org = _group(session, slug), _org(session, org_slug)
    directory.remove_from_group(session, group, org.id)
    session.info.setdefault("after_commit", []).append(token_cache(request).clear)
    record(session, principal, "leave-trust-group", target=f"{slug}:{org_slug}")
    return group_json(session, group)


def _group(session: Session, slug: str) -> TrustGroup:
    try:
        return directory.group_by_slug(session, slug)
    except directory.DirectoryError as error:
        raise HTTPException(404, str(error)) from None


@router.get("/collections")
def collections(
    principal: Principal = Depends(access.member("visible")), session: Session = Depends(db_session, scope="function")
) -> list[dict[str, Any]]:
    rows = session.scalars(select(Collection).order_by(Collection.alias))
    return [
        {
            "id": c.id,
            "alias": c.alias,
            "title": c.title,
            "default_tlp": TLP(c.default_tlp).label,
            "trust_group_id": c.trust_group_id,
        }
        for c in rows
        if c.trust_group_id is None or c.trust_group_id in principal.trust_group_ids or principal.is_operator
    ]


@router.get("/audit")
def audit(
    limit: int = 100,
    principal: Principal = Depends(access.admin("own")),
    session: Session = Depends(db_session, scope="function"),
) -> list[dict[str, Any]]:
    """Your organisation's audit entries (admins); every entry, sealed ones included, for the hub operator."""
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(min(max(limit, 1), 1000))
    if not principal.is_operator:
        statement = statement.where(AuditEntry.org_id == principal.org_id, AuditEntry.sealed.is_(False))
    return [audit_dict(e) for e in session.scalars(statement)]
