"""`shieldwall match ...`: match files and values against the banks, and manage the banks.

    shieldwall match photo.jpg leaflet.png --url https://example.com/a --bank election-2026
    shieldwall match bank create election-2026 --label "known IO" --review
    shieldwall match bank import election-2026 findings.json
    shieldwall match bank sync election-2026 --every 15m

`shieldwall match FILES...` is short for `shieldwall match run FILES...`. The console reads the database
directly, so it sees and may change every bank; `--as EMAIL` acts for that member instead (their
organisation owns the banks they create, and they see and change only what the hub lets them).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.core import TyperGroup

from shieldwall.config import load_settings
from shieldwall.exchange.policy import Principal
from shieldwall.match.banks import BANK_OPTIONS
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database

# Messages name files (never break a path) and values such as 'x:id:1' (never turn ':id:' into an emoji).
console = Console(stderr=True, soft_wrap=True, emoji=False)


def out() -> Console:
    """Standard output's console, made when printing so the terminal's width (COLUMNS) at that moment counts."""
    return Console(emoji=False)


class RunByDefault(TyperGroup):
    """Routes `match FILES...` to `match run FILES...` while keeping `match bank ...` a sub-command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


match_app = typer.Typer(cls=RunByDefault, help="Match content against banks of shared signals.", no_args_is_help=True)
bank_app = typer.Typer(help="Create, fill and sync banks of signals.", no_args_is_help=True)
match_app.add_typer(bank_app, name="bank")


def register(app: typer.Typer) -> None:
    app.add_typer(match_app, name="match")


def _database() -> Database:
    from shieldwall.store.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    return Database(settings.database_url)


def _secret_key() -> str:
    """The installation secret that seals the banks' TAXII tokens and webhook keys."""
    return load_settings().secret_key


def _allow() -> Any:
    """The operator's outbound allowlist (`webhook_allow`): webhooks and TAXII pulls reach other addresses
    than public ones only if it names them."""
    from shieldwall.exchange.outbound import Allowlist

    try:
        return Allowlist.parse(load_settings().webhook_allow)
    except ValueError as error:
        _fail(str(error))


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(2)


AS_HELP = "Act for this member (e-mail): only what they may read or change is used; their organisation owns new banks."


def as_option() -> Any:
    return typer.Option(None, "--as", envvar="SHIELDWALL_MATCH_AS", help=AS_HELP)


def _acting(database: Database, email: str | None, option: str = "--as") -> Principal | None:
    """The member the command acts for, or None for the operator's console."""
    if not email:
        return None
    from shieldwall.exchange import directory
    from shieldwall.exchange.auth import principal_for_member

    with database.session() as session:
        try:
            member = directory.member_by_email(session, email)
        except directory.DirectoryError as error:
            _fail(f"{option}: {error}")
        if not member.is_active:
            _fail(f"{option}: member {email!r} is deactivated")
        return principal_for_member(session, member)


