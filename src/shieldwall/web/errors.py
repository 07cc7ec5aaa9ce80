"""Last-line error answers: database conditions that a route did not foresee become clear 4xx/503 answers
instead of a 500 with a traceback. Routes still check their input; this only catches what slips through."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError

log = logging.getLogger("shieldwall.web")


def _answer(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    if request.url.path.startswith("/taxii2/"):
        body = {"title": message, "http_status": str(status)}
        return JSONResponse(body, status, headers=headers, media_type="application/taxii+json;version=2.1")
    return JSONResponse({"detail": message}, status, headers=headers)


def _is_out_of_range(error: BaseException) -> bool:
    cause = getattr(error, "orig", None) or error.__cause__ or error
    return isinstance(cause, OverflowError) or isinstance(error, DataError)


def install(app: FastAPI) -> None:
    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        return _answer(request, 422, "a number in the request is out of range")

    @app.exception_handler(StatementError)
    async def _statement(request: Request, exc: StatementError) -> JSONResponse:
        if isinstance(exc, IntegrityError):
            return _answer(request, 409, "the request names something that does not exist or conflicts with it")
        if isinstance(exc, OperationalError):
            # A busy or unavailable database refuses the write; nothing acknowledged is lost.
            log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc.orig)
            return _answer(request, 503, "the database is busy or unavailable; try again shortly", {"Retry-After": "2"})
        if _is_out_of_range(exc):
            return _answer(request, 422, "a value in the request cannot be stored (a number out of range, or text "
                           "with a NUL character)")
        raise exc
