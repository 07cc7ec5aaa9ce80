"""The `shieldwall` command. Each capability adds its verbs through `<capability>.cli.register(app)`."""

from __future__ import annotations

import typer
from rich.console import Console

from shieldwall import capabilities
from shieldwall.config import SettingsError, load_settings

# Plain help text: Rich would turn values like 'platform:id:123' into emoji (':id:') and eat '[...]' as markup.
app = typer.Typer(
    help="Shieldwall: shared defence against election information operations.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console(stderr=True, emoji=False)  # values such as "x:id:1" stay as written


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=0, max=65_535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=256, help="Worker processes."),
) -> None:
    """Serve the hub: TAXII 2.1, the REST API and the web pages."""
    import uvicorn

    from shieldwall.store.prepare import SetupError, checked_settings, prepare_database, redact

    try:
        settings = checked_settings()
        prepare_database(settings.database_url, create=False)  # never creates one: `admin init-db` does
    except SetupError as error:
        console.print(f"[red]error:[/red] {error}", soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(f"Shieldwall on http://{host}:{port}/  (database: {redact(settings.database_url)})")
    uvicorn.run("shieldwall.web.asgi:app", host=host, port=port, workers=workers, log_level="info")


@app.command()
def demo(
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when the hub already has organisations."),
) -> None:
    """Load a believable demo: organisations, a trust group, shared objects at every TLP level, and more."""
    from shieldwall.demo import load_demo

    load_demo(load_settings(), if_empty=if_empty, console=console)


for _, module in capabilities.modules("cli"):
    module.register(app)


def main() -> None:
    try:
        app()
    except SettingsError as error:  # raised wherever a command first reads the settings
        console.print(f"[red]error:[/red] {error}", soft_wrap=True)
        raise SystemExit(2) from None
    except Exception as error:  # a database down, locked or never created: one line, not a traceback
        from sqlalchemy.exc import SQLAlchemyError

        from shieldwall.store.prepare import database_problem

        problem = database_problem(error) if isinstance(error, SQLAlchemyError) else None
        if problem is None:
            raise
        console.print(f"[red]error:[/red] {problem}", soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
