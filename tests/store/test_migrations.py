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
        diff = [d for d in compare_metadata(context, metadata) if d[0] not in ("remove_index", "add_index")]
        assert diff == [], f"models and migrations disagree: {diff}"


def test_sqlite_uses_wal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()
