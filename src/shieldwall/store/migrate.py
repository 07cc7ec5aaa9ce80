"""Run Alembic migrations programmatically.

Each capability keeps its own branch in `src/shieldwall/<capability>/migrations/`, labelled with the
capability's name, so capabilities evolve their tables independently; `upgrade heads` runs them all.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def version_locations() -> list[str]:
    return sorted(str(p) for p in PACKAGE_DIR.glob("*/migrations") if p.is_dir() and p.parent.name != "store")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("version_locations", " ".join(version_locations()))
    config.set_main_option("path_separator", "space")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, target: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), target)
