"""FastAPI app factory. Each capability installs itself with `routes.install(app)`; this module only assembles them."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from shieldwall import __version__, capabilities
from shieldwall.config import Settings, load_settings
from shieldwall.exchange.access import check_declared
from shieldwall.store.db import Database
from shieldwall.web import docs, errors, health


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or load_settings()
    database = database or Database(settings.database_url)
    app = FastAPI(
        title="Shieldwall",
        version=__version__,
        description="Shared defence against election information operations: TAXII 2.1, REST API and pages.",
        docs_url=None,  # web.docs serves Swagger UI from the package, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    docs.install(app)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    health.install(app)  # /healthz, and 503 while the database cannot take writes
    for _, module in capabilities.modules("routes"):
        module.install(app)
    check_declared(app)  # a route that declares no access rule never serves
    errors.install(app)
    return app
