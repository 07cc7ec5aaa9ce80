"""The exchange's web pages: sign in, dashboard, browser, one object, share (upload)."""

from __future__ import annotations

import hmac
import math
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shieldwall.exchange import access, directory
from shieldwall.exchange import objects as store
from shieldwall.exchange.access import PAGE, LoginRequired
from shieldwall.exchange.auth import SESSION_TTL, check_password, csrf_token, end_session, start_session
from shieldwall.exchange.deps import SESSION_COOKIE, db_session, settings
from shieldwall.exchange.policy import Principal, visible_to
from shieldwall.exchange.rest_objects import (
    ShareWith,
    opinions_view,
    organisations_by_id,
    resolve_sharing,
    search_query,
    sightings_view,
    summary,
    writable_collection,
)
from shieldwall.exchange.tables import Collection, Member, Opinion, Sighting, StixObject
from shieldwall.exchange.throttle import LoginThrottle
from shieldwall.stix import timestamps
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow
from shieldwall.web.templating import render

router = APIRouter(include_in_schema=False)


def check_csrf(request: Request, token: str) -> None:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not cookie or not hmac.compare_digest(token.encode(), csrf_token(settings(request).secret_key, cookie).encode()):
        raise HTTPException(403, "the form expired or came from elsewhere; reload the page and try again")


def csrf_for(request: Request) -> str:
    return csrf_token(settings(request).secret_key, request.cookies.get(SESSION_COOKIE, ""))


# ------------------------------------------------------------------------------------------ sign in/out


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", principal: Principal = Depends(access.anyone(via=PAGE))) -> Response:
    return render(request, "exchange/login.html", {"next": next, "error": None, "principal": principal})


def login_throttle(request: Request) -> LoginThrottle:
    throttle = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        config = settings(request)
        throttle = LoginThrottle(config.login_failures_allowed, float(config.login_failure_window_seconds))
        request.app.state.login_throttle = throttle
    return throttle


@router.post("/login", dependencies=[Depends(access.anyone(via=PAGE))])
def login(
    request: Request,
    email: str = Form(..., max_length=254),
    password: str = Form(..., max_length=1024),
    next: str = Form("/", max_length=2000),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    account = email.strip().lower()
    keys = [("account", account), ("address", request.client.host if request.client else "")]
    throttle = login_throttle(request)
    wait = throttle.retry_after(keys)
    if wait > 0:
        # The same answer for any account, existing or not, right password or not.
        minutes = math.ceil(wait / 60)
        error = f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
        refused = render(request, "exchange/login.html", {"next": next, "error": error, "principal": Principal()}, 429)
        refused.headers["Retry-After"] = str(math.ceil(wait))
        return refused
    member = session.scalar(select(Member).where(Member.email == account))
    # check_password costs one scrypt even without an account, so unknown e-mails answer as slowly.
    password_ok = check_password(password, member.password_hash if member is not None else None)
    if member is None or not member.is_active or not password_ok:
        throttle.failed(keys)
        context = {"next": next, "error": "Wrong e-mail or password.", "principal": Principal()}
        return render(request, "exchange/login.html", context, status_code=401)
    throttle.succeeded(("account", account))
    target = next if next.startswith("/") and not next.startswith("//") and "\\" not in next else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        start_session(session, member.id),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int(SESSION_TTL.total_seconds()),
    )
    return response


