"""Opening the hub's database from the command line, with a message instead of a traceback.

Only `shieldwall admin init-db` creates a database; `serve` opens an existing one (and upgrades its
schema), so a database lost under a server is noticed at restart rather than replaced by an empty one.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from shieldwall.config import Settings, SettingsError, load_settings
from shieldwall.store.db import FileWatch, make_engine, sqlite_file


class SetupError(RuntimeError):
    """The data directory or database cannot be used; the message names it and what to do."""


def checked_settings() -> Settings:
    """load_settings, with an unusable data directory or setting as a SetupError."""
    try:
        return load_settings()
    except SettingsError as error:
        raise SetupError(str(error)) from None


def prepare_database(url: str, *, create: bool) -> None:
    """Bring the schema up to date; with create=False the database must already be a Shieldwall one."""
    from shieldwall.store.migrate import upgrade

    path = sqlite_file(url)
    if path is not None:
        _check_sqlite_file(path, create=create)
    if not create and not _has_schema(url, path):
        raise SetupError(f"{_named(url, path)} has no Shieldwall tables: run `shieldwall admin init-db` to create them")
    try:
        upgrade(url)
    except (SQLAlchemyError, OSError) as error:
        raise SetupError(_cannot_open(url, path, error)) from None


def _check_sqlite_file(path: Path, *, create: bool) -> None:
    if not create and not path.exists():
        raise SetupError(
            f"no database at {path}: run `shieldwall admin init-db` to create it (serve never creates one)"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SetupError(f"data directory {path.parent} cannot be created: {error.strerror}") from None
    if path.exists():
        watch = FileWatch(path)
        watch.pin()
        problem = watch.problem(fresh=True)
        if problem:
            raise SetupError(f"{problem}; the hub needs to write to it")


def _has_schema(url: str, path: Path | None) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return inspect(connection).has_table("alembic_version")
    except SQLAlchemyError as error:
        raise SetupError(_cannot_open(url, path, error)) from None
    finally:
        engine.dispose()


def _cannot_open(url: str, path: Path | None, error: Exception) -> str:
    reason = getattr(error, "orig", None) or error
    if path is not None:
        return (
            f"cannot open the database {path} for writing ({reason}): the file and its directory "
            f"{path.parent} must be writable by this user"
        )
    return f"cannot use the database at {redact(url)}: {reason}"


def database_problem(error: SQLAlchemyError) -> str | None:
    """One line for a command that met a database it cannot use: unreachable, locked, or without its tables.
    None for any other error (a fault in a query is a bug, and keeps its traceback)."""
    reason = (str(getattr(error, "orig", None) or error).strip().splitlines() or ["unknown error"])[0]
    missing = "no such table" in reason or ("relation" in reason and "does not exist" in reason)
    if not (missing or isinstance(error, OperationalError)):
        return None
    try:
        where = f"the database at {redact(load_settings().database_url)}"
    except SettingsError:
        where = "the configured database"
    return f"cannot use {where}: {reason}" + (" (run `shieldwall admin init-db` first)" if missing else "")


def _named(url: str, path: Path | None) -> str:
    return f"the database {path}" if path is not None else f"the database at {redact(url)}"


def redact(url: str) -> str:
    """A database URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
