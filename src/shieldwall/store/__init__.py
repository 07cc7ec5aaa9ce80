"""Database access: one SQLAlchemy engine per process, SQLite (WAL) by default, PostgreSQL in production."""

from shieldwall.store.base import Base
from shieldwall.store.db import Database

__all__ = ["Base", "Database"]
