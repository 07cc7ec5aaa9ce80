"""`shieldwall ads ...`: import, train, classify, check, export, elections."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shieldwall.atomic import copy_file, replace_file
from shieldwall.config import Settings, load_settings
from shieldwall.store.db import Database

if TYPE_CHECKING:
    from shieldwall.ads.importers.figures import ReportOptions

console = Console(stderr=True, emoji=False)  # values such as "x:id:1" stay as written
ads_app = typer.Typer(help="Political-ad transparency library: import, check, classify, export.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ads_app, name="ads")


def _database() -> tuple[Settings, Database]:
    from shieldwall.store.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    return settings, Database(settings.database_url)


@ads_app.command("import")
def import_command(
    files: list[Path] = typer.Argument(..., help="Files to import; each file's format is read from the file itself."),
    source_format: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help="Only to override detection: meta, google, snap, meta-report, google-advertisers, google-weekly, "
        "google-geo.",
    ),
    snapshot: bool = typer.Option(False, help="The files list every live ad: absent ones are recorded as removed."),
    model: Path | None = typer.Option(None, help="Classifier model (default: the installed or bundled one)."),
    country: str | None = typer.Option(None, help="Spend reports: the country (when the file does not say)."),
    period: str | None = typer.Option(None, help="Spend reports: the period, START..END (YYYY-MM-DD..YYYY-MM-DD)."),
    show_problems: int = typer.Option(20, min=0, help="How many rejected rows to print."),
) -> None:
    """Import ad files into the append-only archive, and spend reports beside it, with progress; rejected
    rows are reported. The format of each file is detected from its header (or JSON) and printed."""
    from shieldwall.ads.importers.detect import FORMATS, UnknownFormat, detect_format, supported
    from shieldwall.ads.importers.figures import ReportOptions, parse_period

    if source_format is not None and source_format not in FORMATS:
        raise typer.BadParameter(f"one of {', '.join(FORMATS)}", param_hint="--format")
    options = ReportOptions(country=country.upper() if country else None)
    if country is not None and (len(country) != 2 or not country.isalpha()):
        raise typer.BadParameter("an ISO 3166-1 alpha-2 code, e.g. US", param_hint="--country")
    if period is not None:
        try:
            start, end = parse_period(period)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--period") from None
        options = ReportOptions(options.country, start, end)
    groups: dict[str, list[Path]] = {}
    try:
        for path in files:
            found = source_format or detect_format(path)
            groups.setdefault(found, []).append(path)
            if source_format is None:
                typer.echo(f"{path}: {FORMATS[found].title} (format {found})")
    except UnknownFormat as error:
        console.print(f"[red]error:[/] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(2) from None
    except ValueError as error:
        console.print(f"[red]error:[/] {escape(str(error))}", soft_wrap=True)
        console.print(escape(f"supported: {supported()}"), soft_wrap=True)
        raise typer.Exit(2) from None
    settings, database = _database()
    try:
        for found, paths in groups.items():
            if FORMATS[found].kind == "spend":
                _import_spend(database, paths, found, options, show_problems)
            else:
                _import_ads(settings, database, paths, found, snapshot, model, show_problems)
    finally:
        database.dispose()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def _recheck_with_progress(database: Database, scorer: Any) -> int:
    from shieldwall.ads.maintenance import count_ads, recheck

    with _progress() as progress:
        task = progress.add_task("rechecking", total=count_ads(database))
        return recheck(database, scorer, lambda n: progress.advance(task, n))


def _import_ads(
    settings: Settings,
    database: Database,
    files: list[Path],
    source_format: str,
    snapshot: bool,
    model: Path | None,
    show_problems: int,
) -> None:
    from shieldwall.ads.editing import CONSOLE, audited_import
    from shieldwall.ads.importing import count_rows, load_scorer
    from shieldwall.ads.service import installed_scorer, scorer_source

    scorer = load_scorer(model) if model else installed_scorer(settings)
    if scorer is None:
        console.print("[yellow]no political-ad classifier could be loaded: ads are not scored[/]")
    else:
        console.print(escape(f"scoring with the political-ad classifier {model or scorer_source(settings)}"))
    total = sum(count_rows(f) for f in files if f.is_file())
    try:
        with _progress() as progress:
            task = progress.add_task("importing", total=total)
            result = audited_import(
                database,
                CONSOLE,
                files,
                source_format,
                scorer=scorer,
                snapshot=snapshot,
                progress=lambda _file, n: progress.advance(task, n),
            )
    except ValueError as error:
        console.print(f"[red]error:[/] {escape(str(error))}", soft_wrap=True)  # FILE:LINE stays whole
        raise typer.Exit(2) from None
    console.print(result.summary())
    _print_problems(result.problems, show_problems, result.run_id)


def _import_spend(
    database: Database, files: list[Path], report: str, options: ReportOptions, show_problems: int
) -> None:
    from shieldwall.ads.editing import CONSOLE, audited_spend_import
    from shieldwall.ads.importing import count_rows

    total = sum(count_rows(f) for f in files if f.is_file())
    try:
        with _progress() as progress:
            task = progress.add_task("importing", total=total)
            result = audited_spend_import(
                database, CONSOLE, files, report, options, progress=lambda _file, n: progress.advance(task, n)
            )
    except ValueError as error:
        console.print(f"[red]error:[/] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(2) from None
    for summary in result.files:
        console.print(escape(summary.line()), soft_wrap=True)
    console.print(result.summary())
    _print_problems(result.problems, show_problems, result.run_id)


def _print_problems(problems: Sequence[object], show: int, run_id: int | None) -> None:
    for problem in problems[:show]:
        console.print(f"  rejected {escape(str(problem))}", soft_wrap=True)
    if len(problems) > show:
        console.print(f"  ... and {len(problems) - show} more (import run {run_id})")


@ads_app.command("train")
def train_command(
    labelled: list[Path] = typer.Argument(..., help='Labelled files: {"political": [...], "not_political": [...]}.'),
    output: Path | None = typer.Option(None, "-o", "--output", help="Where to write the model."),
    held_out: float = typer.Option(0.2, min=0.0, max=0.9, help="Fraction of each file held out for evaluation."),
    install: bool = typer.Option(True, help="Also install it as the model imports and labels use."),
) -> None:
    """Train the political-or-issue-ad classifier and print held-out precision, recall and F1."""
    from shieldwall.ads.classifier import load_labelled, train_and_evaluate
    from shieldwall.ads.service import default_model_path, kept_base_path

    settings = load_settings()
    try:
        datasets = [(p.stem, *load_labelled(p)) for p in labelled]
        with console.status("training"):
            model, evaluations = train_and_evaluate(datasets, held_out)
    except (ValueError, OSError) as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from None
    for evaluation in evaluations:
        typer.echo(evaluation.line())
    target = output or default_model_path(settings)
    model.save(target)  # makes its folder
    typer.echo(f"model written to {target}")
    installed = default_model_path(settings)
    if install and target.resolve() != installed.resolve():
        copy_file(target, installed)
        typer.echo(f"installed as {installed}")
    if install:
        kept_base_path(settings).unlink(missing_ok=True)  # a new base: the next `ads adapt` starts from it


@ads_app.command("adapt")
def adapt_command(
    country: str | None = typer.Option(None, help="Learn from this country's ads only (ISO 3166-1 alpha-2)."),
    limit: int = typer.Option(50_000, min=200, help="How many of the newest ads to learn from."),
    rescore: bool = typer.Option(True, "--recheck/--no-recheck", help="Rescore the archive with the adapted model."),
) -> None:
    """Adapt the classifier to this library's own ads, unlabelled: for a locale it was not trained on.

    Self-training (shieldwall.ads.adaptation): the locale's own words gain weight from the ads the model
    is already sure of. Always starts from the model before any adaptation, so running it again after
    more imports never compounds."""
    from sqlalchemy import and_, select

    from shieldwall.ads.adaptation import adapt_texts
    from shieldwall.ads.classifier import PoliticalClassifier
    from shieldwall.ads.document import classifier_text
    from shieldwall.ads.editing import CONSOLE
    from shieldwall.ads.service import adaptation_base, default_model_path, kept_base_path
    from shieldwall.ads.tables import Ad, AdVersion
    from shieldwall.exchange.audit import record

    settings, database = _database()
    try:
        query = (
            select(AdVersion.document)
            .join(Ad, and_(AdVersion.ad_id == Ad.id, AdVersion.version == Ad.version))
            .order_by(Ad.id.desc())
            .limit(limit)
        )
        if country:
            query = query.where(Ad.country == country.upper())
        with database.session() as session:
            texts = [classifier_text(doc) for doc in session.scalars(query)]
        try:
            base = adaptation_base(settings)  # reads the local model: a damaged one is an error, not a traceback
            with _progress() as progress:
                task = progress.add_task(f"embedding the newest {len(texts):,} ads", total=None)
                adaptation = adapt_texts(
                    PoliticalClassifier.load(base),
                    texts,
                    lambda done, total: progress.update(task, completed=done, total=total),
                )
        except ValueError as error:
            console.print(f"[red]error:[/] {error}")
            raise typer.Exit(2) from None
        installed = default_model_path(settings)
        if base == installed:  # a locally trained model: keep it as the base of later adaptations
            copy_file(installed, kept_base_path(settings))
        adaptation.model.save(installed)
        for path, (political, not_political) in adaptation.provisional.items():
            typer.echo(f"{path}: provisional labels {political:,} political, {not_political:,} not political")
        typer.echo(
            f"adapted to {adaptation.ads:,} distinct ad texts from {base.name}; "
            f"{adaptation.changed:,} of them change label; installed as {installed}"
        )
        count = 0
        if rescore:
            saved = PoliticalClassifier.load(installed)  # the weights as saved, as later imports will read them
            saved.remember(adaptation.corpus)
            count = _recheck_with_progress(database, saved.scores)
        with database.session() as session:
            detail = {"ads": adaptation.ads, "changed": adaptation.changed, "country": country or ""}
            record(session, CONSOLE, "ads:adapt", target="classifier", detail=detail | {"rechecked": count})
    finally:
        database.dispose()
    if rescore:
        typer.echo(f"rechecked {count} ads")


@ads_app.command("recheck")
def recheck_command(model: Path | None = typer.Option(None, help="Classifier model to rescore with.")) -> None:
    """Re-run disclosure rules and the classifier over the archive (after adding elections or a model)."""
    from shieldwall.ads.editing import CONSOLE
    from shieldwall.ads.importing import load_scorer
    from shieldwall.ads.service import installed_scorer
    from shieldwall.exchange.audit import record

    settings, database = _database()
    try:
        scorer = load_scorer(model) if model else installed_scorer(settings)
        count = _recheck_with_progress(database, scorer)
        with database.session() as session:
            record(session, CONSOLE, "ads:recheck", target="archive", detail={"ads": count, "model": str(model or "")})
    finally:
        database.dispose()
    typer.echo(f"rechecked {count} ads")


@ads_app.command("election-add")
def election_add(
    key: str = typer.Argument(..., help="The election's slug, e.g. fr-presidential-2027 (what ads link to)."),
    name: str = typer.Option(..., help="Display name."),
    country: str = typer.Option(..., help="ISO 3166-1 alpha-2."),
    day: str = typer.Option(..., "--date", help="Election day, YYYY-MM-DD."),
    kind: str = typer.Option(
        "national", help="The level: national, presidential, legislative, european, municipal, referendum, ..."
    ),
) -> None:
    """Add (or update) an election in the hub's one election calendar (the threat model's /elections)."""
    from shieldwall.ads.editing import CONSOLE
    from shieldwall.ads.maintenance import upsert_election
    from shieldwall.exchange.audit import record
    from shieldwall.threatmodel.elections import ElectionError

    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter("YYYY-MM-DD", param_hint="--date") from None
    _, database = _database()
    try:
        with database.session() as session:
            upsert_election(session, key, name, country.upper(), kind, when)
            detail = {"name": name, "country": country.upper(), "kind": kind, "date": day}
            record(session, CONSOLE, "ads:election-saved", target=key, detail=detail)
    except ElectionError as error:
        console.print(f"[red]error:[/] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        database.dispose()
    typer.echo(f"election {key} saved; run `shieldwall ads recheck` to re-apply date-dependent rules")


@ads_app.command("export")
def export_command(
    output: Path = typer.Option(..., "-o", "--output", help="File to write (.csv, .jsonl or .parquet)."),
    q: str | None = typer.Option(None, help="Full-text query."),
    country: str | None = None,
    platform: str | None = None,
    compliance: str | None = None,
    election: str | None = None,
) -> None:
    """Export a search to CSV, JSONL or Parquet (chosen by the file's extension)."""
    from shieldwall.ads.export import FORMATS, stream
    from shieldwall.ads.search import AdFilters

    fmt = output.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise typer.BadParameter(f"extension one of {', '.join(FORMATS)}", param_hint="--output")
    _, database = _database()
    filters = AdFilters(q=q, country=country, platform=platform, compliance=compliance, election=election)
    try:
        # All or nothing: a failed export leaves no half file that looks like a finished one.
        replace_file(output, lambda handle: handle.writelines(stream(database, filters, fmt)))
    except OSError as error:  # no such folder, no permission, a full disk
        console.print(f"[red]error:[/red] cannot write {error.filename or output}: {error.strerror or error}")
        raise typer.Exit(2) from None
    finally:
        database.dispose()
    typer.echo(f"wrote {output}")
