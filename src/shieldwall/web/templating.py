"""One Jinja2 environment over every capability's templates folder, so each capability owns its pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from shieldwall.stix.tlp import TLP

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _template_dirs() -> list[str]:
    dirs = [str(Path(__file__).parent / "templates")]
    dirs += sorted(str(p) for p in PACKAGE_DIR.glob("*/templates") if p.parent.name != "web")
    return dirs


def _tlp_label(value: int | None) -> str:
    return "" if value is None else TLP(value).label


def _tlp_class(value: int | None) -> str:
    return "" if value is None else "tlp-" + TLP(value).name.lower().replace("_", "-")


def _web_link(value: object) -> str:
    """value if it is an absolute http(s) URL, else "": only these may go in an href (a javascript: or
    data: link from imported data would run in the hub's pages); pages show the others as text."""
    text = str(value or "")
    if text != text.strip() or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        return ""  # browsers drop such characters, so they could hide a scheme
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def build_environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(d) for d in _template_dirs()]),
        autoescape=select_autoescape(["html", "xml"]),
    )
    env.filters["tlp_label"] = _tlp_label
    env.filters["tlp_class"] = _tlp_class
    env.filters["web_link"] = _web_link
    return env


templates = Jinja2Templates(env=build_environment())


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Any:
    """Render a page; every page sees who is signed in (request.state.principal, set by the auth layer)."""
    context.setdefault("principal", getattr(request.state, "principal", None))
    return templates.TemplateResponse(request, name, context, status_code=status_code)
