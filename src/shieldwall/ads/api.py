"""The public JSON API (`/api/v1/ads/...`). Reading needs no login: the ad library is public
information. Changing the archive (importing) needs the ad-library editor role, an API token (never the
browser's session cookie, so another site cannot post on an editor's behalf), and is audited."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tempfile
from datetime import date
from pathlib import Path as FilePath
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from shieldwall.ads import aggregates, export
from shieldwall.ads.editing import audited_import, audited_spend_import
from shieldwall.ads.importers.detect import FORMATS, detect_format
from shieldwall.ads.importers.figures import ReportOptions, parse_period
from shieldwall.ads.labels import label_content
from shieldwall.ads.reported import ReportedError, ReportedFilters, figure_json, list_figures, without_disclaimer
from shieldwall.ads.search import (
    MAX_BIGINT,
    MAX_SPONSOR_ID,
    MAX_WORDS,
    SORTS,
    AdFilters,
    SearchError,
    SearchLimit,
    search_ads,
)
from shieldwall.ads.service import (
    ad_json,
    election_by_key,
    find_ad,
    installed_scorer,
    sponsor_report,
    version_history,
)
from shieldwall.ads.spend_import import SpendImportResult
from shieldwall.exchange import access
from shieldwall.exchange.deps import ApiError, db_session
from shieldwall.exchange.policy import Principal

IMPORT_FORMATS = tuple(FORMATS)
MAX_LIMIT = 1000
MAX_EXPORT_ROWS = 5_000_000
router = APIRouter(prefix="/api/v1/ads", tags=["ads"])
# The archive is public: every read is open to anyone; changing it needs an ad-library editor.
READ = [Depends(access.anyone())]
EDIT = access.ad_editor()


def search_error(error: SearchError) -> ApiError:
    return ApiError(422 if isinstance(error, SearchLimit) else 400, str(error))


def filters_from(
    q: str | None = Query(
        None,
        description=f"Full text: every word must occur (page, payer, sponsor, ad text); at most {MAX_WORDS} words.",
    ),
    country: str | None = Query(None, description="ISO 3166-1 alpha-2 country code, e.g. US."),
    region: str | None = Query(None, description="A region the ad was delivered in, exactly as published."),
    platform: str | None = Query(None, description="meta, google, snap, ..."),
    sponsor_id: int | None = Query(
        None, ge=1, le=MAX_SPONSOR_ID, description="A sponsor entity (as payer, beneficiary or page)."
    ),
    election: str | None = Query(None, description="Election key, e.g. fr-2027-presidential."),
    date_from: date | None = Query(None, description="Ads running on or after this day (YYYY-MM-DD)."),
    date_to: date | None = Query(None, description="Ads running on or before this day (YYYY-MM-DD)."),
    spend_min: int | None = Query(
        None, ge=0, le=MAX_BIGINT, description="Ads whose spend range reaches at least this."
    ),
    spend_max: int | None = Query(
        None, ge=0, le=MAX_BIGINT, description="Ads whose spend range starts at or below this."
    ),
    currency: str | None = Query(None, description="ISO 4217 currency code."),
    language: str | None = Query(None, description="ISO 639-1 language code."),
    compliance: str | None = Query(None, description="compliant, non_compliant or unknown."),
    status: str | None = Query(None, description="active or removed."),
    undeclared_political: bool | None = Query(None, description="Only ads that look political but were not declared."),
) -> AdFilters:
    try:
        return AdFilters.from_query({k: v for k, v in locals().items() if v is not None and k != "self"})
    except SearchError as error:
        raise search_error(error) from None


@router.get(
    "",
    dependencies=READ,
    summary="Search ads",
    description=f"Filters combine with AND. Sorted by `sort`; page with `cursor` (the previous page's "
    f"`next_cursor`): stable even while ads are imported. `limit` is 1 to {MAX_LIMIT} (default 50).",
)
def search(
    filters: AdFilters = Depends(filters_from),
    sort: str = Query("newest", description=f"One of {', '.join(SORTS)}."),
    cursor: str | None = Query(None),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    try:
        page = search_ads(session, filters, sort=sort, cursor=cursor, limit=limit)
    except SearchError as error:
        raise search_error(error) from None
    return {
        "data": [ad_json(ad) for ad in page.ads],
        "next_cursor": page.next_cursor,
        "limits": {"max_limit": MAX_LIMIT, "max_export_rows": MAX_EXPORT_ROWS},
    }


@router.get(
    "/export.{fmt}",
    dependencies=READ,
    summary="Bulk export of a search",
    description=f"Streams every ad matching the filters as csv, jsonl or parquet (at most "
    f"{MAX_EXPORT_ROWS:,} rows per request; narrow the filters or page by date for more).",
)
def export_search(
    fmt: str,
    filters: AdFilters = Depends(filters_from),
    sort: str = Query("newest"),
    request: Request = None,  # type: ignore[assignment]
) -> StreamingResponse:
    if fmt not in export.FORMATS:
        raise ApiError(400, f"format: one of {', '.join(export.FORMATS)}")
    if sort not in SORTS:
        raise ApiError(400, f"sort: one of {', '.join(SORTS)}")
    body = export.stream(request.app.state.database, filters, fmt, sort, MAX_EXPORT_ROWS)
    return StreamingResponse(
        body,
        media_type=export.FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="ads.{fmt}"'},
    )


@router.get(
    "/compliance",
    summary="Non-compliant ads by sponsor, and pages the platforms report ran ads without a disclaimer",
    dependencies=READ,
)
def compliance(filters: AdFilters = Depends(filters_from), session: Session = Depends(db_session)) -> dict[str, Any]:
    return {
        "data": aggregates.non_compliant_by_sponsor(session, filters),
        "reported_without_disclaimer": without_disclaimer(session, filters.country),
    }


@router.get(
    "/reported",
    summary="Spend the platforms report per page, advertiser or region (Meta Ad Library Report, Google bundle)",
    description="Current figures of every imported spend report, in import order; page with `cursor` (the "
    f"previous page's `next_cursor`). `limit` is 1 to {MAX_LIMIT}. Amounts are ranges in their own currency.",
    dependencies=READ,
)
def reported(
    country: str | None = Query(None, description="ISO 3166-1 alpha-2."),
    report: str | None = Query(None, description="meta-report, google-advertisers, google-weekly or google-geo."),
    no_disclaimer: bool | None = Query(None, description="Only pages that ran ads without a disclaimer (or not)."),
    sponsor_id: int | None = Query(None, ge=1, le=MAX_SPONSOR_ID, description="As page, advertiser or disclaimer."),
    cursor: int | None = Query(None, ge=0, le=MAX_BIGINT),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    try:
        filters = ReportedFilters.from_query(
            {"country": country, "report": report, "no_disclaimer": no_disclaimer, "sponsor_id": sponsor_id}
        )
    except ReportedError as error:
        raise ApiError(422, str(error)) from None
    rows, next_cursor = list_figures(session, filters, cursor, limit)
    return {"data": [figure_json(r) for r in rows], "next_cursor": next_cursor}


@router.get(
    "/compliance.csv",
    dependencies=READ,
    summary="Non-compliant ads by sponsor, as CSV",
    description="One row per sponsor and missing or inconsistent item, with how many ads lack it.",
)
def compliance_csv(filters: AdFilters = Depends(filters_from), session: Session = Depends(db_session)) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["sponsor_id", "sponsor", "non_compliant_ads", "item", "ads_missing_item"])
    for row in aggregates.non_compliant_by_sponsor(session, filters):
        for item, count in row["issues"].items() or [("", 0)]:
            writer.writerow([row["sponsor_id"], row["sponsor"], row["non_compliant_ads"], item, count])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="non-compliant-by-sponsor.csv"'},
    )


@router.get("/aggregates", summary="Spend totals as ranges (lower and upper sums per currency)", dependencies=READ)
def totals(filters: AdFilters = Depends(filters_from), session: Session = Depends(db_session)) -> dict[str, Any]:
    return {
        "spend": [r.as_dict() for r in aggregates.spend_totals(session, filters)],
        "impressions": aggregates.impressions_total(session, filters).as_dict(),
        "top_sponsors": aggregates.top_sponsors(session, filters),
    }


@router.get(
    "/label",
    summary="Label a post or link as news, sponsored, political ad or undeclared political",
    dependencies=READ,
)
def label(
    request: Request,
    publisher: str | None = None,
    paid: bool = False,
    paid_by: str | None = None,
    declared_political: bool = False,
    text: str | None = None,
    url: str | None = None,
    session: Session = Depends(db_session),
) -> dict[str, Any]:
    result = label_content(
        publisher=publisher,
        is_paid=paid,
        paid_by=paid_by,
        declared_political=declared_political,
        text=text,
        url=url,
        scorer=installed_scorer(request.app.state.settings),
        session=session,
    )
    return result.as_dict()


@router.get("/sponsors/{sponsor_id}", summary="A sponsor: names, regulator ids and spend as ranges", dependencies=READ)
def sponsor(sponsor_id: int, session: Session = Depends(db_session)) -> dict[str, Any]:
    report = sponsor_report(session, sponsor_id)
    if report is None:
        raise ApiError(404, f"no sponsor {sponsor_id}")
    return {
        "id": report["sponsor"].id,
        "name": report["sponsor"].name,
        "names": report["names"],
        "identifiers": [{"scheme": s, "value": v} for s, v in report["identifiers"]],
        "spend": [r.as_dict() for r in report["totals"]],
        "impressions": report["impressions"].as_dict(),
        "spend_by_month": [r.as_dict() for r in report["by_month"]],
        "spend_by_region": [r.as_dict() for r in report["by_region"]],
        "spend_by_demographic": [r.as_dict() for r in report["by_demographic"]],
        "reported_spend": [figure_json(r) for r in report["reported"]],
        "ran_ads_without_disclaimer": any(r.no_disclaimer for r in report["reported"]),
        "classifier": report["classifier"].as_dict(),
    }


@router.get(
    "/elections/{key}",
    summary="Ad spend for an election of the hub's registry (by its slug): top sponsors and totals",
    dependencies=READ,
)
def election(key: str, session: Session = Depends(db_session)) -> dict[str, Any]:
    found = election_by_key(session, key)
    if found is None:
        raise ApiError(404, f"no election {key[:80]!r}")
    filters = AdFilters(election=found.slug)
    return {
        "id": found.id,
        "key": found.slug,
        "name": found.name,
        "country": found.country,
        "level": found.level,
        "date": found.election_date.isoformat(),
        "url": f"/elections/{found.id}",
        "ads_url": f"/ads?election={found.slug}",
        "top_sponsors": aggregates.top_sponsors(session, filters),
        "spend": [r.as_dict() for r in aggregates.spend_totals(session, filters)],
    }


@router.get("/{ad_id:int}", summary="One ad, with every version", dependencies=READ)
def ad_detail(ad_id: int, session: Session = Depends(db_session)) -> dict[str, Any]:
    ad = find_ad(session, ad_id)
    if ad is None:
        raise ApiError(404, f"no ad {ad_id}")
    return {
        **ad_json(ad),
        "versions": [
            {
                "version": v.version,
                "kind": v.kind,
                "observed_at": v.observed_at,
                "source": v.source,
                "changes": [{"field": f, "before": b, "after": a} for f, b, a in v.changes],
            }
            for v in version_history(session, ad_id)
        ],
    }


@router.post(
    "/import",
    summary="Import a platform file (ad-library editors only, with an API token; audited)",
    description="The request body is the file: ads (Meta JSON, Google creative stats CSV, Snap CSV) or a spend "
    "report (Meta Ad Library Report CSV, Google's advertiser, weekly or geographic spend CSV). Its format is "
    "detected from its content unless `format` is given. Rows that cannot be imported come back in `problems` "
    "with line and field; each batch is committed whole or not at all. Needs the ad-library editor role (the hub "
    "operator grants it) and an API token, not a browser session.",
)
async def import_file(
    request: Request,
    format: str | None = Query(None, description=f"Only to override detection: one of {', '.join(IMPORT_FORMATS)}."),
    snapshot: bool = Query(False, description="The file lists every live ad: absent ones are recorded as removed."),
    country: str | None = Query(None, description="Spend reports: the country, when the file does not say."),
    period: str | None = Query(None, description="Spend reports: the period, YYYY-MM-DD..YYYY-MM-DD."),
    principal: Principal = Depends(EDIT),
) -> dict[str, Any]:
    if not request.headers.get("authorization"):
        # A browser sends its session cookie to any site's form post: the archive changes only by token.
        raise ApiError(403, "the import takes an API token (Authorization: Bearer ...), not a browser session")
    if format is not None and format not in IMPORT_FORMATS:
        raise ApiError(400, f"format: one of {', '.join(IMPORT_FORMATS)}")
    options = _report_options(country, period)
    settings = request.app.state.settings
    body = await request.body()
    if len(body) > settings.max_body_bytes:
        raise ApiError(413, f"the file is larger than {settings.max_body_bytes} bytes; use `shieldwall ads import`")
    source = {"upload_bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    with tempfile.TemporaryDirectory() as tmp:
        path = FilePath(tmp) / "upload"
        path.write_bytes(body)
        shown_as = {str(path): "upload"}
        try:
            found = format or detect_format(path)
            if FORMATS[found].kind == "spend":
                spend = await run_in_threadpool(
                    audited_spend_import,
                    request.app.state.database,
                    principal,
                    [path],
                    found,
                    options,
                    source=source,
                    shown_as=shown_as,
                )
                return {"format": found, **_spend_outcome(spend)}
            result = await run_in_threadpool(
                audited_import,
                request.app.state.database,
                principal,
                [path],
                found,
                scorer=installed_scorer(settings),
                snapshot=snapshot,
                source=source,
                shown_as=shown_as,
            )
        except ValueError as error:
            raise ApiError(400, str(error).replace(str(path), "upload")) from None
    return {
        "format": found,
        "run_id": result.run_id,
        "rows_read": result.rows_read,
        "created": result.stats.created,
        "changed": result.stats.changed,
        "unchanged": result.stats.unchanged,
        "removed": result.stats.removed,
        "rejected": result.rejected,
        "problems": [{**p.as_dict(), "file": "upload"} for p in result.problems[:1000]],
    }


def _report_options(country: str | None, period: str | None) -> ReportOptions:
    if country is not None and not re.fullmatch(r"[A-Za-z]{2}", country):
        raise ApiError(422, "country: an ISO 3166-1 alpha-2 code, e.g. US")
    start = end = None
    if period is not None:
        try:
            start, end = parse_period(period)
        except ValueError as error:
            raise ApiError(422, str(error)) from None
    return ReportOptions(country.upper() if country else None, start, end)


def _spend_outcome(result: SpendImportResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "rows_read": result.rows_read,
        "figures": result.figures,
        "no_disclaimer": sum(f.no_disclaimer for f in result.files),
        "replaced": sum(f.replaced for f in result.files),
        "countries": sorted({c for f in result.files for c in f.countries}),
        "currencies": sorted({c for f in result.files for c in f.currencies}),
        "rejected": result.rejected,
        "problems": [{**p.as_dict(), "file": "upload"} for p in result.problems[:1000]],
    }
