"""Every threat-model API operation, fed odd and hostile values in each path parameter and body field (huge
and negative integers, NUL bytes, very long strings, wrong types), answers 4xx with a message, never a 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from tests.support.hub import Hub
from tests.support.live import LiveServer
from tests.threatmodel import scenario as sc

HUGE = 99999999999999999999
PATH_VALUES = [
    str(HUGE), f"-{HUGE}", "0", "-1", "abc", "1e400", "campaign--" + "9" * 300, "%00", "campaign--%00", "x" * 3000,
]  # fmt: skip
QUERY_VALUES = [str(HUGE), "-1", "\u0000", "x" * 3000, "maybe", ""]
# What the application's last-line handlers answer when a route let bad input reach the database: the threat
# model's routes must check their input first, with a message naming the field.
SAFETY_NET = ("a number in the request is out of range", "names something that does not exist or conflicts")
FIELD_VALUES: list[Any] = [
    HUGE,
    -HUGE,
    -1,
    0,
    2**31,
    1.5,
    "x" * 20000,
    "\u0000",
    None,
    True,
    [],
    {},
    [HUGE],
    ["\u0000"],
]


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, methods in schema["paths"].items():
        if path.startswith("/api/threatmodel"):
            for method, operation in methods.items():
                found.append((method.upper(), path, operation))
    return found


def _body_fields(schema: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref", "")
    if not ref:
        return []
    model = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return list(model.get("properties", {}))


def test_no_input_gets_a_server_error(live_server: LiveServer, live_hub: Hub) -> None:
    picture = sc.build(live_server.app.state.database, live_hub)
    chirp = httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {live_hub.tokens['chirp']}"}, timeout=60
    )
    schema = chirp.get("/openapi.json").json()
    real = {"election_id": str(picture.election_id), "campaign_id": picture.campaigns["C1"], "measure_id": "1"}
    valid_body = {
        "country": "BR", "level": "municipal", "name": "Fuzz", "date": "2032-10-03", "technique": "T0048",
        "election_id": picture.election_id, "tlp": "clear",
    }  # fmt: skip
    failures = []
    operations = _operations(schema)
    assert len(operations) >= 13
    for method, path, operation in operations:
        params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        queries = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        fields = _body_fields(schema, operation)
        attempts: list[tuple[str, Any]] = []
        for param in params:
            for value in PATH_VALUES:
                attempts.append((path.format(**{**real, param: value}), {}))
        target = path.format(**real)
        for query in queries:
            attempts += [(f"{target}?{query}={quote(value)}", None) for value in QUERY_VALUES]
        if fields:
            attempts += [(target, body) for body in ([], "null", "{", {"x": 1})]
            for field in fields:
                attempts += [(target, {**valid_body, field: value}) for value in FIELD_VALUES]
        for url, body in attempts:
            content = body if isinstance(body, str) else json.dumps(body)
            answer = chirp.request(method, url, content=content, headers={"Content-Type": "application/json"})
            if answer.status_code >= 500 or any(net in answer.text for net in SAFETY_NET):
                failures.append((method, url[:80], str(body)[:80], answer.status_code, answer.text[:200]))
    # Pages are not in the OpenAPI schema: the same values in their path and query parameters.
    pages = ["/elections?country={}", "/elections?show_past={}", "/elections/{}", "/campaigns/{}"]
    pages += [f"/elections/{picture.election_id}{suffix}?all_techniques={{}}" for suffix in ("", "/briefing")]
    pages += ["/elections/{}/briefing", "/elections/{}/navigator.json", "/elections/{}/briefing.pdf"]
    for page in pages:
        for value in [*PATH_VALUES, *QUERY_VALUES]:
            answer = chirp.get(page.format(quote(value, safe="%")), headers={"Accept": "text/html"})
            if answer.status_code >= 500 or any(net in answer.text for net in SAFETY_NET):
                failures.append(("GET", page, value[:40], answer.status_code, answer.text[:200]))
    assert not failures, failures
