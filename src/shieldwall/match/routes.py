"""Installs the match capability's API, pages and static files into the app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def install(app: FastAPI) -> None:
    from shieldwall.match import api, pages

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/match/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="match-static")
