"""Imports every capability's tables so the shared metadata is complete (for Alembic and tests)."""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

import shieldwall
from shieldwall.store.base import Base


def load_all_models() -> MetaData:
    for module in pkgutil.iter_modules(shieldwall.__path__):
        if module.ispkg:
            try:
                importlib.import_module(f"shieldwall.{module.name}.tables")
            except ModuleNotFoundError as error:
                if error.name != f"shieldwall.{module.name}.tables":
                    raise
    return Base.metadata
