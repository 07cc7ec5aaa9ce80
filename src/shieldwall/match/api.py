"""POST /api/match: one item or a batch, as JSON (urls, domains, accounts, texts, hashes) or as a
multipart upload of files (plus the same fields as form values). Each item gets its own result or error.

Signed-in members see matches at every TLP and trigger the banks' actions; anonymous callers see only
matches against TLP:CLEAR signals and trigger nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from shieldwall.exchange.deps import ApiError, current_principal, require_member
from shieldwall.exchange.policy import Principal
from shieldwall.match.files import DEFAULT_MAX_FILE_BYTES
from shieldwall.match.service import ItemResult, match_file, match_value, matchers, restrict
from shieldwall.stix.tlp import TLP

router = APIRouter(tags=["match"])
MAX_ITEMS = 1000
# JSON field -> item kind; both the plural list and the singular value are accepted.
FIELDS = {
    "urls": "url",
    "url": "url",
    "domains": "domain",
    "domain": "domain",
    "accounts": "account",
    "account": "account",
    "texts": "text",
    "text": "text",
    "pdq": "pdq",
    "md5": "md5",
    "sha256": "sha256",
}


def _as_list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in items):
        raise ApiError(422, f"field {field!r} must be a string or a list of strings")
    return items


def values_from_json(body: dict[str, Any]) -> list[tuple[str, str]]:
    unknown = set(body) - set(FIELDS) - {"hashes", "banks", "actions"}
    if unknown:
        raise ApiError(422, f"unknown fields {sorted(unknown)}; use {sorted(FIELDS)}, hashes, banks, actions")
    values = [(FIELDS[k], v) for k in FIELDS for v in _as_list(body.get(k), k)]
    for i, entry in enumerate(body.get("hashes") or []):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("type"), str)
            or not isinstance(entry.get("value"), str)
        ):
            raise ApiError(422, f"hashes[{i}] must be an object with string 'type' and 'value'")
        values.append((entry["type"].lower().replace("-", ""), entry["value"]))
    return values


def max_tlp_for(principal: Principal) -> TLP:
    return TLP.RED if principal.is_authenticated else TLP.CLEAR


async def collect_request(
    request: Request,
) -> tuple[list[tuple[str, str]], list[tuple[str, bytes]], set[str] | None, bool]:
    """(values, files, banks, run actions) from a JSON or multipart request."""
    content_type = request.headers.get("content-type", "")
    files: list[tuple[str, bytes]] = []
    # A file over the whole-request body limit is refused by the app before we see it; stay under it.
    limit = min(DEFAULT_MAX_FILE_BYTES, request.app.state.settings.max_body_bytes)
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        values: list[tuple[str, str]] = []
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                # Read one byte past the limit: enough to say "too big" without holding a huge file.
                data = await value.read(limit + 1)
                if value.filename or data:  # an empty file input sends a nameless empty part
                    files.append((value.filename or key, data))
            elif key in FIELDS and str(value).strip():
                values.append((FIELDS[key], str(value)))
        banks = {str(b) for b in form.getlist("banks") if str(b)} or None
        actions = str(form.get("actions", "true")).lower() not in ("false", "0", "no", "off")
        return values, files, banks, actions
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "send JSON (application/json) or a multipart/form-data upload") from None
    if not isinstance(body, dict):
        raise ApiError(422, 'the JSON body must be an object such as {"urls": [...], "hashes": [...]}')
    banks = set(_as_list(body.get("banks"), "banks")) or None
    return values_from_json(body), files, banks, bool(body.get("actions", True))


def run_match(
    request: Request, values: list[tuple[str, str]], files: list[tuple[str, bytes]], banks: set[str] | None = None
) -> list[ItemResult]:
    matcher = matchers.get(request.app.state.database)
    unknown = sorted((banks or set()) - set(matcher.bank_names.values()))
    if unknown:
        known = ", ".join(sorted(matcher.bank_names.values())) or "none yet"
        raise ApiError(422, f"no bank named {', '.join(unknown)} (banks: {known})")
    limit = min(DEFAULT_MAX_FILE_BYTES, request.app.state.settings.max_body_bytes)
    results = [match_file(matcher, name, data, limit) for name, data in files]
    return results + [match_value(matcher, kind, value) for kind, value in values]


_STRINGS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        **{name: _STRINGS for name in FIELDS},
                        "hashes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "type": {"type": "string", "enum": ["pdq", "md5", "sha256"]},
                                    "value": {"type": "string"},
                                },
                            },
                        },
                        "banks": {"type": "array", "items": {"type": "string"}},
                        "actions": {"type": "boolean", "default": True},
                    },
                },
                "example": {"urls": ["https://example.com/story"], "hashes": [{"type": "pdq", "value": "f8f8..."}]},
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        **{name: {"type": "string"} for name in ("url", "domain", "account", "text", "pdq")},
                        "banks": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
        },
    }
}


@router.post("/api/match", openapi_extra=OPENAPI_BODY)
async def api_match(request: Request, principal: Principal = Depends(current_principal)) -> JSONResponse:
    values, files, banks, actions = await collect_request(request)
    if not values and not files:
        raise ApiError(422, "nothing to match: send urls, domains, accounts, texts, hashes or files")
    if len(values) + len(files) > MAX_ITEMS:
        raise ApiError(413, f"at most {MAX_ITEMS} items per request; split the batch")
    results = await run_in_threadpool(run_match, request, values, files, banks)
    restrict(results, banks=banks, max_tlp=max_tlp_for(principal))
    summary = None
    if actions and principal.is_authenticated:
        from shieldwall.match.actions import run_actions

        summary = await run_in_threadpool(
            run_actions,
            request.app.state.database,
            results,
            principal.email,
            secret_key=request.app.state.settings.secret_key,
        )
    return JSONResponse(
        {
            "items": len(results),
            "matched": sum(bool(r.matches) for r in results),
            "errors": sum(r.error is not None for r in results),
            "visible_tlp": max_tlp_for(principal).label,
            "results": [r.as_dict() for r in results],
            "actions": summary.as_dict() if summary else None,
        }
    )


@router.get("/api/match/banks")
def api_banks(request: Request, principal: Principal = Depends(require_member)) -> JSONResponse:
    """The banks with their signal counts per type, thresholds and actions (members only)."""
    from sqlalchemy import select

    from shieldwall.match.banks import bank_counts
    from shieldwall.match.tables import Bank

    with request.app.state.database.session() as session:
        counts = bank_counts(session)
        banks = [
            {
                "name": b.name,
                "description": b.description,
                "signals": counts.get(b.id, {}),
                "pdq_threshold": b.pdq_threshold,
                "text_threshold": b.text_threshold,
                "source": {"taxii_api_root": b.taxii_api_root, "collection": b.taxii_collection}
                if b.taxii_api_root
                else None,
                "cursor": b.taxii_cursor or None,
                "last_synced_at": b.last_synced_at.isoformat() if b.last_synced_at else None,
                "actions": {
                    "label": b.label or None,
                    "webhook": bool(b.webhook_url),
                    "review": b.review,
                    "sightings": b.report_sightings,
                },
            }
            for b in session.scalars(select(Bank).order_by(Bank.name))
        ]
    return JSONResponse({"banks": banks})
