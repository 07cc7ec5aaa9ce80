"""Installs the match capability's API, pages and static files into the app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    from shieldwall.match import api, freshness, held, pages

    app.include_router(api.router)
    app.include_router(held.router)
    app.include_router(pages.router)
    freshness.install(app)  # banks of this hub's collections sync when the hub stores new objects
    app.mount("/match/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="match-static")
