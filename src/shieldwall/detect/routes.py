"""The /detect page: finished runs under the data dir and one run's report (network, timelines, evidence).

Runs marked TLP:CLEAR are shown to everyone; anything stricter only to signed-in members.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse

from shieldwall.detect.outputs import read_run, report_context
from shieldwall.detect.runs import StoredRun, list_runs
from shieldwall.exchange.deps import current_principal
from shieldwall.stix.tlp import TLP
from shieldwall.web.templating import render


def install(app: FastAPI) -> None:
    app.add_api_route("/detect", detect_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)
    app.add_api_route("/detect/runs/{name}/{filename}", run_file, methods=["GET"], include_in_schema=False)


def _visible_runs(request: Request) -> list[StoredRun]:
    principal = current_principal(request)
    runs = list_runs(request.app.state.settings.data_dir)
    return [r for r in runs if r.tlp == TLP.CLEAR or principal.is_authenticated]


def detect_page(request: Request, run: str | None = None, cluster: str | None = None) -> Any:
    runs = _visible_runs(request)
    chosen = next((r for r in runs if r.name == run), None) if run else (runs[0] if runs else None)
    if run and chosen is None:
        return render(request, "detect/page.html", {"runs": runs, "chosen": None, "missing": run}, status_code=404)
    context: dict[str, Any] = {"runs": runs, "chosen": chosen, "missing": None}
    if chosen is not None:
        info, clusters, edges, evidence = read_run(chosen.path)
        context.update(report_context(clusters, edges, evidence, info))
    return render(request, "detect/page.html", context)


ALLOWED_FILES = {"report.html", "bundle.json", "clusters.csv", "edges.csv", "evidence.csv"}


def run_file(request: Request, name: str, filename: str) -> Any:
    runs = {r.name: r for r in _visible_runs(request)}
    if name not in runs or filename not in ALLOWED_FILES:
        return HTMLResponse("Not found", status_code=404)
    return FileResponse(runs[name].path / filename)
