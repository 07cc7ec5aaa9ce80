"""`shieldwall admin ...`: set up the hub from the command line."""

from __future__ import annotations

import json
from datetime import timedelta

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from shieldwall.config import load_settings
from shieldwall.exchange import directory
from shieldwall.exchange.audit import as_dict as audit_dict
from shieldwall.exchange.audit import record
from shieldwall.exchange.policy import Principal
from shieldwall.exchange.tables import AuditEntry
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow
from shieldwall.store.db import Database
from shieldwall.store.migrate import upgrade

admin = typer.Typer(
    help="Administer the hub: database, organisations, members, tokens, trust groups.", no_args_is_help=True
)
out = Console(emoji=False)
err = Console(stderr=True, emoji=False)


def _database() -> Database:
    settings = load_settings()
    upgrade(settings.database_url)
    return Database(settings.database_url)


# Writes made from the command line are audited as the operator's console (no member behind them).
CONSOLE = Principal()


def _fail(error: Exception) -> None:
    err.print(f"[red]error:[/red] {error}")
    raise typer.Exit(2)


@admin.command("init-db")
def init_db() -> None:
    """Create or upgrade the database and the hub's own organisation."""
    from shieldwall.store.prepare import SetupError, checked_settings, prepare_database

    try:
        settings = checked_settings()
        prepare_database(settings.database_url, create=True)
    except SetupError as error:
        _fail(error)
    database = Database(settings.database_url)
    with database.session() as session:
        directory.ensure_hub(session, settings.hub_name)
    database.dispose()
    err.print("database ready")


@admin.command("create-org")
def create_org(
    name: str,
    kind: str = typer.Option(..., help="platform, government, research, civil_society, election_authority"),
    country: str = typer.Option(None, help="ISO 3166-1 alpha-2"),
    guest: bool = typer.Option(False, help="A guest organisation sees only TLP:CLEAR."),
    slug: str = typer.Option(None),
) -> None:
    """Add an organisation."""
    database = _database()
    try:
        with database.session() as session:
            org = directory.create_org(session, name, kind, country, is_member=not guest, slug=slug)
            record(session, CONSOLE, "cli:create-organisation", target=org.slug)
            out.print(org.slug)
    except directory.DirectoryError as error:
        _fail(error)


@admin.command("create-member")
def create_member(
    org: str,
    email: str,
    name: str = typer.Option(""),
    role: str = typer.Option("analyst"),
    password: str = typer.Option(None, help="For the web pages; API clients use tokens."),
    operator: bool = typer.Option(False, help="Hub operator: reads the full audit log."),
    ad_editor: bool = typer.Option(False, "--ad-editor", help="May change the political-ad archive (imports)."),
) -> None:
    """Add a member to an organisation (by slug)."""
    database = _database()
    try:
        with database.session() as session:
            if ad_editor and not directory.org_by_slug(session, org).is_member:
                raise directory.DirectoryError("guest organisations never write: no ad-library editor role for them")
            member = directory.create_member(
                session,
                directory.org_by_slug(session, org),
                email,
                name or email,
                role,
                password=password,
                is_operator=operator,
            )
            member.is_ad_editor = ad_editor
            record(session, CONSOLE, "cli:add-member", target=member.email, detail={"ad_editor": ad_editor})
            out.print(member.email)
    except directory.DirectoryError as error:
        _fail(error)


@admin.command("set-password")
def set_password(
    email: str,
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="Asked for when not given."
    ),
) -> None:
    """Set a member's web password; every web session they have ends at once."""
    database = _database()
    try:
        with database.session() as session:
            member = directory.member_by_email(session, email)
            ended = directory.set_password(session, member, password)
            record(session, CONSOLE, "cli:set-password", target=member.email, detail={"sessions_ended": ended})
    except directory.DirectoryError as error:
        _fail(error)
    err.print(f"password set; {ended} web session(s) ended")


@admin.command("deactivate-member")
def deactivate_member(email: str) -> None:
    """Stop a member from signing in or using tokens; their web sessions end at once."""
    database = _database()
    try:
        with database.session() as session:
            member = directory.member_by_email(session, email)
            ended = directory.deactivate_member(session, member)
            record(session, CONSOLE, "cli:deactivate-member", target=member.email, detail={"sessions_ended": ended})
    except directory.DirectoryError as error:
        _fail(error)
    err.print(f"{email} deactivated; {ended} web session(s) ended (tokens stop working within seconds)")


@admin.command("create-token")
def create_token(
    email: str, name: str = typer.Option("api"), days: int = typer.Option(90, min=0, max=36_500, help="0: no expiry")
) -> None:
    """Issue an API token for a member. It is shown once; only its hash is stored."""
    database = _database()
    try:
        with database.session() as session:
            member = directory.member_by_email(session, email)
            expires = utcnow() + timedelta(days=days) if days else None
            token, row = directory.create_token(session, member, name, expires)
            record(session, CONSOLE, "cli:issue-token", target=row.prefix, detail={"member": member.email})
            out.print(token)
    except directory.DirectoryError as error:
        _fail(error)


@admin.command("create-group")
def create_group(
    name: str, orgs: list[str] = typer.Argument(None, help="Organisation slugs"), description: str = typer.Option("")
) -> None:
    """Create a trust group of organisations."""
    database = _database()
    try:
        with database.session() as session:
            ids = [directory.org_by_slug(session, slug).id for slug in orgs or []]
            group = directory.create_trust_group(session, name, description, ids)
            record(session, CONSOLE, "cli:create-trust-group", target=group.slug)
            out.print(group.slug)
    except directory.DirectoryError as error:
        _fail(error)


@admin.command("create-collection")
def create_collection(
    alias: str,
    title: str,
    default_tlp: str = typer.Option("amber"),
    group: str = typer.Option(None, help="Trust group slug that owns the collection"),
) -> None:
    """Create a TAXII collection."""
    database = _database()
    try:
        with database.session() as session:
            group_id = directory.group_by_slug(session, group).id if group else None
            collection = directory.create_collection(session, alias, title, "", TLP.parse(default_tlp), group_id)
            record(session, CONSOLE, "cli:create-collection", target=alias)
            out.print(collection.id)
    except (directory.DirectoryError, ValueError) as error:
        _fail(error)


@admin.command("audit")
def audit(
    limit: int = typer.Option(50, min=1, max=1_000_000),
    sealed: bool = typer.Option(False, help="Include sealed entries (true sources of anonymous submissions)"),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line, for scripts"),
) -> None:
    """The hub operator's view of the audit log, newest first."""
    database = _database()
    with database.session() as session:
        statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if not sealed:
            statement = statement.where(AuditEntry.sealed.is_(False))
        entries = list(session.scalars(statement))
    if as_json:
        for e in entries:
            print(json.dumps({**audit_dict(e), "at": e.at.isoformat()}))
        return
    table = Table("at", "member", "org", "action", "target", "tlp", "sealed", "detail")
    for e in entries:
        table.add_row(
            e.at.isoformat(timespec="seconds"),
            str(e.member_id),
            str(e.org_id),
            e.action,
            e.target,
            "" if e.tlp is None else TLP(e.tlp).label,
            "yes" if e.sealed else "",
            str({k: v for k, v in e.detail.items() if k != "ids"}),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(admin, name="admin")
