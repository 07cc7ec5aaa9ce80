"""The threat model's web face: pages (/elections, /campaigns, in routes_pages) and JSON API
(/api/threatmodel/..., in routes_api). Every route declares its access rule (shieldwall.exchange.access)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from shieldwall.threatmodel.routes_api import api
from shieldwall.threatmodel.routes_pages import pages

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    app.mount("/threatmodel/static", StaticFiles(directory=str(STATIC_DIR)), name="threatmodel-static")
    app.include_router(pages)
    app.include_router(api)
