"""Migrations create exactly the tables the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from shieldwall.store.db import Database
from shieldwall.store.models import load_all_models


def test_migrations_match_the_models(database: Database) -> None:
    metadata = load_all_models()
    with database.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert set(metadata.tables) <= tables
        context = MigrationContext.configure(connection)
        derived = _sqlite_full_text_tables(connection)
        diff = [
            d
            for d in compare_metadata(context, metadata)
            if d[0] not in ("remove_index", "add_index") and not (d[0] == "remove_table" and d[1].name in derived)
        ]
        assert diff == [], f"models and migrations disagree: {diff}"


def _sqlite_full_text_tables(connection) -> set[str]:  # type: ignore[no-untyped-def]
    """SQLite full-text virtual tables (and their shadow tables) made by migrations: indexes, not models."""
    if connection.dialect.name != "sqlite":
        return set()
    names = {row[0] for row in connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    virtual = {
        row[0]
        for row in connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
        )
    }
    return {n for n in names if any(n == v or n.startswith(v + "_") for v in virtual)}


def test_sqlite_uses_wal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()