@match_app.command("run")
def run(
    files: list[Path] = typer.Argument(None, help="Images (JPEG/PNG/WebP), other files, or UTF-8 text files."),
    bank: list[str] = typer.Option(None, "--bank", "-b", help="Only these banks (default: all)."),
    url: list[str] = typer.Option(None, "--url", "-u", help="A URL to match (repeatable)."),
    domain: list[str] = typer.Option(None, "--domain", help="A domain to match (repeatable)."),
    account: list[str] = typer.Option(None, "--account", "-a", help="platform:handle or platform:id:123."),
    text: list[str] = typer.Option(None, "--text", "-t", help="A text to match (repeatable)."),
    pdq: list[str] = typer.Option(None, "--pdq", help="A 64-hex PDQ hash to match (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
    actions: bool = typer.Option(
        False, "--actions/--no-actions", help="Run the banks' actions on matches (off by default, as on the page)."
    ),
    max_bytes: int = typer.Option(
        None, "--max-bytes", min=1, help="Largest file accepted (default 8 MiB, or SHIELDWALL_MATCH_MAX_FILE_BYTES)."
    ),
    acting_as: str = as_option(),
) -> None:
    """Match files and values against the banks; one bad item never stops the others."""
    from shieldwall.match.actions import run_actions
    from shieldwall.match.banks import BankError, bank_for
    from shieldwall.match.files import DEFAULT_MAX_FILE_BYTES
    from shieldwall.match.service import ItemResult, drop_benign, load_matcher, match_file, match_value, restrict
    from shieldwall.match.visibility import keep_visible

    values = [
        (k, v)
        for k, vs in (("url", url), ("domain", domain), ("account", account), ("text", text), ("pdq", pdq))
        for v in vs or []
    ]
    files = files or []
    if not files and not values:
        _fail("nothing to match: give files or --url/--domain/--account/--text/--pdq")
    database = _database()
    try:
        principal = _acting(database, acting_as)
        with database.session() as session:
            try:
                for name in bank or []:
                    bank_for(session, principal, name)
            except BankError as bank_error:
                _fail(str(bank_error))
            matcher = load_matcher(session)
        results: list[ItemResult] = []
        with _progress() as progress:
            task = progress.add_task("matching", total=len(files) + len(values))
            for path in files:
                try:
                    data = path.read_bytes()
                except OSError as error:
                    results.append(ItemResult(item=str(path), kind="file", error=f"cannot read: {error.strerror}"))
                else:
                    results.append(match_file(matcher, str(path), data, max_bytes or DEFAULT_MAX_FILE_BYTES))
                progress.advance(task)
            for kind, value in values:
                results.append(match_value(matcher, kind, value))
                progress.advance(task)
        # Negative banks decide even when not named: known-benign content matches no bank.
        restrict(results, banks=set(bank) | matcher.negative_names() if bank else None)
        with database.session() as session:
            keep_visible(session, principal, results)
        drop_benign(matcher, results)
        if actions and principal is not None and not principal.can_write:
            console.print(f"[yellow]no actions:[/yellow] {acting_as} may not write (needs the analyst or admin role)")
            actions = False
        summary = (
            run_actions(database, results, principal, secret_key=_secret_key(), allow=_allow()) if actions else None
        )
    finally:
        database.dispose()
    _print_results(results, as_json)
    if summary is not None and summary.recorded:
        console.print(
            f"actions: {summary.recorded} recorded, {summary.reviews} queued for review, "
            f"{summary.webhooks_ok} webhooks sent ({summary.webhooks_failed} failed), "
            f"{summary.sightings_ok} sightings reported ({summary.sightings_failed} failed)"
        )
        for message in summary.errors:
            console.print(f"[yellow]action failed:[/yellow] {message}")
    if results and all(r.error for r in results):
        raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    )


def _print_results(results: list[Any], as_json: bool) -> None:
    if as_json:
        for result in results:  # one JSON object per line, as promised
            sys.stdout.write(json.dumps(result.as_dict(), default=str) + "\n")
        sys.stdout.flush()
        return
    table = Table(title=f"{sum(bool(r.matches) for r in results)} of {len(results)} items matched")
    for column in ("item", "kind", "result", "bank", "signal", "how", "distance", "source", "TLP"):
        table.add_column(column, overflow="fold")
    for result in results:
        if result.error:
            table.add_row(escape(result.item), result.kind, f"[red]error: {escape(result.error)}[/red]", *[""] * 6)
        elif not result.matches:
            table.add_row(escape(result.item), result.kind, "no match", *[""] * 6)
        for hit in result.matches:
            table.add_row(
                escape(result.item),
                result.kind,
                "[bold]match[/bold]",
                escape(hit.bank),
                escape(f"{hit.signal_type}: {hit.signal_value}"),
                hit.how,
                f"{hit.distance:g}",
                escape(hit.source_id),
                TLP(hit.tlp).label,
            )
    out().print(table)


