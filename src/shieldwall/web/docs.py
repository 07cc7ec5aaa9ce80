"""The API documentation page, with Swagger UI served by the hub itself (no CDN: the hub works offline, and a
security tool should not make its users' browsers fetch scripts from third parties)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from shieldwall.exchange import access

ASSETS = "/static/swagger-ui"
# swagger-ui-py ships Swagger UI 5 (OpenAPI 3.1, which FastAPI writes); only its static files are used.
ASSET_DIR = Path(swagger_ui.__file__).parent / "static"


def install(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=str(ASSET_DIR)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(access.anyone(via=access.PAGE))])
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
