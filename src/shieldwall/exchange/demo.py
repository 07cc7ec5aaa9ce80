"""The exchange's part of the demo."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import func, select

from shieldwall.config import Settings
from shieldwall.exchange.tables import Organisation
from shieldwall.store.db import Database


def is_empty(database: Database) -> bool:
    with database.session() as session:
        return not session.scalar(select(func.count()).select_from(Organisation))


def load(database: Database, settings: Settings, console: Console) -> None:
    pass
