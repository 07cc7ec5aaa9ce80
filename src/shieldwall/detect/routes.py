"""The /detect page: finished runs under the data dir and one run's report (network, timelines, evidence).

Each run is read under the exchange's TLP rule for its owner organisation (see detect.runs.readable_by):
a run the caller may not read answers 404 and is left out of the list, like one that does not exist.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from shieldwall.detect.outputs import read_run, report_context
from shieldwall.detect.runs import OUTPUT_FILES, chunks, open_output, visible_runs
from shieldwall.exchange import access
from shieldwall.exchange.policy import Principal
from shieldwall.web.templating import render

READ = access.anyone("visible", via=access.PAGE)
# The stand-alone report is our own escaped HTML; it still runs no script and loads nothing.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


def install(app: FastAPI) -> None:
    app.add_api_route("/detect", detect_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    app.add_api_route("/detect/runs/{name}/{filename}", run_file, methods=["GET"], include_in_schema=False)


def detect_page(
    request: Request, run: str | None = None, cluster: str | None = None, principal: Principal = Depends(READ)
) -> Any:
    runs = visible_runs(request.app.state.settings.data_dir, principal)
    chosen = next((r for r in runs if r.name == run), None) if run else (runs[0] if runs else None)
    if run and chosen is None:
        return render(request, "detect/page.html", {"runs": runs, "chosen": None, "missing": run}, status_code=404)
    context: dict[str, Any] = {"runs": runs, "chosen": chosen, "missing": None}
    if chosen is not None:
        info, clusters, edges, evidence = read_run(chosen.path)
        context.update(report_context(clusters, edges, evidence, info))
    return render(request, "detect/page.html", context)


def run_file(request: Request, name: str, filename: str, principal: Principal = Depends(READ)) -> Response:
    run = next((r for r in visible_runs(request.app.state.settings.data_dir, principal) if r.name == name), None)
    opened = open_output(run, filename) if run is not None else None
    if opened is None:
        return HTMLResponse("Not found", status_code=404)
    handle, size = opened
    headers = {"Content-Length": str(size), "X-Content-Type-Options": "nosniff"}
    if filename == "report.html":
        headers["Content-Security-Policy"] = REPORT_CSP
    else:
        safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)  # a header carries Latin-1 without quotes
        headers["Content-Disposition"] = f'attachment; filename="{safe_name}-{filename}"'
    return StreamingResponse(chunks(handle), media_type=OUTPUT_FILES[filename], headers=headers)
