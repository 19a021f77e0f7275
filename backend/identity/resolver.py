"""Bearer token -> Principal for staff and terminal tokens.

The token proves who signed in and when (its signature's verdict is remembered,
`tokens.read`); one indexed read by primary key (a prebuilt Core statement, run by
`backend.db.read_row` outside the request's transaction: this runs on every request,
bench/bench_identity.py, bench/bench_auth.py) says whether that identity is still
enabled and still on the same token generation. That read is never cached, so a
disabled terminal or a signed-out clerk is refused on the very next request.
"""

from __future__ import annotations

from flask import Request, current_app
from sqlalchemy import bindparam, select

from backend.auth.principal import Principal
from backend.db import read_row
from backend.errors import ApiError
from backend.identity import tokens
from backend.identity.models import StaffAccount, Terminal
from backend.reasons import Reason

EXTENSION = "satukartu.identity"
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
# Built once: building the WHERE clause on every request cost more than running it.
_STAFF = select(StaffAccount.username, StaffAccount.role, StaffAccount.enabled,
                StaffAccount.token_generation).where(StaffAccount.id == bindparam("account_id"))
_TERMINAL = select(Terminal.kind, Terminal.enabled, Terminal.token_generation
                   ).where(Terminal.id == bindparam("account_id"))


def resolve(token: str, _request: Request) -> Principal | None:
    """A Principal for our tokens; None lets the next resolver (card sessions) try."""
    state = current_app.extensions.get(EXTENSION)
    if state is None or not tokens.looks_like_ours(token):
        return None
    try:
        claims = tokens.read(state.key, token)
    except tokens.TokenExpired as exc:
        raise ApiError(Reason.TOKEN_EXPIRED, "the token has expired; sign in again", 401,
                       headers=_INVALID) from exc
    if claims is None:
        return None
    if claims.kind == "staff":
        return _staff(claims)
    return _terminal(claims)


def _staff(claims: tokens.Claims) -> Principal:
    if not claims.account_id.isdigit():
        raise ApiError(Reason.TOKEN_INVALID, "the bearer token is not valid", 401,
                       headers=_INVALID)
    row = read_row(_STAFF, {"account_id": int(claims.account_id)})
    if row is None or row.username != claims.subject:
        raise ApiError(Reason.TOKEN_INVALID, "the bearer token is not valid", 401,
                       headers=_INVALID)
    if not row.enabled:
        raise ApiError(Reason.ACCOUNT_DISABLED, "this staff account is disabled", 401,
                       headers=_INVALID)
    if row.token_generation != claims.generation:
        raise ApiError(Reason.SESSION_ENDED, "this token was signed out; sign in again", 401,
                       headers=_INVALID)
    return Principal(kind="staff", subject=row.username, role=row.role,
                     scopes=frozenset({row.role}))


def _terminal(claims: tokens.Claims) -> Principal:
    row = read_row(_TERMINAL, {"account_id": claims.account_id})
    if row is None:
        raise ApiError(Reason.TOKEN_INVALID, "the bearer token is not valid", 401,
                       headers=_INVALID)
    if not row.enabled:
        raise ApiError(Reason.TERMINAL_DISABLED, "this terminal is disabled", 401,
                       headers=_INVALID)
    if row.token_generation != claims.generation:
        raise ApiError(Reason.SESSION_ENDED, "the terminal's credentials were replaced; "
                       "fetch a new token", 401, headers=_INVALID)
    return Principal(kind="terminal", subject=claims.account_id, role=row.kind,
                     terminal_id=claims.account_id, scopes=frozenset({row.kind}))
