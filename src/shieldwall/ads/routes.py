"""Installs the ad library's JSON API and pages into the app."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    from shieldwall.ads import api, pages

    app.include_router(api.router)
    app.include_router(pages.router)