@router.post("/logout", dependencies=[Depends(access.anyone(via=PAGE))])
def logout(request: Request, session: Session = Depends(db_session, scope="function")) -> Response:
    # The session ends on the server: a copy of the cookie kept elsewhere no longer works.
    end_session(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# -------------------------------------------------------------------------------------------- dashboard


def daily_counts(session: Session, principal: Principal, days: int = 30) -> list[tuple[str, int]]:
    """Objects you may see, added per day over the last `days` days (for the dashboard chart)."""
    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    start_us = timestamps.to_micros(start)
    day_us = 86_400_000_000
    bucket = ((StixObject.date_added - start_us) / day_us).cast(type_=StixObject.date_added.type)
    rows = session.execute(
        select(bucket, func.count())
        .where(visible_to(principal), StixObject.date_added >= start_us, StixObject.is_latest.is_(True))
        .group_by(bucket)
    ).all()
    counts = {int(b): int(n) for b, n in rows}
    return [((start + timedelta(days=i)).strftime("%d %b"), counts.get(i, 0)) for i in range(days)]


def bar_chart(points: list[tuple[str, int]], width: int = 720, height: int = 160) -> dict[str, Any]:
    peak = max((n for _, n in points), default=0) or 1
    step = width / max(len(points), 1)
    bars = [
        {
            "x": round(i * step + 1, 1),
            "w": round(step - 2, 1),
            "h": round((n / peak) * (height - 30), 1),
            "y": round(height - 20 - (n / peak) * (height - 30), 1),
            "label": label,
            "n": n,
            "tick": i % max(1, len(points) // 6) == 0,
        }
        for i, (label, n) in enumerate(points)
    ]
    return {"bars": bars, "width": width, "height": height, "peak": peak}


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    principal: Principal = Depends(access.anyone("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    orgs = organisations_by_id(session)
    recent = store.query_objects(session, principal, store.Query(), limit=12, newest_first=True)
    by_tlp = dict(
        session.execute(
            select(StixObject.tlp, func.count())
            .where(visible_to(principal), StixObject.is_latest.is_(True))
            .group_by(StixObject.tlp)
        ).all()
    )
    # Every type the reader may see (no top-N cut: a rarer type such as report must not vanish).
    by_type = session.execute(
        select(StixObject.stix_type, func.count())
        .where(visible_to(principal), StixObject.is_latest.is_(True))
        .group_by(StixObject.stix_type)
        .order_by(func.count().desc(), StixObject.stix_type)
    ).all()
    feedback: dict[str, int] = {}
    if principal.is_authenticated:
        mine = select(StixObject.stix_id).where(StixObject.publisher_org_id == principal.org_id)
        feedback = {
            "sightings": int(
                session.scalar(select(func.coalesce(func.sum(Sighting.count), 0)).where(Sighting.sighting_of.in_(mine)))
                or 0
            ),
            "opinions": int(session.scalar(select(func.count()).where(Opinion.object_id.in_(mine))) or 0),
        }
    context = {
        "recent": [summary(r, orgs) for r in recent.rows],
        "by_tlp": [(TLP(level), int(by_tlp.get(int(level), 0))) for level in TLP],
        "by_type": by_type,
        "chart": bar_chart(daily_counts(session, principal)),
        # The directory's size only for those who may list it (members of member organisations).
        "organisations": len(orgs) if principal.is_authenticated and principal.org_is_member else None,
        "groups": len(principal.trust_group_ids),
        "feedback": feedback,
        "principal": principal,
    }
    return render(request, "exchange/dashboard.html", context)


# ---------------------------------------------------------------------------------------------- browser


@router.get("/objects", response_class=HTMLResponse)
def browse(
    request: Request,
    q: str = "",
    type: str = "",
    tlp: str = "",
    organisation: str = "",
    added_after: str = "",
    added_before: str = "",
    cursor: str | None = None,
    principal: Principal = Depends(access.anyone("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    error = None
    rows: list[dict[str, Any]] = []
    next_cursor = None
    # Publishers can be chosen by those who may list organisations; for others the filter does not exist
    # (naming a slug must not tell whether such an organisation is on the hub).
    publishers = directory.organisations_for(session, principal) if principal.org_is_member else []
    if not publishers:
        organisation = ""
    try:
        query = search_query(session, q, [type], [tlp], organisation or None, added_after or None, added_before or None)
        page = store.query_objects(session, principal, query, limit=50, cursor=cursor, newest_first=True)
        orgs = organisations_by_id(session)
        rows = [summary(r, orgs) for r in page.rows]
        next_cursor = page.next
    except HTTPException as exc:
        error = exc.detail
    except ValueError as exc:
        error = str(exc)
    filters = {
        "q": q,
        "type": type,
        "tlp": tlp,
        "organisation": organisation,
        "added_after": added_after,
        "added_before": added_before,
    }
    types = session.scalars(
        select(StixObject.stix_type).where(visible_to(principal)).distinct().order_by(StixObject.stix_type)
    ).all()
    context = {
        "rows": rows,
        "filters": filters,
        "error": error,
        "types": types,
        "levels": list(TLP),
        "organisations": publishers,
        "next_url": f"/objects?{urlencode({**filters, 'cursor': next_cursor})}" if next_cursor else None,
        "principal": principal,
    }
    return render(request, "exchange/browse.html", context)


# ----------------------------------------------------------------------------------------- one object


def related_ends(center: str, relations: list[dict[str, Any]]) -> list[str]:
    """For each relation of center, the object at its other end: a relationship's other ref; for a sighting
    of center, the sighting itself; for a sighting center made, what it sighted."""
    ends = []
    for rel in relations:
        obj = rel["object"]
        if obj["type"] == "sighting":
            other = rel["id"] if obj.get("sighting_of_ref") == center else obj.get("sighting_of_ref", "")
        else:
            other = obj.get("target_ref", "") if obj.get("source_ref") == center else obj.get("source_ref", "")
        ends.append(other if isinstance(other, str) else "")
    return ends


def relationship_graph(
    center: str, center_label: str, relations: list[dict[str, Any]], shown: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A radial layout: the object in the middle, what it is related to around it. Only the ends in shown
    (those the reader may read) are drawn: a hidden end's id must not reach the page."""
    others: dict[str, dict[str, Any]] = {}
    edges = []
    for rel, other in zip(relations, related_ends(center, relations), strict=True):
        if other == center or other not in shown:
            continue
        label = "sighted" if rel["object"]["type"] == "sighting" else rel["object"].get("relationship_type", "related")
        others.setdefault(other, {"id": other, "type": shown[other]["type"]})
        edges.append({"to": other, "label": label})
    width, height, radius = 640, 360, 130
    nodes = [{"id": center, "type": center.split("--")[0], "label": center_label[:28], "x": width / 2, "y": height / 2}]
    for i, node in enumerate(node for _, node in sorted(others.items())):
        angle = 2 * math.pi * i / max(len(others), 1)
        node.update(
            x=round(width / 2 + radius * 1.6 * math.cos(angle), 1),
            y=round(height / 2 + radius * math.sin(angle), 1),
            label=(shown[node["id"]]["name"] or node["type"])[:28],
        )
        nodes.append(node)
    positions = {n["id"]: n for n in nodes}
    lines = [
        {
            "x1": width / 2,
            "y1": height / 2,
            "x2": positions[e["to"]]["x"],
            "y2": positions[e["to"]]["y"],
            "label": e["label"],
        }
        for e in edges
    ]
    return {"nodes": nodes, "lines": lines, "width": width, "height": height}


@router.get("/objects/{stix_id}", response_class=HTMLResponse)
def object_page(
    request: Request,
    stix_id: str,
    principal: Principal = Depends(access.anyone("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    versions = store.get_versions(session, principal, None, stix_id)
    if not versions:
        context = {"status_code": 404, "message": f"No object {stix_id} that you may see.", "principal": principal}
        return render(request, "error.html", context, status_code=404)
    latest = max(versions, key=lambda r: r.modified)
    orgs = organisations_by_id(session)
    relations = [
        {**summary(r, orgs), "object": orjson.loads(r.body)} for r in store.related(session, principal, stix_id)
    ]
    body = orjson.loads(latest.body)
    ends = related_ends(stix_id, relations)
    # The other ends the reader may read, with type and name; the others are shown without their id.
    shown = {
        k: {"id": k, "type": v.stix_type, "name": v.name}
        for k, v in store.latest_by_ids(session, principal, [e for e in ends if e]).items()
    }
    shown.update({r["id"]: {"id": r["id"], "type": r["type"], "name": r["name"]} for r in relations})
    for rel, other in zip(relations, ends, strict=True):
        rel["other"] = shown.get(other)
    context = {
        "item": summary(latest, orgs),
        "body": body,
        "pretty": orjson.dumps(body, option=orjson.OPT_INDENT_2).decode(),
        "versions": sorted({timestamps.display(v.modified) for v in versions}),
        "relations": relations,
        "graph": relationship_graph(stix_id, latest.name or stix_id, relations, shown),
        "sightings": sightings_view(session, principal, stix_id, latest) if principal.is_authenticated else None,
        "opinions": opinions_view(session, principal, stix_id, latest) if principal.is_authenticated else None,
        "csrf": csrf_for(request),
        "principal": principal,
        "quote": quote,
    }
    return render(request, "exchange/object.html", context)


@router.post("/objects/{stix_id}/feedback")
def feedback(
    request: Request,
    stix_id: str,
    csrf: str = Form(...),
    verdict: str = Form(""),
    explanation: str = Form(""),
    count: int = Form(0),
    principal: Principal = Depends(access.member("visible", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    from shieldwall.exchange.rest_objects import OpinionIn, SightingIn, add_sighting, set_opinion

    check_csrf(request, csrf)
    if verdict:
        set_opinion(stix_id, OpinionIn(verdict=verdict, explanation=explanation), principal, session)  # type: ignore[arg-type]
    if count > 0:
        if not principal.can_write:
            raise HTTPException(403, "readers may not record sightings")
        add_sighting(stix_id, SightingIn(count=count, note=""), principal, session)
    return RedirectResponse(f"/objects/{quote(stix_id)}", status_code=303)


# ---------------------------------------------------------------------------------------------- share


def share_context(session: Session, principal: Principal, request: Request, **extra: Any) -> dict[str, Any]:
    collections = [
        c
        for c in session.scalars(select(Collection).order_by(Collection.alias))
        if c.trust_group_id is None or c.trust_group_id in principal.trust_group_ids
    ]
    return {
        "collections": collections,
        # Only the groups the caller's organisation is in: the others' names are not the caller's to know.
        "groups": directory.trust_groups_for(session, principal),
        "organisations": directory.organisations_for(session, principal),
        "levels": list(TLP),
        "csrf": csrf_for(request),
        "principal": principal,
        "result": None,
        "error": None,
        **extra,
    }


@router.get("/upload", response_class=HTMLResponse)
def upload_form(
    request: Request,
    principal: Principal = Depends(access.writer("own", via=PAGE)),
    session: Session = Depends(db_session, scope="function"),
) -> Response:
    return render(request, "exchange/upload.html", share_context(session, principal, request))


@router.post("/upload", response_class=HTMLResponse)
async def upload(
    request: Request,
    bundle: UploadFile = File(...),
    csrf: str = Form(...),
    collection: str = Form(...),
    tlp: str = Form(""),
    organisations: list[str] = Form([]),
    trust_groups: list[str] = Form([]),
    members: str = Form(""),
    anonymous: bool = Form(False),
    principal: Principal = Depends(access.writer("owner", via=PAGE)),
) -> Response:
    check_csrf(request, csrf)
    limit = settings(request).max_body_bytes
    raw = await bundle.read(limit + 1)
    database = request.app.state.database
    with database.session() as session:
        error = None
        result = None
        if len(raw) > limit:
            error = f"{bundle.filename}: larger than {limit} bytes"
        elif not principal.can_write:
            error = "your role may not share; ask an admin of your organisation for the analyst role"
        else:
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                parsed = None
                error = f"{bundle.filename}: not JSON ({exc})"
            if parsed is not None:
                objects = parsed.get("objects") if isinstance(parsed, dict) else None
                if not isinstance(objects, list):
                    error = f"{bundle.filename}: not a STIX bundle (no 'objects' list)"
                else:
                    try:
                        share_with = ShareWith(
                            organisations=organisations,
                            trust_groups=trust_groups,
                            members=[m.strip() for m in members.replace(";", ",").split(",") if m.strip()],
                        )
                        sharing = resolve_sharing(session, tlp or None, share_with, anonymous)
                        target = writable_collection(session, principal, collection)
                        result = store.ingest(session, principal, target, objects, sharing)
                    except HTTPException as exc:
                        error = str(exc.detail)
                    except store.SharingError as exc:
                        error = str(exc)
        context = share_context(session, principal, request, result=result, error=error, filename=bundle.filename)
    notify = getattr(request.app.state, "notify_new_objects", None)
    if result is not None and result.stored_pks and notify is not None:
        notify(result.stored_pks)
    return render(request, "exchange/upload.html", context, status_code=400 if error else 200)


def install_handlers(app: Any) -> None:
    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(str(request.url.path))}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _page_errors(request: Request, exc: StarletteHTTPException) -> Response:
        # API clients get JSON; people get a page.
        if request.url.path.startswith(("/api/", "/taxii2/")) or "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        context = {"status_code": exc.status_code, "message": exc.detail, "principal": PAGE.resolve(request)}
        return render(request, "error.html", context, status_code=exc.status_code)
