"""The match pages: /match to drop an image or paste a URL, text or account and see the matches (anyone;
each hit only if the caller may read its source), and /match/review, the review queue of the caller's own
organisation (its members read it, its analysts and admins decide; other items answer 404)."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from shieldwall.exchange import access
from shieldwall.exchange.auth import csrf_token
from shieldwall.exchange.deps import SESSION_COOKIE, ApiError
from shieldwall.exchange.policy import Principal
from shieldwall.match.api import collect_request, max_tlp_for, run_actions_for, run_match
from shieldwall.match.files import PDQ_IMAGE_TYPES, sniff
from shieldwall.match.tables import Bank, MatchRecord, ReviewItem
from shieldwall.match.visibility import readable_banks, review_scope, visible_counts
from shieldwall.store.base import utcnow
from shieldwall.web.templating import render

router = APIRouter(include_in_schema=False)
REVIEW_STATUSES = ("pending", "confirmed", "dismissed")
PREVIEW_BYTES = 3 * 1024 * 1024
MATCH = access.anyone("visible", via=access.PAGE)
REVIEW = access.member("visible", via=access.PAGE)
DECIDE = access.writer("owner", via=access.PAGE)


def _csrf(request: Request) -> str:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return csrf_token(request.app.state.settings.secret_key, cookie) if cookie else ""


def _check_csrf(request: Request, token: str) -> None:
    expected = _csrf(request)
    if request.cookies.get(SESSION_COOKIE) and token != expected:
        raise ApiError(403, "the form expired; reload the page and try again")


def _bank_rows(request: Request, principal: Principal) -> list[dict[str, Any]]:
    """The banks the caller may know of, counting only the signals it may see."""
    with request.app.state.database.session() as session:
        banks = readable_banks(session, principal)
        counts = visible_counts(session, principal, [b.id for b in banks])
        return [{"name": b.name, "description": b.description, "signals": counts.get(b.id, {})} for b in banks]


def _page(request: Request, principal: Principal, **context: Any) -> Any:
    return render(
        request,
        "match/match.html",
        {
            "banks": _bank_rows(request, principal),
            "visible_tlp": max_tlp_for(principal).label,
            "csrf": _csrf(request),
            "results": None,
            **context,
        },
    )


@router.get("/match", response_class=HTMLResponse)
def match_page(request: Request, principal: Principal = Depends(MATCH)) -> Any:
    return _page(request, principal)


@router.post("/match", response_class=HTMLResponse)
async def match_submit(request: Request, principal: Principal = Depends(MATCH)) -> Any:
    values, files, banks, _ = await collect_request(request)
    form = await request.form()
    if not values and not files:
        return _page(request, principal, message="Drop or choose an image, or paste a URL, text or account.")
    actions = None
    if principal.can_write and form.get("actions") == "on":
        _check_csrf(request, str(form.get("csrf", "")))
    results = await run_in_threadpool(run_match, request, principal, values, files, banks)
    if principal.can_write and form.get("actions") == "on":
        actions = await run_in_threadpool(run_actions_for, request, principal, results)
    previews = {
        name: f"data:image/{kind};base64," + base64.b64encode(data).decode()
        for name, data in files
        if len(data) <= PREVIEW_BYTES and (kind := sniff(data[:16])) in PDQ_IMAGE_TYPES
    }
    return _page(request, principal, results=results, previews=previews, actions=actions)


@router.get("/match/review", response_class=HTMLResponse)
def review_page(request: Request, status: str = "pending", principal: Principal = Depends(REVIEW)) -> Response:
    status = status if status in REVIEW_STATUSES else "pending"
    scope = review_scope(principal)
    with request.app.state.database.session() as session:
        rows = session.execute(
            select(ReviewItem, MatchRecord, Bank.name)
            .join(MatchRecord, MatchRecord.id == ReviewItem.match_id)
            .join(Bank, Bank.id == MatchRecord.bank_id)
            .where(ReviewItem.status == status, *scope)
            .order_by(MatchRecord.matched_at.desc(), ReviewItem.id.desc())
            .limit(500)
        ).all()
        counts = dict(
            session.execute(
                select(ReviewItem.status, func.count())
                .join(MatchRecord, MatchRecord.id == ReviewItem.match_id)
                .join(Bank, Bank.id == MatchRecord.bank_id)
                .where(*scope)
                .group_by(ReviewItem.status)
            )
            .tuples()
            .all()
        )
    return render(
        request,
        "match/review.html",
        {
            "rows": rows,
            "status": status,
            "counts": counts,
            "statuses": REVIEW_STATUSES,
            "csrf": _csrf(request),
            "can_decide": principal.can_write,
        },
    )


@router.post("/match/review/{review_id}")
def review_decide(
    request: Request,
    review_id: int,
    decision: str = Form(...),
    note: str = Form(""),
    csrf: str = Form(""),
    principal: Principal = Depends(DECIDE),
) -> Response:
    _check_csrf(request, csrf)
    if decision not in ("confirmed", "dismissed", "pending"):
        raise ApiError(422, "decision must be confirmed, dismissed or pending")
    with request.app.state.database.session() as session:
        item = session.scalar(
            select(ReviewItem)
            .join(MatchRecord, MatchRecord.id == ReviewItem.match_id)
            .join(Bank, Bank.id == MatchRecord.bank_id)
            .where(ReviewItem.id == review_id, *review_scope(principal))
        )
        if item is None:  # another organisation's item, or one whose signal the caller may no longer read
            raise ApiError(404, f"no review item {review_id}")
        item.status = decision
        item.note = note[:2000]
        item.decided_by = principal.email
        item.decided_at = utcnow()
    return RedirectResponse("/match/review", status_code=303)
