"""The body limit holds for chunked bodies (no Content-Length), TAXII included, without reading the rest
into memory; error bodies echo at most a short excerpt of what was sent."""

from __future__ import annotations

import asyncio
import select
import socket
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select
from starlette.types import Message, Receive, Scope, Send

from shieldwall.exchange.limits import EXCERPT_CHARS, BodyLimit
from shieldwall.exchange.tables import StixObject
from tests.support.hub import Hub, indicator, seed_hub
from tests.support.live import LiveServer

LIMIT = 1 << 20  # 1 MiB for these tests
TAXII = "application/taxii+json;version=2.1"


@pytest.fixture
def small_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(database_url, tmp_path / "data", max_body_bytes=LIMIT).start()
    yield server
    server.stop()


@pytest.fixture
def small_hub(small_server: LiveServer) -> Hub:
    return seed_hub(small_server.app.state.database)


def send_chunked(port: int, path: str, total: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, int]:
    """POST up to `total` bytes as a chunked body over a raw socket, stopping as soon as the server answers.

    Returns (status, headers, body, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "127.0.0.1", "Transfer-Encoding": "chunked", **headers}.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
    chunk = b" " * 65536  # whitespace: valid JSON padding, so only the size can refuse it
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent = 0
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            sock.sendall(framed)
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server stopped reading and closed: its answer is already on its way
    data = b""
    try:
        while True:
            part = sock.recv(65536)
            if not part:
                break
            data += part
            header_end = data.find(b"\r\n\r\n")
            if header_end >= 0:
                lines = data[:header_end].decode("latin-1").split("\r\n")
                fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                if len(data) - header_end - 4 >= int(fields.get("content-length", "0")):
                    return int(lines[0].split()[1]), fields, data[header_end + 4 :], sent
    finally:
        sock.close()
    raise AssertionError(f"no complete answer after sending {sent} bytes: {data[:200]!r}")


def test_chunked_oversize_bodies_are_refused_with_little_memory(small_server: LiveServer, small_hub: Hub) -> None:
    token = small_hub.tokens["chirp"]
    auth = {"Authorization": f"Bearer {token}"}
    taxii_path = f"/taxii2/hub/collections/{small_hub.collection_id}/objects/"
    cases = [
        ("/api/v1/objects", {**auth, "Content-Type": "application/json"}, "application/json"),
        (taxii_path, {**auth, "Content-Type": TAXII, "Accept": TAXII}, TAXII),
    ]
    for path, headers, media in cases:
        tracemalloc.start()
        try:
            status, fields, body, sent = send_chunked(small_server.port, path, 64 << 20, headers)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert status == 413, (path, body[:300])
        assert fields["content-type"].startswith(media.split(";")[0]), fields
        error = orjson.loads(body)
        if path.startswith("/taxii2/"):
            # TAXII's own error object, as for any other TAXII error.
            assert error["http_status"] == "413" and error["title"] == "Payload Too Large", error
        else:
            assert "at most 1048576" in error["detail"]
        assert sent < 16 << 20, f"{path}: the server kept reading ({sent} bytes sent before its answer)"
        # Everything allocated in this process while 64 MiB were offered (server and client alike).
        assert peak < 8 << 20, f"{path}: peak {peak / 2**20:.1f} MiB"
    with small_server.app.state.database.session() as session:
        assert session.scalar(sql_select(func.count()).select_from(StixObject)) == 0


def test_declared_oversize_is_refused_before_reading_and_within_limit_passes(
    small_server: LiveServer, small_hub: Hub
) -> None:
    auth = {"Authorization": f"Bearer {small_hub.tokens['chirp']}"}
    taxii = httpx.Client(base_url=small_server.url, headers={**auth, "Accept": TAXII}, timeout=30)
    path = f"/taxii2/hub/collections/{small_hub.collection_id}/objects/"
    big = b'{"objects": []}' + b" " * (LIMIT + 10)
    refused = taxii.post(path, content=big, headers={"Content-Type": TAXII})
    assert refused.status_code == 413 and refused.json()["http_status"] == "413"
    assert refused.headers["content-type"].startswith("application/taxii+json")
    api = httpx.Client(base_url=small_server.url, headers=auth, timeout=30)
    assert api.post("/api/v1/objects", content=big, headers={"Content-Type": "application/json"}).status_code == 413
    # A person uploading too large a file gets a page, not JSON.
    page = httpx.post(
        f"{small_server.url}/upload",
        files={"bundle": ("big.json", big)},
        data={"csrf": "x", "collection": "x"},
        headers={"Accept": "text/html"},
    )
    assert page.status_code == 413 and "<html" in page.text and "at most 1048576" in page.text

    # A chunked body under the limit is read and stored as usual.
    def chunks() -> Iterator[bytes]:
        data = orjson.dumps({"objects": [indicator("http://small.example/")]})
        yield from (data[i : i + 100] for i in range(0, len(data), 100))

    stored = api.post("/api/v1/objects", content=chunks(), headers={"Content-Type": "application/json"})
    assert stored.status_code == 201 and stored.json()["success_count"] == 1, stored.text


def test_the_middleware_stops_reading_at_the_limit() -> None:
    """At the ASGI level: an endless chunked body is read only up to the limit plus one chunk."""
    reads = 0

    async def endless() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            await receive()

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/objects", "headers": [], "query_string": b""}
    asyncio.run(BodyLimit(app, limit=10_000)(scope, endless, send))
    assert reads == 11
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413


def test_validation_errors_echo_a_short_excerpt(small_server: LiveServer, small_hub: Hub) -> None:
    api = httpx.Client(
        base_url=small_server.url, headers={"Authorization": f"Bearer {small_hub.tokens['agency_admin']}"}, timeout=30
    )
    secretish = "A" * 500_000
    for body in ({"url": [secretish]}, [secretish], {"url": secretish}):
        answer = api.post("/api/v1/webhooks", json=body)
        assert answer.status_code == 422, answer.text[:300]
        assert len(answer.content) < 2_000, len(answer.content)
        assert "A" * (EXCERPT_CHARS + 1) not in answer.text
    # The error still names the field.
    assert "url" in api.post("/api/v1/webhooks", json={"url": [secretish]}).text