# -- banks -----------------------------------------------------------------------------------------------


NEGATIVE_HELP = "Known-benign content: an item matching this bank matches no bank at all."
WARNINGLIST_HELP = "Skip domain signals on the warninglists (popular sites, URL shorteners, CDNs); default on."
FLOOD_HELP = "Hold a signal for review once it matches more distinct items than this in an hour (0: never)."


def _bank_options(**options: Any) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


@bank_app.command("create")
def bank_create(
    name: str,
    description: str = typer.Option(None, help="What the bank holds."),
    pdq_threshold: int = typer.Option(None, help="PDQ Hamming distance that still matches (default 31)."),
    text_threshold: float = typer.Option(None, help="Text similarity that matches (default 0.8)."),
    taxii_api_root: str = typer.Option(None, help="TAXII 2.1 API root to sync from, e.g. https://hub/taxii2/hub/."),
    taxii_collection: str = typer.Option(None, help="Collection id, alias or title."),
    taxii_token: str = typer.Option(None, envvar="SHIELDWALL_MATCH_TAXII_TOKEN", help="API token for the exchange."),
    label: str = typer.Option(None, help="Action: label to record on matches."),
    webhook_url: str = typer.Option(None, help="Action: POST each match here (signed)."),
    webhook_secret: str = typer.Option(None, help="HMAC-SHA256 key for the webhook signature."),
    review: bool = typer.Option(None, "--review/--no-review", help="Action: queue matches for human review."),
    report_sightings: bool = typer.Option(None, "--sightings/--no-sightings", help="Action: report STIX sightings."),
    negative: bool = typer.Option(None, "--negative/--positive", help=NEGATIVE_HELP),
    warninglist: bool = typer.Option(None, "--warninglist/--no-warninglist", help=WARNINGLIST_HELP),
    flood_limit: int = typer.Option(None, help=FLOOD_HELP),
    acting_as: str = as_option(),
) -> None:
    """Create a bank (with --as: owned by that member's organisation; without: one of the hub's own)."""
    from shieldwall.match.banks import BankError, create_bank

    options = _bank_options(**{k: v for k, v in locals().items() if k in BANK_OPTIONS})
    database = _database()
    try:
        owner = _acting(database, acting_as)
        with database.session() as session:
            create_bank(session, name, owner=owner, secret_key=_secret_key(), **options)
    except BankError as error:
        _fail(str(error))
    finally:
        database.dispose()
    console.print(f"bank {name!r} created")


@bank_app.command("set")
def bank_set(
    name: str,
    description: str = typer.Option(None),
    pdq_threshold: int = typer.Option(None),
    text_threshold: float = typer.Option(None),
    taxii_api_root: str = typer.Option(None),
    taxii_collection: str = typer.Option(None),
    taxii_token: str = typer.Option(None, envvar="SHIELDWALL_MATCH_TAXII_TOKEN"),
    label: str = typer.Option(None),
    webhook_url: str = typer.Option(None),
    webhook_secret: str = typer.Option(None),
    review: bool = typer.Option(None, "--review/--no-review"),
    report_sightings: bool = typer.Option(None, "--sightings/--no-sightings"),
    negative: bool = typer.Option(None, "--negative/--positive", help=NEGATIVE_HELP),
    warninglist: bool = typer.Option(None, "--warninglist/--no-warninglist", help=WARNINGLIST_HELP),
    flood_limit: int = typer.Option(None, help=FLOOD_HELP),
    owner: str = typer.Option(
        None,
        "--owner",
        help="Console only: hand the bank to this member's organisation (e-mail; banks made before owners).",
    ),
    acting_as: str = as_option(),
) -> None:
    """Change a bank's settings and actions."""
    from shieldwall.match.banks import BankError, bank_for, configure_bank

    options = _bank_options(**{k: v for k, v in locals().items() if k in BANK_OPTIONS})
    if owner and acting_as:
        _fail("--owner is for the console only: a member cannot hand a bank to anyone")
    database = _database()
    try:
        principal = _acting(database, acting_as)
        new_owner = _acting(database, owner, "--owner")
        if new_owner is not None and not new_owner.can_write:
            _fail(f"--owner: {owner} may not own banks (needs the analyst or admin role in a member organisation)")
        with database.session() as session:
            bank = bank_for(session, principal, name, change=True)
            if new_owner is not None:
                bank.org_id, bank.created_by = new_owner.org_id, new_owner.member_id
            configure_bank(bank, secret_key=_secret_key(), **options)
            bank.revision += 1  # thresholds live in the matcher snapshot
    except BankError as error:
        _fail(str(error))
    finally:
        database.dispose()
    console.print(f"bank {name!r} updated")


