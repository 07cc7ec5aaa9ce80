"""Organisations, members, trust groups and collections: the hub's directory."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.exchange.auth import end_member_sessions, hash_password, issue_token
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import (
    ORG_KINDS,
    ROLES,
    ApiToken,
    Collection,
    Member,
    Organisation,
    TrustGroup,
    TrustGroupMember,
)
from shieldwall.stix.tlp import TLP

HUB_SLUG = "hub"
DEFAULT_COLLECTION_ALIAS = "election-intel"
MAX_EMAIL = 254  # RFC 5321: the longest address a mail system carries


class DirectoryError(ValueError):
    """A directory request that cannot be honoured; the message says why."""


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64]


def ensure_hub(session: Session, hub_name: str) -> Organisation:
    """The hub operator's organisation and the default collection exist (idempotent)."""
    hub = session.scalar(select(Organisation).where(Organisation.slug == HUB_SLUG))
    if hub is None:
        hub = Organisation(
            slug=HUB_SLUG,
            name=hub_name,
            kind="hub",
            country=None,
            is_member=True,
            identity_id=f"identity--{uuid.uuid4()}",
        )
        session.add(hub)
        session.flush()
    if session.scalar(select(Collection).where(Collection.alias == DEFAULT_COLLECTION_ALIAS)) is None:
        create_collection(
            session,
            DEFAULT_COLLECTION_ALIAS,
            "Election threat intelligence",
            "Hub-wide collection; each object is shared as its TLP marking says.",
            TLP.GREEN,
        )
    return hub


def create_org(
    session: Session, name: str, kind: str, country: str | None, *, is_member: bool = True, slug: str | None = None
) -> Organisation:
    if kind not in ORG_KINDS:
        raise DirectoryError(f"unknown organisation kind {kind!r}; use one of {', '.join(ORG_KINDS)}")
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        raise DirectoryError(f"country {country!r} is not an ISO 3166-1 alpha-2 code (e.g. US, BR)")
    slug = slug or slugify(name)
    if session.scalar(select(Organisation.id).where(Organisation.slug == slug)) is not None:
        raise DirectoryError(f"an organisation with slug {slug!r} exists already")
    org = Organisation(
        slug=slug, name=name, kind=kind, country=country, is_member=is_member, identity_id=f"identity--{uuid.uuid4()}"
    )
    session.add(org)
    session.flush()
    return org


def create_member(
    session: Session,
    org: Organisation,
    email: str,
    name: str,
    role: str,
    *,
    password: str | None = None,
    is_operator: bool = False,
) -> Member:
    if role not in ROLES:
        raise DirectoryError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    email = email.strip().lower()
    # The length first: the address regex backtracks quadratically on a long string with many dots.
    if len(email) > MAX_EMAIL or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise DirectoryError(f"{email!r} is not an e-mail address")
    if session.scalar(select(Member.id).where(Member.email == email)) is not None:
        raise DirectoryError(f"a member with e-mail {email} exists already")
    member = Member(
        org_id=org.id,
        email=email,
        name=name,
        role=role,
        is_operator=is_operator,
        password_hash=hash_password(password) if password else None,
    )
    session.add(member)
    session.flush()
    return member


MIN_PASSWORD = 8


def set_password(session: Session, member: Member, password: str) -> int:
    """A new password; every web session of the member ends (returns how many were live)."""
    if len(password) < MIN_PASSWORD:
        raise DirectoryError(f"the password needs at least {MIN_PASSWORD} characters")
    member.password_hash = hash_password(password)
    return end_member_sessions(session, member.id)


def deactivate_member(session: Session, member: Member) -> int:
    """The member can no longer sign in or use a token; their web sessions end at once."""
    member.is_active = False
    return end_member_sessions(session, member.id)


def set_role(session: Session, member: Member, role: str) -> str:
    """Give member another role; returns the old one. Takes effect at the member's next request (web
    sessions and tokens resolve the role each time; callers clear the token cache after commit)."""
    if role not in ROLES:
        raise DirectoryError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    old, member.role = member.role, role
    session.flush()
    return old


