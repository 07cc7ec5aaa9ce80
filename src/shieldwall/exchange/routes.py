"""Installs the exchange's routers (TAXII 2.1, REST API, pages) into the app."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    from shieldwall.exchange import pages, taxii

    taxii.install(app)
    app.include_router(pages.router)