@bank_app.command("add")
def bank_add(
    name: str,
    url: list[str] = typer.Option(None, "--url", help="A URL signal (repeatable)."),
    domain: list[str] = typer.Option(None, "--domain", help="A domain signal (repeatable)."),
    account: list[str] = typer.Option(None, "--account", help="platform:handle or platform:id:123."),
    text: list[str] = typer.Option(None, "--text", help="A text signal (repeatable)."),
    pdq: list[str] = typer.Option(None, "--pdq", help="A 64-hex PDQ hash (repeatable)."),
    video: list[Path] = typer.Option(None, "--video", help="A video file: its vPDQ hash becomes a signal."),
    vpdq: list[str] = typer.Option(None, "--vpdq", help="A vPDQ hash (frame hashes, or threatexchange's JSON)."),
    from_list: Path = typer.Option(None, "--from-list", help="A file with one value per line (# comments)."),
    list_type: str = typer.Option(None, "--type", help="Signal type of --from-list: url, domain, account, pdq, md5..."),
    label: str = typer.Option("", "--name", help="Name shown with these signals' matches."),
    tlp: str = typer.Option("amber", help="TLP of these signals."),
    acting_as: str = as_option(),
) -> None:
    """Add signals by hand or from a plain list (one transaction; any bad value stops it, naming the line)."""
    from shieldwall.match.banks import BankError, add_signals, bank_for
    from shieldwall.match.service import signal_from_value

    given = [("url", url), ("domain", domain), ("account", account), ("text", text), ("pdq", pdq), ("vpdq", vpdq)]
    values = [(kind, v, f"--{kind} {v[:80]!r}") for kind, vs in given for v in vs or []]
    for path in video or []:
        from shieldwall.match.errors import ItemError
        from shieldwall.match.video import vpdq_of_video

        try:
            values.append(("vpdq", vpdq_of_video(str(path), path.read_bytes()), f"--video {path}"))
        except OSError as error:
            _fail(f"--video {path}: cannot read ({error.strerror})")
        except ItemError as error:
            _fail(f"--video {error}")
    if from_list is not None:
        if not list_type:
            _fail("--from-list needs --type (url, domain, account, text, pdq, md5 or sha256)")
        try:
            lines = from_list.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            _fail(f"{from_list}: cannot read ({error})")
        values += [
            (list_type, line.strip(), f"{from_list}:{number}")
            for number, line in enumerate(lines, 1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    if not values:
        _fail("nothing to add: give --url/--domain/--account/--text/--pdq/--video/--vpdq or --from-list with --type")
    signals = []
    for kind, value, where in values:
        try:
            signals.append(signal_from_value(kind, value))
        except ValueError as error:
            _fail(f"{where}: {error}")
    try:
        level = TLP.parse(tlp)
    except ValueError as error:
        _fail(str(error))
    database = _database()
    try:
        principal = _acting(database, acting_as)
        with database.session() as session:
            bank = bank_for(session, principal, name, change=True)
            added = add_signals(session, bank, signals, tlp=level, name=label)
    except BankError as error:
        _fail(str(error))
    finally:
        database.dispose()
    console.print(f"bank {name!r}: {added} signals added, {len(signals) - added} already there")


@bank_app.command("delete")
def bank_delete(
    name: str,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    acting_as: str = as_option(),
) -> None:
    """Delete a bank with its signals, match records and reviews."""
    from shieldwall.match.banks import BankError, bank_for

    if not yes:
        typer.confirm(f"Delete bank {name!r} with its signals and match history?", abort=True)
    database = _database()
    try:
        principal = _acting(database, acting_as)
        with database.session() as session:
            bank = bank_for(session, principal, name, change=True)
            _delete_bank_rows(session, bank.id)
    except BankError as error:
        _fail(str(error))
    finally:
        database.dispose()
    console.print(f"bank {name!r} deleted")


def _delete_bank_rows(session: Any, bank_id: int) -> None:
    """Children first: SQLite only cascades when foreign keys are on, so do not rely on it."""
    from sqlalchemy import delete, select

    from shieldwall.match.tables import ActionDelivery, Bank, BankSignal, MatchRecord, ReviewItem

    matches = select(MatchRecord.id).where(MatchRecord.bank_id == bank_id)
    session.execute(delete(ReviewItem).where(ReviewItem.match_id.in_(matches)))
    session.execute(delete(ActionDelivery).where(ActionDelivery.match_id.in_(matches)))
    session.execute(delete(MatchRecord).where(MatchRecord.bank_id == bank_id))
    session.execute(delete(BankSignal).where(BankSignal.bank_id == bank_id))
    session.execute(delete(Bank).where(Bank.id == bank_id))


@bank_app.command("list")
def bank_list(acting_as: str = as_option()) -> None:
    """List the banks with their signal counts and actions (with --as: those the member may know of)."""
    from shieldwall.match.visibility import readable_banks, visible_counts

    database = _database()
    try:
        principal = _acting(database, acting_as)
        with database.session() as session:
            banks = readable_banks(session, principal)
            counts = visible_counts(session, principal, [b.id for b in banks])
    finally:
        database.dispose()
    table = Table(title=f"{len(banks)} banks")
    for column in ("bank", "signals", "source", "cursor", "actions"):
        table.add_column(column, overflow="fold")
    for b in banks:
        kinds = counts.get(b.id, {})
        actions = [
            a
            for a, on in (
                ("label:" + b.label, b.label),
                ("webhook", b.webhook_url),
                ("review", b.review),
                ("sightings", b.report_sightings),
                ("NEGATIVE (benign)", b.negative),
                ("no warninglist", not b.warninglist),
            )
            if on
        ]
        table.add_row(
            b.name,
            f"{sum(kinds.values())} (" + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + ")",
            f"{b.taxii_api_root} {b.taxii_collection}".strip() or "files",
            b.taxii_cursor,
            ", ".join(actions) or "-",
        )
    out().print(table)


@bank_app.command("reseal")
def bank_reseal() -> None:
    """Encrypt TAXII tokens and webhook keys still stored in plain text (banks set up before sealing).

    Each bank's secrets are also sealed on its next `bank set`; this does all banks now, in one transaction.
    """
    from sqlalchemy import select

    from shieldwall.match.banks import SECRET_FIELDS, BankError, bank_secret, reseal
    from shieldwall.match.tables import Bank

    secret_key = _secret_key()
    database = _database()
    sealed: list[str] = []
    try:
        with database.session() as session:
            for bank in session.scalars(select(Bank).order_by(Bank.name)):
                for key in SECRET_FIELDS:
                    bank_secret(bank, key, secret_key)  # sealed ones must open with this installation's secret
                sealed += [f"{bank.name}: {key}" for key in reseal(bank, secret_key)]
    except BankError as error:
        _fail(str(error))
    finally:
        database.dispose()
    console.print(f"sealed {len(sealed)} secrets" + "".join(f"\n  {line}" for line in sealed))


@bank_app.command("import")
def bank_import(
    name: str,
    files: list[Path] = typer.Argument(..., help="STIX 2.1 bundles (JSON)."),
    tlp: str = typer.Option("amber", help="TLP for indicators that carry no TLP marking."),
    acting_as: str = as_option(),
) -> None:
    """Fill a bank from STIX files; each file is one transaction."""
    from shieldwall.match.banks import BankError, bank_for, import_stix_file

    try:
        default_tlp = TLP.parse(tlp)
    except ValueError as error:
        _fail(str(error))
    database = _database()
    failed = False
    try:
        principal = _acting(database, acting_as)
        with _progress() as progress:
            task = progress.add_task("importing", total=len(files))
            for path in files:
                try:
                    with database.session() as session:
                        bank = bank_for(session, principal, name, change=True)
                        report = import_stix_file(session, bank, path, default_tlp=default_tlp)
                    console.print(f"{path}: {report.summary()}", soft_wrap=True)
                    for message in report.errors[:20]:
                        console.print(f"  [yellow]skipped[/yellow] {message}", soft_wrap=True)
                    if len(report.errors) > 20:
                        console.print(f"  ... and {len(report.errors) - 20} more")
                except BankError as error:
                    console.print(f"[red]error:[/red] {error}", soft_wrap=True)
                    failed = True
                progress.advance(task)
    finally:
        database.dispose()
    if failed:
        raise typer.Exit(2)


def _page_reporter(progress: Progress, task: Any, name: str) -> Any:
    def report(pages: int, indicators: int) -> None:
        progress.update(task, advance=indicators, description=f"sync {name}: page {pages}")

    return report


def parse_every(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not m:
        raise typer.BadParameter(f"{text!r} is not an interval like 30s, 15m, 6h or 1d")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


@bank_app.command("sync")
def bank_sync(
    name: str,
    full: bool = typer.Option(False, "--full", help="Start from the beginning instead of the saved cursor."),
    reconcile: bool = typer.Option(True, "--reconcile/--no-reconcile", help="Remove signals whose indicator is gone."),
    token: str = typer.Option(None, envvar="SHIELDWALL_MATCH_TAXII_TOKEN", help="Overrides the bank's token."),
    every: str = typer.Option(None, "--every", help="Keep syncing at this interval (30s, 15m, 6h, 1d)."),
    runs: int = typer.Option(0, "--runs", min=0, help="With --every: stop after this many runs (0 = forever)."),
    tlp: str = typer.Option("amber", help="TLP for indicators that carry no TLP marking."),
    page_size: int = typer.Option(
        500, min=1, max=10_000, help="Objects per TAXII page (each page is saved with its cursor)."
    ),
    acting_as: str = as_option(),
) -> None:
    """Pull new, changed, revoked and removed indicators from the bank's TAXII collection."""
    from shieldwall.match.banks import BankError
    from shieldwall.match.sync import sync_bank
    from shieldwall.match.taxii import TaxiiError

    interval = parse_every(every) if every else None
    database = _database()
    done = 0
    try:
        principal = _acting(database, acting_as)
        while True:
            try:
                with _progress() as progress:
                    task = progress.add_task(f"sync {name}", total=None)
                    report = sync_bank(
                        database,
                        name,
                        secret_key=_secret_key(),
                        token=token,
                        full=full,
                        reconcile=reconcile,
                        default_tlp=TLP.parse(tlp),
                        page_size=page_size,
                        on_page=_page_reporter(progress, task, name),
                        principal=principal,
                        allow=_allow(),
                    )
                console.print(report.summary())
            except (BankError, TaxiiError) as error:
                if interval is None:
                    _fail(str(error))
                console.print(f"[red]error:[/red] {error} (retrying in {every})")
            done += 1
            if interval is None or (runs and done >= runs):
                break
            full = False
            time.sleep(interval)
    finally:
        database.dispose()
