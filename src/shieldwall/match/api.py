"""POST /api/match: one item or a batch, as JSON (urls, domains, accounts, texts, hashes) or as a
multipart upload of files (plus the same fields as form values). Each item gets its own result or error.

Each hit is shown only when the caller may read the signal's source on the hub right now (visibility.py):
visitors see only TLP:CLEAR-derived hits. Analysts and admins of member organisations trigger the banks'
actions on what they see; everyone else triggers nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from shieldwall.exchange import access
from shieldwall.exchange.deps import ApiError
from shieldwall.exchange.policy import Principal
from shieldwall.match.files import DEFAULT_MAX_FILE_BYTES, VIDEO_TYPES, sniff
from shieldwall.match.service import ItemResult, drop_benign, match_file, match_value, matchers, restrict
from shieldwall.match.tables import Bank
from shieldwall.match.visibility import keep_visible, readable_banks, visible_counts
from shieldwall.stix.tlp import TLP

router = APIRouter(tags=["match"])
MAX_ITEMS = 1000
MAX_VIDEOS = 10  # hashing a video runs ffmpeg for seconds; each vPDQ query is one lookup a frame
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
    "vpdq": "vpdq",
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
    """The strictest level the caller could see at all (visitors and guests: CLEAR); each hit is still shown
    only if the caller may read its source (visibility.py)."""
    return TLP.RED if principal.is_authenticated and principal.org_is_member else TLP.CLEAR


async def collect_request(
    request: Request,
) -> tuple[list[tuple[str, str]], list[tuple[str, bytes]], set[str] | None, bool]:
    """(values, files, banks, run actions) from a JSON or multipart request."""
    content_type = request.headers.get("content-type", "")
    files: list[tuple[str, bytes]] = []
    # A file over the whole-request body limit is refused by the app before we see it; stay under it.
    limit = min(DEFAULT_MAX_FILE_BYTES, request.app.state.settings.max_body_bytes)
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
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
    except RecursionError:  # the standard library's parser recurses once per nesting level
        raise ApiError(400, "the JSON body is nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError(422, 'the JSON body must be an object such as {"urls": [...], "hashes": [...]}')
    banks = set(_as_list(body.get("banks"), "banks")) or None
    return values_from_json(body), files, banks, bool(body.get("actions", True))


def run_match(
    request: Request,
    principal: Principal,
    values: list[tuple[str, str]],
    files: list[tuple[str, bytes]],
    banks: set[str] | None = None,
) -> list[ItemResult]:
    """Match, then keep only the chosen banks' hits that principal may read."""
    database = request.app.state.database
    matcher = matchers.get(database)
    if banks:
        with database.session() as session:
            known = {bank.name for bank in readable_banks(session, principal)}
        unknown = sorted(banks - known)
        if unknown:  # a bank the caller may not read is named exactly like one that does not exist
            names = ", ".join(sorted(known)) or "none yet"
            raise ApiError(422, f"no bank named {', '.join(unknown)} (banks: {names})")
    limit = min(DEFAULT_MAX_FILE_BYTES, request.app.state.settings.max_body_bytes)
    results = [match_file(matcher, name, data, limit) for name, data in files]
    results += [match_value(matcher, kind, value) for kind, value in values]
    # Negative banks decide even when not named: known-benign content matches no bank.
    restrict(results, banks=banks | matcher.negative_names() if banks else None)
    with database.session() as session:
        keep_visible(session, principal, results)
    drop_benign(matcher, results)
    return results


def run_actions_for(request: Request, principal: Principal, results: list[ItemResult]) -> Any:
    """The banks' actions on what principal saw; only writers of member organisations trigger them."""
    from shieldwall.exchange.webhooks import allowlist
    from shieldwall.match.actions import run_actions

    if not principal.can_write:
        return None
    settings = request.app.state.settings
    return run_actions(
        request.app.state.database, results, principal, secret_key=settings.secret_key, allow=allowlist(request)
    )


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
async def api_match(request: Request, principal: Principal = Depends(access.anyone("visible"))) -> JSONResponse:
    values, files, banks, actions = await collect_request(request)
    if not values and not files:
        raise ApiError(422, "nothing to match: send urls, domains, accounts, texts, hashes or files")
    if len(values) + len(files) > MAX_ITEMS:
        raise ApiError(413, f"at most {MAX_ITEMS} items per request; split the batch")
    videos = sum(kind == "vpdq" for kind, _ in values) + sum(sniff(data) in VIDEO_TYPES for _, data in files)
    if videos > MAX_VIDEOS:
        raise ApiError(413, f"at most {MAX_VIDEOS} videos (files or vpdq hashes) per request; split the batch")
    results = await run_in_threadpool(run_match, request, principal, values, files, banks)
    summary = await run_in_threadpool(run_actions_for, request, principal, results) if actions else None
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


def bank_view(bank: Bank, principal: Principal, counts: dict[int, dict[str, int]]) -> dict[str, Any]:
    """A bank as principal may see it: its source and actions only for its own organisation's members."""
    view: dict[str, Any] = {"name": bank.name, "description": bank.description, "signals": counts.get(bank.id, {})}
    if bank.org_id is None or bank.org_id != principal.org_id:
        return view
    return {
        **view,
        "pdq_threshold": bank.pdq_threshold,
        "text_threshold": bank.text_threshold,
        "negative": bank.negative,
        "warninglist": bank.warninglist,
        "flood_limit": bank.flood_limit,
        "source": {"taxii_api_root": bank.taxii_api_root, "collection": bank.taxii_collection}
        if bank.taxii_api_root
        else None,
        "cursor": bank.taxii_cursor or None,
        "last_synced_at": bank.last_synced_at.isoformat() if bank.last_synced_at else None,
        "actions": {
            "label": bank.label or None,
            "webhook": bool(bank.webhook_url),
            "review": bank.review,
            "sightings": bank.report_sightings,
        },
    }


@router.get("/api/match/banks")
def api_banks(request: Request, principal: Principal = Depends(access.member("visible"))) -> JSONResponse:
    """The banks the caller may know of, with counts of the signals it may see (settings: owners only)."""
    with request.app.state.database.session() as session:
        banks = readable_banks(session, principal)
        counts = visible_counts(session, principal, [b.id for b in banks])
        return JSONResponse({"banks": [bank_view(b, principal, counts) for b in banks]})


@router.get("/api/match/banks/{name}")
def api_bank(request: Request, name: str, principal: Principal = Depends(access.member("visible"))) -> JSONResponse:
    """One bank; 404 when it does not exist or the caller may not read it."""
    with request.app.state.database.session() as session:
        bank = next((b for b in readable_banks(session, principal) if b.name == name), None)
        if bank is None:
            raise ApiError(404, f"no bank named {name!r}")
        return JSONResponse(bank_view(bank, principal, visible_counts(session, principal, [bank.id])))
