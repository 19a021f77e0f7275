"""Who a staff screen serves: the signed-in staff member behind the `sk_staff` cookie.

Counter, console and audit pages call `require_staff(roles)` first. The cookie holds
the same staff token the API takes, resolved on every request, so a sign-out, a
disabled account or a "sign out everywhere" ends the page on its next request. A staff
session also ends after `STAFF_IDLE_SIGNOUT` seconds with no request from its pages
(the page warns at `STAFF_IDLE_WARNING`): the last request's time is kept in the
signed session cookie, checked here, so a page left open at a counter closes even if
its script is blocked.
"""

from __future__ import annotations

import time

from flask import abort, current_app, g, request, session, url_for
from flask_babel import lazy_gettext as _l

from admin.common.sessions import STAFF_COOKIE, Gone, resolve
from backend.auth.principal import Principal

SEEN_KEY = "staff_seen"
# Where each role starts after signing in (the agent has a screen of its own).
ROLE_HOME = {"admin": "console.index", "clerk": "counter.idle", "auditor": "audit.index",
             "agent": "agent.idle"}


# The screens each role may open, in the bar; a screen not registered is left out.
NAV = {"admin": (("console.index", _l("Console")), ("audit.index", _l("Audit log"))),
       "clerk": (("counter.idle", _l("Counter")),),
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


def idle_expired() -> bool:
    seen = session.get(SEEN_KEY)
    limit = current_app.config["STAFF_IDLE_SIGNOUT"]
    return isinstance(seen, (int, float)) and time.time() - seen > limit


def require_staff(roles: tuple[str, ...]) -> Principal:
    """The signed-in staff member if their role is one of `roles`; else the sign-in page
    (signed out, timed out) or a 403 (signed in with another role)."""
    principal = g.get("staff") or signed_in()
    if principal is None or idle_expired():
        why = "timed_out" if principal is not None else None
        raise Gone(url_for("staff.sign_in", next=request.full_path.rstrip("?"),
                           problem=why))
    if principal.role not in roles:
        abort(403)
    session[SEEN_KEY] = int(time.time())
    g.staff = principal
    return principal


def home_for(role: str) -> str:
    endpoint = ROLE_HOME.get(role, "staff.sign_in")
    return url_for(endpoint if endpoint in current_app.view_functions else "home.index")
