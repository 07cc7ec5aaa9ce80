"""The exchange's web pages."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shieldwall.exchange.deps import current_principal
from shieldwall.exchange.policy import Principal
from shieldwall.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, principal: Principal = Depends(current_principal)) -> HTMLResponse:
    return render(request, "exchange/home.html", {})
