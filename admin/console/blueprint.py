"""The console's blueprint, its sub-navigation, and what every console page shares.

Each area of the console is a module of this package that imports `blueprint` and adds
its views (`citizens.py`, `cards.py`, ...). An area shows in the sub-navigation through
one entry of `CONSOLE_NAV`; an entry whose endpoint is not registered is left out, so
an area can be listed before its module exists, and a module added later needs no
change here beyond its line (or `add_area()` from the module itself).

Every request is an admin's: `require_staff(("admin",))` first, and the admin becomes
the request's principal (`g.principal`), as the API's guard makes its caller, so the
domain functions the pages call write the admin's name in the audit log and the
registry's history. An area whose API is a clerk's too (the queue of possible
duplicates) opens its endpoints to clerks with `open_to`, the same roles as its API
route; a clerk sees no sub-navigation and no other console page.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, g, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from admin.common import screen_blueprint
from admin.common.staff import require_staff
from backend.auth.principal import Principal
from backend.db import session
from backend.errors import ApiError

blueprint: Blueprint = screen_blueprint("console", __name__, "/console")
SCREEN = "console"
ADMINS = ("admin",)
# endpoint -> the roles that may open it, for the few pages not only an admin's
ROLES: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Area:
    """One entry of the sub-navigation. `area` names the module whose pages it marks
    as current (the last part of `admin.console.<area>`), or another blueprint's name
    for an area served outside this package."""

    endpoint: str
    label: Any  # a lazy string, translated when shown
    area: str


# The sub-navigation, in order. Areas built elsewhere are listed here already and show
# once their endpoint is registered (rename an endpoint here if it is called otherwise).
CONSOLE_NAV: list[Area] = [
    Area("console.index", _l("Overview"), "home"),
    Area("console.citizens", _l("Citizens"), "citizens"),
    Area("console.cards", _l("Cards"), "cards"),
    Area("console.issuance", _l("Issuance"), "issuance"),
    Area("console.terminals", _l("Terminals"), "terminals"),
    Area("console.staff", _l("Staff"), "staff_accounts"),
    Area("console.approvals", _l("Approvals"), "approvals"),
    Area("console.jobs", _l("Jobs"), "jobs"),
    Area("console.programmes", _l("Programmes"), "programmes"),
    Area("console.reports", _l("Reports"), "reports"),
]


def add_area(entry: Area, before: str | None = None) -> None:
    """Add an area to the sub-navigation (before the entry for endpoint `before`, else
    at the end); adding one already listed changes nothing."""
    if any(existing.endpoint == entry.endpoint for existing in CONSOLE_NAV):
        return
    places = [i for i, existing in enumerate(CONSOLE_NAV) if existing.endpoint == before]
    CONSOLE_NAV.insert(places[0] if places else len(CONSOLE_NAV), entry)


def open_to(roles: tuple[str, ...], *endpoints: str) -> None:
    """Let `roles` (admins among them) open these console endpoints ("console.x")."""
    assert "admin" in roles
    for endpoint in endpoints:
        ROLES[endpoint] = roles


def current_area() -> str | None:
    """The area of this request's page: its view's module (or the module's `AREA`, for
    an area split over several modules), or its blueprint."""
    view = current_app.view_functions.get(request.endpoint or "")
    if request.blueprint == blueprint.name and view is not None:
        module = sys.modules.get(view.__module__)
        return getattr(module, "AREA", view.__module__.rsplit(".", 1)[-1])
    return request.blueprint


def console_nav() -> list[tuple[str, str, bool]]:
    """(endpoint, label, current) for each area whose page exists."""
    known = current_app.view_functions
    here = current_area()
    return [(entry.endpoint, str(entry.label), entry.area == here) for entry in CONSOLE_NAV
            if entry.endpoint in known]


def admin() -> Principal:
    """The signed-in admin (or, on a page `open_to` clerks, the clerk) serving this
    request."""
    principal = g.get("principal")
    assert principal is not None and principal.kind == "staff"
    return principal


@blueprint.before_request
def _admins_only() -> None:
    g.principal = require_staff(ROLES.get(request.endpoint or "", ADMINS))


@blueprint.context_processor
def _shared() -> dict[str, Any]:
    from admin.console import once, words

    return {"console_nav": console_nav, "once_field": once.field, "words": words}


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    """A console page: `errors` (for the error summary and the title's "Error:") is
    always defined, as is `notice` (a line saying what was just done)."""
    context.setdefault("errors", [])
    context.setdefault("notice", None)
    return render_template(template, screen=SCREEN, **context), status


@blueprint.errorhandler(ApiError)
def _refused(error: ApiError) -> tuple[str, int]:
    """A refusal no page handled itself (an unknown serial, a record gone): its words."""
    from admin.console import words

    session().rollback()
    return page("console/problem.html", error.status if error.status >= 400 else 400,
                problem=words.refusal(error))


@blueprint.errorhandler(403)
@blueprint.errorhandler(404)
@blueprint.errorhandler(405)
def _http_problem(error: HTTPException) -> tuple[str, int]:
    from admin.console import words

    return page("console/problem.html", error.code or 400,
                problem=words.http_problem(error.code or 400))
