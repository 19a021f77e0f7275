"""`/staff/sign-in`, `/staff/sign-out` and `/staff/` (back to the role's screen)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Response, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin.common import screen_blueprint
from admin.common.messages import advice
from admin.common.sessions import STAFF_COOKIE, clear_cookie, set_cookie
from admin.common.staff import SEEN_KEY, home_for, signed_in
from backend.api.routing import commit
from backend.db import session as db_session
from backend.errors import ApiError
from backend.identity import accounts, signin

blueprint = screen_blueprint("staff", __name__, "/staff")
SIGNS_IN_HERE = ("admin", "clerk", "auditor")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this hub: a sign-in page must not send anyone elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _page(**context: Any) -> str:
    context.setdefault("errors", [])
    reason = request.args.get("problem")
    context.setdefault("problem", advice(reason) if reason else None)
    return render_template("staff/sign_in.html", screen="staff",
                           next=_safe_next(request.values.get("next")), **context)


@blueprint.get("/")
def index() -> BaseResponse:
    principal = signed_in()
    if principal is None:
        return redirect(url_for("staff.sign_in"), 303)
    return redirect(home_for(principal.role or ""), 303)


@blueprint.get("/sign-in")
def sign_in() -> str:
    return _page()


@blueprint.post("/sign-in")
def sign_in_post() -> BaseResponse:
    username = request.form.get("username", "").strip()[:200]
    password = request.form.get("password", "")[:1000]
    errors = []
    if not username:
        errors.append({"field": "username", "text": advice("missing_username").title})
    if not password:
        errors.append({"field": "password", "text": advice("missing_password").title})
    signed = None
    if not errors:
        try:
            signed = signin.password_login(username, password, request.remote_addr)
        except ApiError as error:
            db_session().rollback()
            found = advice(error.reason.value)
            errors.append({"field": "password", "text": f"{found.title}. {found.next_step}"})
    if signed is not None and signed.role not in SIGNS_IN_HERE:
        db_session().rollback()
        errors.append({"field": "username", "text": advice("role_not_allowed").title})
        signed = None
    if signed is None:
        return Response(_page(errors=errors, username=username, problem=None), status=400)
    commit()
    target = _safe_next(request.form.get("next")) or home_for(signed.role)
    response = redirect(target, 303)
    set_cookie(response, STAFF_COOKIE, signed.issued.token, max_age=signed.issued.expires_in)
    session.clear()
    return response


@blueprint.post("/sign-out")
def sign_out() -> BaseResponse:
    """Signing out ends the token at the hub too: a copied cookie would outlive it."""
    principal = signed_in()
    if principal is not None:
        accounts.end_staff_tokens(db_session(), accounts.get_staff(db_session(),
                                                                   principal.subject).id)
        commit()
    response = redirect(url_for("staff.sign_in", problem="signed_out"), 303)
    clear_cookie(response, STAFF_COOKIE)
    session.pop(SEEN_KEY, None)
    session.clear()
    return response
