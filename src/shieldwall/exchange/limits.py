"""What one request may cost and what an error may echo.

The body limit holds however the body comes: a declared Content-Length over the limit is refused before
anything is read, and a chunked body is counted while it streams, refused (413) the moment it passes the
limit, and the rest is never read. TAXII clients get a TAXII error object, people a page, others JSON.

Validation errors echo at most a short excerpt of what was sent (FastAPI's default echoes it whole).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXCERPT_CHARS = 200


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit. An HTTPException, so that FastAPI's body
    parsing passes it on (anything else becomes a 400) to the handler installed below."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        size = f"the body is {declared} bytes" if declared is not None else f"the body exceeds {limit} bytes"
        super().__init__(413, f"{size}; this server accepts at most {limit}")


def refusal(request: Request, error: BodyTooLarge) -> Response:
    if request.url.path.startswith("/taxii2/"):
        from shieldwall.exchange.taxii import error_body, taxii_response

        return taxii_response(error_body(413, "Payload Too Large", str(error.detail)), status=413)
    if "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/"):
        from shieldwall.web.templating import render

        context = {"status_code": 413, "message": error.detail, "principal": None}
        response: Response = render(request, "error.html", context, status_code=413)
        return response
    return JSONResponse({"detail": error.detail}, 413)


class BodyLimit:
    """Pure ASGI middleware: nothing above the limit is ever read into memory."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await refusal(Request(scope), BodyTooLarge(self.limit, declared))(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as error:
            # Normally the exception handler answers; this covers a body read outside the routes.
            if started:
                raise
            await refusal(Request(scope), error)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def excerpt(value: Any) -> Any:
    """value as it was, or, when its text is long, its first EXCERPT_CHARS characters followed by '...'."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value if len(value) <= EXCERPT_CHARS else value[:EXCERPT_CHARS] + "..."
    try:
        text = orjson.dumps(value, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(value)
    return value if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        error = dict(error)
        if "input" in error:
            error["input"] = excerpt(error["input"])
        if isinstance(error.get("ctx"), dict):
            error["ctx"] = {k: excerpt(v) for k, v in error["ctx"].items()}
        errors.append(error)
    return JSONResponse({"detail": jsonable_encoder(errors)}, 422)


async def body_too_large(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyTooLarge)
    return refusal(request, exc)


def install(app: FastAPI, limit: int) -> None:
    app.add_middleware(BodyLimit, limit=limit)
    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_exception_handler(RequestValidationError, validation_error)
