"""FastAPI app factory. Each capability exposes `routes.router`; this module only assembles them."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import shieldwall
from shieldwall import __version__
from shieldwall.config import Settings, load_settings
from shieldwall.store.db import Database

CAPABILITIES = ("exchange", "detect", "match", "ads", "threatmodel")


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or load_settings()
    database = database or Database(settings.database_url)
    app = FastAPI(
        title="Shieldwall",
        version=__version__,
        description="Shared defence against election information operations: TAXII 2.1, REST API and pages.",
    )
    app.state.settings = settings
    app.state.database = database
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    for name in CAPABILITIES:
        module = _optional_module(f"shieldwall.{name}.routes")
        if module is not None:
            module.install(app)
    return app


def _optional_module(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise


def capability_names() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(shieldwall.__path__) if m.ispkg]
