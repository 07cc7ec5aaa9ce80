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


class StrictJson:
    """Pure ASGI middleware: a JSON body must be JSON as orjson reads it, or the request is a 400 naming where.

    FastAPI parses bodies with the standard library, which takes NaN, Infinity and lone surrogates: not JSON,
    and not storable (orjson writes NaN as null, so a stored object would differ from the acknowledged one,
    and refuses a lone surrogate, which was a 500). TAXII's own parser is orjson already. Installed inside
    BodyLimit, so the body it gathers has been counted against the limit.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH") or not _plain_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)  # the client left: let the app see it
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if body.strip():
            try:
                orjson.loads(body)
            except orjson.JSONDecodeError as error:
                await JSONResponse({"detail": f"the body is not JSON: {error}"}, 400)(scope, receive, send)
                return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _plain_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (media.endswith(b"+json") and b"taxii" not in media)
    return False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replayed() -> Message:
        return messages.pop(0) if messages else await receive()

    return replayed


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
    app.add_middleware(StrictJson)  # added first, so it runs inside BodyLimit
    app.add_middleware(BodyLimit, limit=limit)
    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_exception_handler(RequestValidationError, validation_error)
