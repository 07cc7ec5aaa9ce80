"""The match pages: /match to drop an image or paste a URL, text or account and see the matches;
/match/review for the human review queue (signed-in members only)."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from shieldwall.exchange.auth import csrf_token
from shieldwall.exchange.deps import SESSION_COOKIE, ApiError, current_principal
from shieldwall.exchange.policy import Principal
from shieldwall.match.api import collect_request, max_tlp_for, run_match
from shieldwall.match.banks import bank_counts
from shieldwall.match.files import PDQ_IMAGE_TYPES, sniff
from shieldwall.match.service import restrict
from shieldwall.match.tables import Bank, MatchRecord, ReviewItem
from shieldwall.store.base import utcnow
from shieldwall.web.templating import render

router = APIRouter(include_in_schema=False)
REVIEW_STATUSES = ("pending", "confirmed", "dismissed")
PREVIEW_BYTES = 3 * 1024 * 1024


def _csrf(request: Request) -> str:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return csrf_token(request.app.state.settings.secret_key, cookie) if cookie else ""


def _check_csrf(request: Request, token: str) -> None:
    expected = _csrf(request)
    if request.cookies.get(SESSION_COOKIE) and token != expected:
        raise ApiError(403, "the form expired; reload the page and try again")


def _bank_rows(request: Request) -> list[dict[str, Any]]:
    with request.app.state.database.session() as session:
        counts = bank_counts(session)
        return [
            {"name": b.name, "description": b.description, "signals": counts.get(b.id, {})}
            for b in session.scalars(select(Bank).order_by(Bank.name))
        ]


def _page(request: Request, principal: Principal, **context: Any) -> Any:
    return render(
        request,
        "match/match.html",
        {
            "banks": _bank_rows(request),
            "visible_tlp": max_tlp_for(principal).label,
            "csrf": _csrf(request),
            "results": None,
            **context,
        },
    )


@router.get("/match", response_class=HTMLResponse)
def match_page(request: Request, principal: Principal = Depends(current_principal)) -> Any:
    return _page(request, principal)


@router.post("/match", response_class=HTMLResponse)
async def match_submit(request: Request, principal: Principal = Depends(current_principal)) -> Any:
    values, files, banks, _ = await collect_request(request)
    form = await request.form()
    if not values and not files:
        return _page(request, principal, message="Drop or choose an image, or paste a URL, text or account.")
    results = await run_in_threadpool(run_match, request, values, files, banks)
    restrict(results, banks=banks, max_tlp=max_tlp_for(principal))
    actions = None
    if principal.is_authenticated and form.get("actions") == "on":
        _check_csrf(request, str(form.get("csrf", "")))
        from shieldwall.match.actions import run_actions

        actions = await run_in_threadpool(
            run_actions,
            request.app.state.database,
            results,
            principal.email,
            secret_key=request.app.state.settings.secret_key,
        )
    previews = {
        name: f"data:image/{kind};base64," + base64.b64encode(data).decode()
        for name, data in files
        if len(data) <= PREVIEW_BYTES and (kind := sniff(data[:16])) in PDQ_IMAGE_TYPES
    }
    return _page(request, principal, results=results, previews=previews, actions=actions)


@router.get("/match/review", response_class=HTMLResponse)
def review_page(
    request: Request, status: str = "pending", principal: Principal = Depends(current_principal)
) -> Response:
    if not principal.is_authenticated:
        return RedirectResponse("/login?next=/match/review", status_code=303)
    status = status if status in REVIEW_STATUSES else "pending"
    with request.app.state.database.session() as session:
        rows = session.execute(
            select(ReviewItem, MatchRecord, Bank.name)
            .join(MatchRecord, MatchRecord.id == ReviewItem.match_id)
            .join(Bank, Bank.id == MatchRecord.bank_id)
            .where(ReviewItem.status == status)
            .order_by(MatchRecord.matched_at.desc(), ReviewItem.id.desc())
            .limit(500)
        ).all()
        counts = dict(
            session.execute(select(ReviewItem.status, func.count()).group_by(ReviewItem.status)).tuples().all()
        )
    return render(
        request,
        "match/review.html",
        {"rows": rows, "status": status, "counts": counts, "statuses": REVIEW_STATUSES, "csrf": _csrf(request)},
    )


@router.post("/match/review/{review_id}")
def review_decide(
    request: Request,
    review_id: int,
    decision: str = Form(...),
    note: str = Form(""),
    csrf: str = Form(""),
    principal: Principal = Depends(current_principal),
) -> Response:
    if not principal.is_authenticated:
        raise ApiError(401, "sign in to review matches")
    if not principal.can_write:
        raise ApiError(403, "reviewing needs the analyst or admin role")
    _check_csrf(request, csrf)
    if decision not in ("confirmed", "dismissed", "pending"):
        raise ApiError(422, "decision must be confirmed, dismissed or pending")
    with request.app.state.database.session() as session:
        item = session.get(ReviewItem, review_id)
        if item is None:
            raise ApiError(404, f"no review item {review_id}")
        item.status = decision
        item.note = note[:2000]
        item.decided_by = principal.email
        item.decided_at = utcnow()
    return RedirectResponse("/match/review", status_code=303)
