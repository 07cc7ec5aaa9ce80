"""Who may call a route, declared on the route itself, in one vocabulary for every capability.

Every route takes its principal from one of the rules below (`principal = Depends(access.writer("owner"))`,
or `dependencies=[Depends(access.anyone())]` when it needs nobody). The rule names who may call (the
caller kinds) and which object-level check the handler applies to what the route names. `check_declared`
refuses to build an application with a route that declares no rule, and `route_table` lists them all (the
security section of the README and `shieldwall admin routes` show it).

Caller kinds, weakest first:
- anyone: visitors included (reads still go through the exchange's policy: a visitor sees TLP:CLEAR);
- member: anyone signed in (a guest organisation's members included);
- partner: a member of a member organisation, any role (feedback such as opinions; guests never write);
- writer: a member of a member organisation with the analyst or admin role (guests never write);
- admin: an organisation admin (of a member organisation);
- ad_editor: a member marked as an ad-library editor, or the hub operator;
- operator: the hub operator.

Object checks (what the handler does with the thing a route names):
- none: the route names no stored thing;
- visible: the thing is read through `policy.visible_to`; what the caller may not read answers 404;
- owner: as visible, and only the owner organisation's writers change it (others: 404 when hidden, else 403);
- own: only the caller's own account or organisation is named.

Pages use `via=PAGE` (bad credentials browse as a visitor, a page that needs a member redirects to the
sign-in page); TAXII routes use the TAXII module's `via` so refusals are TAXII error objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from fastapi import FastAPI, HTTPException, Request
from fastapi.routing import APIRoute

from shieldwall.exchange.deps import ApiError, current_principal
from shieldwall.exchange.policy import ANONYMOUS, Principal

CALLERS = ("anyone", "member", "partner", "writer", "admin", "ad_editor", "operator")
CHECKS = ("none", "visible", "owner", "own")


def _api_refusal(status: int, message: str) -> Exception:
    return ApiError(status, message, headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


@dataclass(frozen=True)
class Via:
    """How a family of routes finds its principal and words a refusal (JSON API, TAXII, web pages)."""

    resolve: Callable[[Request], Principal] = current_principal
    refuse: Callable[[int, str], Exception] = _api_refusal


API = Via()


class LoginRequired(Exception):
    """A page needs a signed-in member: the app answers with a redirect to the sign-in page."""


def _page_principal(request: Request) -> Principal:
    # A page never fails on bad credentials: whoever cannot be identified browses as a visitor.
    try:
        return current_principal(request)
    except HTTPException:
        request.state.principal = ANONYMOUS
        return ANONYMOUS


def _page_refusal(status: int, message: str) -> Exception:
    return LoginRequired() if status == 401 else HTTPException(status, message)


PAGE = Via(_page_principal, _page_refusal)


@dataclass(frozen=True)
class Access:
    """A route's declared rule; calling it (as a FastAPI dependency) enforces the caller kind."""

    caller: str
    check: str = "none"
    via: Via = API

    def __post_init__(self) -> None:
        if self.caller not in CALLERS or self.check not in CHECKS:
            raise ValueError(f"unknown access rule {self.caller!r}/{self.check!r}")

    def __call__(self, request: Request) -> Principal:
        principal = self.via.resolve(request)
        refusal = refusal_for(principal, self.caller)
        if refusal is not None:
            raise self.via.refuse(*refusal)
        return principal


def refusal_for(principal: Principal, caller: str) -> tuple[int, str] | None:
    """(status, message) when principal is not of the caller kind, else None."""
    if caller == "anyone":
        return None
    if not principal.is_authenticated:
        return 401, "authentication required"
    if caller == "member":
        return None
    if caller == "operator":
        return None if principal.is_operator else (403, "this needs the hub operator")
    if caller == "ad_editor":
        if principal.is_operator or (principal.is_ad_editor and principal.org_is_member):
            return None
        return 403, "this needs the ad-library editor role (ask the hub operator)"
    if not principal.org_is_member:
        return 403, "guest organisations read TLP:CLEAR only and may not write"
    if caller == "partner":
        return None
    if caller == "writer":
        return None if principal.can_write else (403, "your role may not write; ask an admin for the analyst role")
    return None if principal.is_admin else (403, "this needs the admin role in your organisation")


def anyone(check: str = "none", via: Via = API) -> Access:
    return Access("anyone", check, via)


def member(check: str = "none", via: Via = API) -> Access:
    return Access("member", check, via)


def partner(check: str = "none", via: Via = API) -> Access:
    return Access("partner", check, via)


def writer(check: str = "none", via: Via = API) -> Access:
    return Access("writer", check, via)


def admin(check: str = "own", via: Via = API) -> Access:
    return Access("admin", check, via)


def ad_editor(check: str = "none", via: Via = API) -> Access:
    return Access("ad_editor", check, via)


def operator(check: str = "none", via: Via = API) -> Access:
    return Access("operator", check, via)


def declared_rule(route: APIRoute, inherited: Sequence[Any] = ()) -> Access | None:
    """The rule a route declares (among its dependencies at any depth, or its router's at inclusion)."""
    for depends in inherited:
        if isinstance(getattr(depends, "dependency", None), Access):
            return cast(Access, depends.dependency)
    stack: list[Any] = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, Access):
            return dependant.call
        stack.extend(dependant.dependencies)
    return None


def _walk(routes: Iterable[Any], prefix: str, inherited: tuple[Any, ...]) -> Iterator[tuple[str, str, Access | None]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield ",".join(sorted(route.methods or ())), prefix + route.path, declared_rule(route, inherited)
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps included routers as branches
            context = route.include_context
            yield from _walk(
                route.original_router.routes, prefix + context.prefix, inherited + tuple(context.dependencies)
            )


def route_table(app: FastAPI) -> list[tuple[str, str, Access | None]]:
    """(methods, path, rule) for every API route and page of app."""
    return sorted(_walk(app.routes, "", ()), key=lambda row: (row[1], row[0]))


def check_declared(app: FastAPI) -> None:
    missing = [f"{methods} {path}" for methods, path, rule in route_table(app) if rule is None]
    if missing:
        listed = "; ".join(missing)
        raise RuntimeError(f"routes without a declared access rule (see shieldwall.exchange.access): {listed}")



def print_route_table() -> None:
    """`python -m shieldwall.exchange.access`: every route with who may call it and its object check."""
    from shieldwall.config import load_settings
    from shieldwall.web.app import create_app

    app = create_app(load_settings(), database=None)
    for methods, path, rule in route_table(app):
        caller, check = (rule.caller, rule.check) if rule else ("UNDECLARED", "-")
        print(f"{methods:<12} {path:<70} {caller:<10} {check}")


if __name__ == "__main__":  # import the package's module, whose Access class the routes use
    from shieldwall.exchange import access

    access.print_route_table()
