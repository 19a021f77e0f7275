"""Who a staff screen serves: the signed-in staff member behind the `sk_staff` cookie.

Counter, console and audit pages call `require_staff(roles)` first. The cookie holds
the same staff token the API takes, resolved on every request, so a sign-out, a
disabled account or a "sign out everywhere" ends the page on its next request. A staff
session also ends after `STAFF_IDLE_SIGNOUT` seconds with no request from its pages
(the page warns at `STAFF_IDLE_WARNING`): the last request's time is kept in the
signed session cookie, checked here, so a page left open at a counter closes even if
its script is blocked. The sign-in starts that clock (`start_clock`); a staff cookie
without it (a browser that kept the cookie but lost its session, a copied cookie) opens
nothing here.

The page's own timer (`common/static/common/staff.js`) warns and signs out on the same
clock; `/staff/still-here` moves it on when the person answers the warning.

A page that follows something by itself (a job's progress, an issuance's steps: htmx
polling every few seconds) marks those requests with the `X-Satukartu-Poll` header
(`POLL_HEADER`, as `hx-headers` on the polling element). Nobody did anything for them,
so they do not move the clock on; they are still checked against it, so a page left
polling is signed out like any other (an htmx request is answered with `HX-Redirect`
to the sign-in). The reload htmx makes when what is followed changes state is an
ordinary page request and moves the clock once; that happens a few times per job, not
every few seconds.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, g, request, session, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from admin.common.sessions import STAFF_COOKIE, Gone, clear_cookie, resolve
from backend.auth.principal import Principal

SEEN_KEY = "staff_seen"
# Sent by a page's background polling (hx-headers on the polling element): not activity.
POLL_HEADER = "X-Satukartu-Poll"
# Where each role starts after signing in (the agent has a screen of its own).
ROLE_HOME = {"admin": "console.index", "clerk": "counter.idle", "auditor": "audit.index",
             "agent": "agent.idle"}


# The screens each role may open, in the bar; a screen not registered is left out.
NAV = {"admin": (("console.index", _l("Console")), ("audit.index", _l("Audit log"))),
       "clerk": (("counter.idle", _l("Counter")), ("counter.appeals_queue", _l("Appeals")),
                 ("console.duplicates", _l("Possible duplicates"))),
       "auditor": (("audit.index", _l("Audit log")),)}


def staff_nav(role: str | None) -> list[tuple[str, str]]:
    known = current_app.view_functions
    return [(endpoint, str(label)) for endpoint, label in NAV.get(role or "", ())
            if endpoint in known]


def signed_in() -> Principal | None:
    """The staff member behind the cookie, whatever their role; None when signed out."""
    principal = resolve(request.cookies.get(STAFF_COOKIE))
    if principal is None or principal.kind != "staff":
        return None
    return principal


class TimedOut(Gone):
    """Idle too long: back to the sign-in, and this browser forgets the staff cookie."""

    def get_response(self, environ: Any = None, scope: Any = None) -> BaseResponse:
        response = super().get_response(environ, scope)
        clear_cookie(response, STAFF_COOKIE)
        session.pop(SEEN_KEY, None)
        return response


def start_clock() -> None:
    """A sign-in has just happened in this browser: its idle clock starts now."""
    session[SEEN_KEY] = int(time.time())


def is_poll() -> bool:
    """True when this request is a page's background poll, not something a person did."""
    return request.headers.get(POLL_HEADER) == "1"


def idle_expired() -> bool:
    """True when the browser's last staff request is too long ago, or unknown."""
    seen = session.get(SEEN_KEY)
    limit = current_app.config["STAFF_IDLE_SIGNOUT"]
    return not isinstance(seen, (int, float)) or time.time() - seen > limit


def safe_next(target: str | None) -> str | None:
    """Only a path on this hub: a sign-in page must not send anyone elsewhere."""
    if not target or len(target) > 2000:
        return None
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in target):
        return None  # browsers read "/\host" as "//host"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _return_path() -> str | None:
    """Where to come back to after signing in again: the page the person was on (an htmx
    request names it), never a form's POST target."""
    if request.headers.get("HX-Request"):
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        if current.netloc == request.host:
            return safe_next(current.path + (f"?{current.query}" if current.query else ""))
        return None
    return request.full_path.rstrip("?") if request.method == "GET" else None


def require_staff(roles: tuple[str, ...]) -> Principal:
    """The signed-in staff member if their role is one of `roles`; else the sign-in page
    (signed out, timed out) or a 403 (signed in with another role)."""
    principal = g.get("staff") or signed_in()
    if principal is None or idle_expired():
        timed_out = principal is not None and SEEN_KEY in session
        target = url_for("staff.sign_in", next=_return_path(),
                         problem="timed_out" if timed_out else None)
        raise TimedOut(target) if timed_out else Gone(target)
    if principal.role not in roles:
        abort(403)
    if not is_poll():  # a poll is checked against the clock but does not move it on
        start_clock()
    g.staff = principal
    return principal


def home_for(role: str) -> str:
    """Where `role` starts after signing in: its screen, or (a screen this hub does not
    serve) the staff member's own page."""
    endpoint = ROLE_HOME.get(role, "staff.sign_in")
    return url_for(endpoint if endpoint in current_app.view_functions else "staff.account")
