"""Installs the exchange's routers (TAXII 2.1, REST API, pages), body limits and webhook delivery."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    from shieldwall.exchange import (
        account_pages,
        limits,
        objects,
        outbound,
        pages,
        rest_directory,
        rest_objects,
        taxii,
        webhooks,
    )

    objects.configure_cursors(app.state.settings.secret_key)

    taxii.install(app)
    app.include_router(rest_directory.router)
    app.include_router(rest_objects.router)
    app.include_router(webhooks.router)
    app.include_router(pages.router)
    app.include_router(account_pages.router)
    pages.install_handlers(app)
    # A malformed allowlist stops the app here, naming the entry, rather than at the first delivery.
    app.state.webhook_allow = outbound.Allowlist.parse(app.state.settings.webhook_allow)
    app.state.notify_new_objects = webhooks.Notifier(app.state.database, allow=app.state.webhook_allow)
    # Every body, chunked or not, TAXII included, is counted against the limit as it streams.
    limits.install(app, app.state.settings.max_body_bytes)
