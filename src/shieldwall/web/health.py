"""`GET /healthz` for load balancers and supervisors, and the 503 a request gets while the database
cannot take writes (its file removed, replaced or made read-only; see shieldwall.store.db)."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from shieldwall.exchange import access
from shieldwall.store.db import Database, DatabaseUnavailable

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"


def install(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"], dependencies=[Depends(access.anyone())])
    def healthz(request: Request) -> JSONResponse:
        """200 while the database answers and takes writes; 503 with the reason otherwise."""
        database: Database = request.app.state.database
        problem = database.health()
        if problem:
            return JSONResponse({"status": "unavailable", "database": problem}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.exception_handler(DatabaseUnavailable)
    async def unavailable(request: Request, error: DatabaseUnavailable) -> JSONResponse:
        # Shaped as web.errors answers: a TAXII error object on TAXII routes, {"detail"} elsewhere.
        headers = {"Retry-After": "60"}
        if request.url.path.startswith("/taxii2/"):
            body = {"title": "the hub cannot store anything now", "description": str(error), "http_status": "503"}
            return JSONResponse(body, status_code=503, media_type=TAXII_MEDIA_TYPE, headers=headers)
        return JSONResponse({"detail": str(error)}, status_code=503, headers=headers)
