"""Who a screen serves: the card session (and the signed-in agent) behind its cookies.

A page never holds a session of its own: the cookie carries the same bearer token the
API takes (a card session `sks_...`, a staff token), and every request resolves it the
way the API does, so removal, logout, suspension and revocation end the page on its
very next request, in whichever hub process serves it. The cookies are HttpOnly and
SameSite=Strict: page script never sees them, and other sites cannot send them.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, redirect, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from backend.auth.principal import Principal
from backend.auth.principal import resolve as resolve_token
from backend.errors import ApiError

CARD_COOKIE = "sk_card"
STAFF_COOKIE = "sk_staff"
MAX_TOKEN = 4096


class Gone(HTTPException):
    """The session behind the page has ended: go back to the screen's start."""

    code = 303

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def get_response(self, environ: Any = None, scope: Any = None) -> BaseResponse:
        if request.headers.get("HX-Request"):
            response = Response(status=204)
            response.headers["HX-Redirect"] = self.target
            return response
        return redirect(self.target, 303)


def resolve(token: str | None) -> Principal | None:
    """The Principal behind a bearer token, as the API would see it; None when ended."""
    if not token or len(token) > MAX_TOKEN:
        return None
    try:
        return resolve_token(token, request)
    except ApiError:  # ended, expired, revoked: the same as no session for a page
        return None


def card_principal(kinds: tuple[str, ...]) -> Principal | None:
    principal = resolve(request.cookies.get(CARD_COOKIE))
    if principal is None or principal.card is None or principal.role not in kinds:
        return None
    return principal


def require_card(kinds: tuple[str, ...], start: str, assurance: str | None = None
                 ) -> Principal:
    """The page's card session, or back to `start` (an endpoint) if there is none."""
    principal = card_principal(kinds)
    if principal is None:
        raise Gone(url_for(start))
    if assurance == "pin" and principal.card.assurance != "pin":  # type: ignore[union-attr]
        raise Gone(url_for(start))
    g.principal = principal
    return principal


def staff_principal(roles: tuple[str, ...]) -> Principal | None:
    principal = resolve(request.cookies.get(STAFF_COOKIE))
    if principal is None or principal.kind != "staff" or principal.role not in roles:
        return None
    return principal


def set_cookie(response: BaseResponse, name: str, token: str, max_age: int | None = None) -> None:
    response.set_cookie(name, token, max_age=max_age, httponly=True, samesite="Strict",
                        secure=request.is_secure, path="/")


def clear_cookie(response: BaseResponse, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="Strict",
                           secure=request.is_secure)