def organisations_for(session: Session, principal: Principal) -> list[Organisation]:
    """The organisations principal may know of: every one for members of member organisations (they
    choose whom to share with) and the operator, its own for a guest organisation, none for a visitor."""
    if not principal.is_authenticated or principal.org_id is None:
        return []
    statement = select(Organisation).order_by(Organisation.name)
    if not (principal.org_is_member or principal.is_operator):
        statement = statement.where(Organisation.id == principal.org_id)
    return list(session.scalars(statement))


def trust_groups_for(session: Session, principal: Principal, *, operator_sees_all: bool = False) -> list[TrustGroup]:
    """The trust groups principal's organisation belongs to (every one for the operator, when asked)."""
    if not principal.is_authenticated:
        return []
    statement = select(TrustGroup).order_by(TrustGroup.name)
    if not (operator_sees_all and principal.is_operator):
        statement = statement.where(TrustGroup.id.in_(sorted(principal.trust_group_ids)))
    return list(session.scalars(statement))


def create_trust_group(
    session: Session, name: str, description: str = "", org_ids: list[int] | None = None, slug: str | None = None
) -> TrustGroup:
    slug = slug or slugify(name)
    if session.scalar(select(TrustGroup.id).where(TrustGroup.slug == slug)) is not None:
        raise DirectoryError(f"a trust group with slug {slug!r} exists already")
    group = TrustGroup(slug=slug, name=name, description=description)
    session.add(group)
    session.flush()
    for org_id in org_ids or []:
        add_to_group(session, group, org_id)
    return group


def add_to_group(session: Session, group: TrustGroup, org_id: int) -> None:
    if session.get(Organisation, org_id) is None:
        raise DirectoryError(f"no organisation with id {org_id}")
    if session.get(TrustGroupMember, (group.id, org_id)) is None:
        session.add(TrustGroupMember(group_id=group.id, org_id=org_id))
        session.flush()


def remove_from_group(session: Session, group: TrustGroup, org_id: int) -> None:
    row = session.get(TrustGroupMember, (group.id, org_id))
    if row is not None:
        session.delete(row)
        session.flush()


def create_collection(
    session: Session,
    alias: str,
    title: str,
    description: str = "",
    default_tlp: TLP = TLP.AMBER,
    trust_group_id: int | None = None,
) -> Collection:
    if session.scalar(select(Collection.id).where(Collection.alias == alias)) is not None:
        raise DirectoryError(f"a collection with alias {alias!r} exists already")
    collection = Collection(
        id=str(uuid.uuid4()),
        alias=alias,
        title=title,
        description=description,
        default_tlp=int(default_tlp),
        trust_group_id=trust_group_id,
    )
    session.add(collection)
    session.flush()
    return collection


def create_token(
    session: Session, member: Member, name: str, expires_at: datetime | None = None
) -> tuple[str, ApiToken]:
    return issue_token(session, member, name, expires_at)


def org_by_slug(session: Session, slug: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise DirectoryError(f"no organisation {slug!r}")
    return org


def member_by_email(session: Session, email: str) -> Member:
    member = session.scalar(select(Member).where(Member.email == email.strip().lower()))
    if member is None:
        raise DirectoryError(f"no member {email!r}")
    return member


def group_by_slug(session: Session, slug: str) -> TrustGroup:
    group = session.scalar(select(TrustGroup).where(TrustGroup.slug == slug))
    if group is None:
        raise DirectoryError(f"no trust group {slug!r}")
    return group


def collection_by_alias(session: Session, alias: str) -> Collection:
    collection = session.scalar(select(Collection).where(Collection.alias == alias))
    if collection is None:
        raise DirectoryError(f"no collection {alias!r}")
    return collection


def collection_by_id(session: Session, collection_id: str) -> Collection:
    collection = session.get(Collection, collection_id)
    if collection is None:
        raise DirectoryError(f"no collection {collection_id!r}")
    return collection
