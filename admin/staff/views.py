"""Staff sign-in pages: password, then (where enrolled) the one-time code; sign-out; the
idle clock's "still here"; the staff member's own page.

    GET  /staff/               back to the role's screen (or sign in)
    GET  /staff/sign-in        username and password (and the city's sign-on button)
    POST /staff/sign-in
    GET  /staff/sign-in/code   the 6-digit code, for an account with TOTP
    POST /staff/sign-in/code
    POST /staff/sign-out       ends the token at the hub
    GET  /staff/still-here     204: the idle clock starts again
    GET  /staff/account        who is signed in, and how

The password page's success for an account with TOTP is carried to the code page in
the signed session (`admin/common/pending_sign_in.py`, shared with the agent's screen),
for a few minutes, never as a token: nobody is signed in until the code is right. Single
sign-on is in `admin/staff/sso.py`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin.common import screen_blueprint
from admin.common.pending_sign_in import MAX_CODE, drop, hold, pending
from admin.common.pending_sign_in import PENDING_KEY as PENDING_KEY  # where tests look
from admin.common.sessions import STAFF_COOKIE, clear_cookie, set_cookie
from admin.common.staff import home_for, require_staff, safe_next, signed_in, start_clock
from admin.staff.words import staff_advice
from backend.api.routing import commit
from backend.auth.principal import STAFF_ROLES
from backend.db import session as db_session
from backend.errors import ApiError
from backend.identity import accounts, oidc, signin
from backend.reasons import Reason

blueprint = screen_blueprint("staff", __name__, "/staff")
SIGNS_IN_HERE = ("admin", "clerk", "auditor")
SCREEN = "staff"
MAX_USERNAME = 200
MAX_PASSWORD = 1000


def shift_seconds() -> int:
    return int(current_app.config["STAFF_SHIFT_HOURS"]) * 3600


def signed_in_response(signed: signin.SignedIn, target: str | None) -> BaseResponse:
    """The end of every sign-in here: commit, the staff cookie (HttpOnly, SameSite=Strict,
    Secure over HTTPS; gone when the browser closes), a fresh session with the idle clock
    started, and the role's screen (or the page the person was sent from)."""
    commit()
    response = redirect(safe_next(target) or home_for(signed.role), 303)
    set_cookie(response, STAFF_COOKIE, signed.issued.token)
    session.clear()
    start_clock()
    return response


def _page(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("errors", [])
    reason = request.args.get("problem")
    context.setdefault("problem", staff_advice(reason) if reason else None)
    context.setdefault("next", safe_next(request.values.get("next")))
    html = render_template(template, screen="staff", **context)
    return Response(html, status=status)


def _error(field: str, reason: str) -> dict[str, str]:
    found = staff_advice(reason)
    return {"field": field, "text": f"{found.title}. {found.next_step}", "reason": reason}


# --- pages ---------------------------------------------------------------------------

@blueprint.get("/")
def index() -> BaseResponse:
    principal = signed_in()
    if principal is None:
        return redirect(url_for("staff.sign_in"), 303)
    return redirect(home_for(principal.role or ""), 303)


@blueprint.get("/sign-in")
def sign_in() -> Response:
    return _page("staff/sign_in.html", sso=oidc.configured())


@blueprint.post("/sign-in")
def sign_in_post() -> BaseResponse:
    username = request.form.get("username", "").strip()[:MAX_USERNAME]
    password = request.form.get("password", "")[:MAX_PASSWORD]
    target = safe_next(request.form.get("next"))
    errors = []
    if not username:
        errors.append(_error("username", "missing_username"))
    if not password:
        errors.append(_error("password", "missing_password"))
    result = None
    if not errors:
        try:
            result = signin.first_factor(username, password, request.remote_addr,
                                         ttl=shift_seconds())
        except ApiError as error:
            db_session().rollback()
            errors.append(_error("password", error.reason.value))
    if result is not None and result.role not in SIGNS_IN_HERE:
        db_session().rollback()
        errors.append(_error("username", "role_not_allowed"))
        result = None
    if result is None:
        return _page("staff/sign_in.html", 400, errors=errors, username=username,
                     problem=None, next=target, sso=oidc.configured())
    if isinstance(result, signin.NeedsCode):
        commit()  # the password's new hash, if argon2's parameters moved on
        hold(result, SCREEN, next=target)
        return redirect(url_for("staff.code"), 303)
    return signed_in_response(result, target)


def _start_again(problem: str) -> BaseResponse:
    target = drop().get("next")
    return redirect(url_for("staff.sign_in", problem=problem, next=safe_next(target)), 303)


@blueprint.get("/sign-in/code")
def code() -> BaseResponse:
    if pending(SCREEN) is None:
        return _start_again("code_expired")
    return _page("staff/code.html")


@blueprint.post("/sign-in/code")
def code_post() -> BaseResponse:
    held = pending(SCREEN)
    if held is None:
        return _start_again("code_expired")
    typed = request.form.get("code", "")[:MAX_CODE]
    if not typed.strip():
        return _page("staff/code.html", 400, errors=[_error("code", "missing_code")])
    try:
        signed = signin.second_factor(held, typed, request.remote_addr, ttl=shift_seconds())
    except ApiError as error:
        db_session().rollback()
        if error.reason is Reason.INVALID_CREDENTIALS:
            return _start_again("sign_in_again")
        return _page("staff/code.html", 400, errors=[_error("code", error.reason.value)])
    return signed_in_response(signed, drop().get("next"))


@blueprint.post("/sign-out")
def sign_out() -> BaseResponse:
    """Signing out ends the token at the hub too: a copied cookie would outlive it. The
    page's idle timer posts here with why=timed_out, so the sign-in page says why."""
    principal = signed_in()
    if principal is not None:
        accounts.end_staff_tokens(db_session(), accounts.get_staff(db_session(),
                                                                   principal.subject).id)
        commit()
    why = "timed_out" if request.form.get("why") == "timed_out" else "signed_out"
    response = redirect(url_for("staff.sign_in", problem=why,
                                next=safe_next(request.form.get("next"))), 303)
    clear_cookie(response, STAFF_COOKIE)
    session.clear()
    return response


@blueprint.get("/still-here")
def still_here() -> Response:
    """The answer to "Stay signed in": the hub's idle clock starts again."""
    require_staff(STAFF_ROLES)
    return Response(status=204)


@blueprint.get("/account")
def account() -> Response:
    """The staff member's own page: who, which role, how they sign in; also where a role
    lands whose screen this hub does not serve."""
    principal = require_staff(STAFF_ROLES)
    row = accounts.get_staff(db_session(), principal.subject)
    return _page("staff/account.html", account=row)
