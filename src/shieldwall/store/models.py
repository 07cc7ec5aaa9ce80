"""Imports every capability's tables so the shared metadata is complete (for Alembic and tests)."""

from __future__ import annotations

from sqlalchemy import MetaData

from shieldwall import capabilities
from shieldwall.store.base import Base


def load_all_models() -> MetaData:
    capabilities.modules("tables")
    return Base.metadata
