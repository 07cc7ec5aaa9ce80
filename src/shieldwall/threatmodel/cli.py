"""`shieldwall threatmodel ...`: import DISARM, manage the election calendar."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shieldwall.config import load_settings
from shieldwall.store.db import Database

threatmodel = typer.Typer(
    help="Threat model: elections, DISARM techniques, campaigns and coverage.", no_args_is_help=True
)
console = Console(stderr=True, emoji=False)  # values such as "x:id:1" stay as written


def register(app: typer.Typer) -> None:
    app.add_typer(threatmodel, name="threatmodel")


def _database() -> Database:
    from shieldwall.store.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    return Database(settings.database_url)


@threatmodel.command("import-disarm")
def import_disarm(path: Path = typer.Argument(..., help="The DISARM STIX 2.1 bundle (DISARM.json).")) -> None:
    """Load (or update) DISARM's tactics and techniques from its STIX bundle; re-import never duplicates."""
    from shieldwall.threatmodel.disarm import DisarmError, import_framework, parse_bundle

    try:
        framework = parse_bundle(path)
    except DisarmError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    database = _database()
    try:
        with Progress(
            TextColumn("importing DISARM techniques"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("import", total=len(framework.techniques))
            with database.session() as session:
                result = import_framework(session, framework, lambda n: progress.advance(task, n))
    finally:
        database.dispose()
    console.print(
        f"DISARM: {len(framework.tactics)} tactics ({result.tactics_added} new, {result.tactics_updated} updated, "
        f"{result.tactics_unchanged} unchanged), {len(framework.techniques)} techniques ({result.techniques_added} "
        f"new, {result.techniques_updated} updated, {result.techniques_unchanged} unchanged), "
        f"{result.subtechnique_links} sub-technique links",
        soft_wrap=True,  # one line whatever the terminal's width, for scripts that read it
    )


@threatmodel.command("add-election")
def add_election(
    country: str = typer.Option(..., help="ISO 3166-1 alpha-2 code, e.g. BR."),
    name: str = typer.Option(...),
    when: str = typer.Option(..., "--date", help="YYYY-MM-DD"),
    level: str = typer.Option("national"),
    trust_group: str = typer.Option("", help="Slug of the trust group that works on it."),
    status: str = typer.Option("scheduled"),
    publish_as: str = typer.Option(
        "",
        help="E-mail of a member who publishes its STIX object (TLP:CLEAR); the election then belongs to that "
        "member's organisation. Default: the hub operator, and the election belongs to the hub.",
    ),
) -> None:
    """Add an election to the calendar."""
    from sqlalchemy import select

    from shieldwall.exchange import directory
    from shieldwall.exchange.auth import principal_for_member
    from shieldwall.exchange.tables import Member
    from shieldwall.threatmodel.elections import ElectionError, ElectionInput, create_election

    try:
        election_date = date.fromisoformat(when)
    except ValueError:
        console.print(f"[red]error:[/red] --date {when!r} is not YYYY-MM-DD")
        raise typer.Exit(2) from None
    database = _database()
    try:
        with database.session() as session:
            group_id = directory.group_by_slug(session, trust_group).id if trust_group else None
            if publish_as:
                member: Member | None = directory.member_by_email(session, publish_as)
            else:  # the operator's tool: the hub publishes (and owns) it, so its writers may change it later
                member = session.scalar(
                    select(Member).where(Member.is_operator.is_(True), Member.is_active.is_(True)).order_by(Member.id)
                )
            publisher = principal_for_member(session, member) if member is not None else None
            election = create_election(
                session, ElectionInput(country.upper(), level, name, election_date, group_id, status), publisher
            )
            console.print(f"election {election.id}: {election.name} ({election.country}, {election.election_date})")
    except (ElectionError, directory.DirectoryError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    finally:
        database.dispose()


@threatmodel.command("elections")
def list_elections(upcoming: bool = typer.Option(True, help="Only elections from today on.")) -> None:
    """List the election calendar."""
    from shieldwall.threatmodel.elections import list_elections as rows_of

    database = _database()
    try:
        with database.session() as session:
            table = Table("id", "date", "country", "level", "name", "status")
            for e in rows_of(session, upcoming_from=date.today() if upcoming else None):
                table.add_row(str(e.id), e.election_date.isoformat(), e.country, e.level, e.name, e.status)
        Console(emoji=False).print(table)
    finally:
        database.dispose()
