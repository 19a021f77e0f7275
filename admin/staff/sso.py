"""Single sign-on from the staff screens, through the city's OpenID Connect provider.

    GET /staff/sso            to the provider (authorization code, PKCE S256, state, nonce)
    GET /staff/sso/callback   back: the code exchanged, the ID token checked, signed in

The flow is the API's (`backend.identity.oidc`, Authlib's Flask client) with this
page's callback; the identity is mapped to a staff account by `signin.sso_login`, the
same rules as the API (linked `sub`, else a verified e-mail once; nobody gets an
account by signing in). What differs is the answer: the staff cookie and the role's
screen, or a plain page saying what went wrong, its reason in `data-reason`. The
city's provider asks for its own second factor, so TOTP is not asked here.
"""

from __future__ import annotations

from flask import render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin.common.staff import safe_next
from admin.staff.views import SIGNS_IN_HERE, blueprint, shift_seconds, signed_in_response
from admin.staff.words import staff_advice
from backend.audit import record
from backend.db import database
from backend.db import session as db_session
from backend.errors import ApiError
from backend.identity import oidc, signin
from backend.reasons import Reason

NEXT_KEY = "staff_sso_next"


def _callback_path() -> str:
    return url_for("staff.sso_callback")


def refused(reason: str, status: int) -> tuple[str, int]:
    """A plain page in the staff layout: what happened, what to do, the reason for machines."""
    return render_template("staff/sso_refused.html", screen="staff", reason=reason,
                           problem=staff_advice(reason), errors=[]), status


def _audit_refusal(reason: str, problem: str | None) -> None:
    """The API's refusals are audited by its hook; a page's are written here, on their own
    (the request's transaction rolls back)."""
    details = {"method": "sso", "screen": "staff"} | ({"problem": problem} if problem else {})
    with database().transaction() as own:
        record(own, action="staff.login", subject_type="staff", outcome=reason,
               details=details)


@blueprint.get("/sso")
def sso() -> BaseResponse | tuple[str, int]:
    if not oidc.configured():
        return refused(Reason.SSO_DISABLED.value, 404)
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    try:
        return oidc.login_redirect(_callback_path())
    except ApiError as error:
        return refused(error.reason.value, error.status)


@blueprint.get("/sso/callback")
def sso_callback() -> BaseResponse | tuple[str, int]:
    try:
        signed = signin.sso_login(oidc.verified_claims(_callback_path()), ttl=shift_seconds())
    except ApiError as error:
        db_session().rollback()
        _audit_refusal(error.reason.value, str(error.details.get("problem") or "") or None)
        return refused(error.reason.value, error.status)
    if signed.role not in SIGNS_IN_HERE:
        db_session().rollback()
        _audit_refusal(Reason.ROLE_NOT_ALLOWED.value, None)
        return refused(Reason.ROLE_NOT_ALLOWED.value, 403)
    return signed_in_response(signed, session.pop(NEXT_KEY, None))
