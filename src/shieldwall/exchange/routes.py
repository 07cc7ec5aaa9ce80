"""Installs the exchange's routers (TAXII 2.1, REST API, pages), body limits and webhook delivery."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


def install(app: FastAPI) -> None:
    from shieldwall.exchange import outbound, pages, rest_directory, rest_objects, taxii, webhooks

    taxii.install(app)
    app.include_router(rest_directory.router)
    app.include_router(rest_objects.router)
    app.include_router(webhooks.router)
    app.include_router(pages.router)
    pages.install_handlers(app)
    # A malformed allowlist stops the app here, naming the entry, rather than at the first delivery.
    app.state.webhook_allow = outbound.Allowlist.parse(app.state.settings.webhook_allow)
    app.state.notify_new_objects = webhooks.Notifier(app.state.database, allow=app.state.webhook_allow)
    limit = app.state.settings.max_body_bytes

    @app.middleware("http")
    async def body_limit(request: Request, call_next):
        # TAXII enforces its own limit (as a TAXII error); everything else is refused here.
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit and not request.url.path.startswith("/taxii2/"):
            return JSONResponse({"detail": f"the body is {declared} bytes; at most {limit} are accepted"}, 413)
        response: Response = await call_next(request)
        return response
