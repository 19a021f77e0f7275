"""Bearer token -> Principal for staff and terminal tokens.

The token proves who signed in and when (its signature's verdict is remembered,
`tokens.read`); one indexed read by primary key (a prebuilt Core statement, run by
`backend.db.read_row` outside the request's transaction: this runs on every request,
bench/bench_identity.py, bench/bench_auth.py) says whether that identity is still
enabled and still on the same token generation. That read is never cached, so a
disabled terminal or a signed-out clerk is refused on the very next request.

An endpoint that writes and reveals nothing (the card challenge) may instead take its
terminal's row from the rows this process remembers, forgotten through the database as
soon as one changes (`judge_from_memory`, `backend.identity.terminal_rows`): there a
disabled terminal is refused once the change's notification reaches the process,
milliseconds after its commit.

An endpoint may instead judge its terminal in its own statement (`check_in_view`: the
card token, whose one statement reads the terminal row and changes nothing unless it
passes, `backend.cards.authentication.authenticate_alone`). The resolver then reads
nothing and leaves a `TerminalCheck` for the view, which must `judge_terminal` before
anything else it answers: with the row its statement read, or (for a request it
refuses before that statement, or where the statement cannot run) by the same read
as here, so a disabled terminal still gets `terminal_disabled` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Request, current_app, g, request
from sqlalchemy import bindparam, select

from backend.auth.principal import Principal
from backend.db import read_row
from backend.errors import ApiError
from backend.identity import terminal_rows, tokens
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
    g.pop(_PENDING, None)  # never a check left over from an earlier request in this context
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
    if claims.kind == "peer":
        return None  # an SPDCI peer's token: only /dci/ reads it (backend.dci.peers)
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


CHECKED_IN_VIEW = "satukartu.identity.terminal_checked_in_view"
FROM_MEMORY = "satukartu.identity.terminal_from_memory"
_PENDING = "identity_terminal_check"


@dataclass(frozen=True)
class TerminalCheck:
    """A terminal's token whose row the view reads and judges (`judge_terminal`)."""

    terminal_id: str
    generation: int


def check_in_view(app: Any, endpoint: str) -> None:
    """Let `endpoint`'s view judge its terminal itself (see the module's docstring)."""
    app.extensions.setdefault(CHECKED_IN_VIEW, set()).add(endpoint)


def judge_from_memory(app: Any, endpoint: str) -> None:
    """Let `endpoint` judge its terminal by a remembered row (see the module's docstring)."""
    app.extensions.setdefault(FROM_MEMORY, set()).add(endpoint)


def pending_terminal_check() -> TerminalCheck | None:
    """The terminal the view has still to judge, if the resolver left it one."""
    return g.get(_PENDING)


def judge_terminal() -> None:
    """Judge the terminal left to the view by the resolver's own read, as the resolver
    would have; nothing to do when none is left (or it was judged already)."""
    check = g.get(_PENDING)
    if check is not None:
        judge_terminal_row(read_row(_TERMINAL, {"account_id": check.terminal_id}))


def judge_terminal_row(row: Any) -> None:
    """Judge the terminal left to the view on `row` (enabled, token_generation), as its
    own statement read it; None when that found no row."""
    check = g.pop(_PENDING, None)
    if check is None:
        return
    try:
        _judged(row, check.generation)
    except ApiError:
        g.principal = None  # refused as by the resolver: nobody proven
        raise


def _terminal(claims: tokens.Claims) -> Principal:
    if request.endpoint in current_app.extensions.get(CHECKED_IN_VIEW, ()):
        setattr(g, _PENDING, TerminalCheck(claims.account_id, claims.generation))
        # A terminal's kind never changes, so the token's is the row's.
        return Principal(kind="terminal", subject=claims.account_id, role=claims.role,
                         terminal_id=claims.account_id, scopes=frozenset({claims.role}))
    row = _terminal_row(claims)
    _judged(row, claims.generation)
    assert row is not None  # _judged refuses a missing row
    return Principal(kind="terminal", subject=claims.account_id, role=row.kind,
                     terminal_id=claims.account_id, scopes=frozenset({row.kind}))


def _terminal_row(claims: tokens.Claims) -> Any:
    def read() -> Any:
        return read_row(_TERMINAL, {"account_id": claims.account_id})

    if request.endpoint in current_app.extensions.get(FROM_MEMORY, ()):
        remembered = terminal_rows.for_app(current_app)
        if remembered is not None:
            return remembered.lookup(claims.account_id, read, lambda row: (
                row.enabled and row.token_generation == claims.generation))
    return read()


def _judged(row: Any, generation: int) -> None:
    if row is None:
        raise ApiError(Reason.TOKEN_INVALID, "the bearer token is not valid", 401,
                       headers=_INVALID)
    if not row.enabled:
        raise ApiError(Reason.TERMINAL_DISABLED, "this terminal is disabled", 401,
                       headers=_INVALID)
    if row.token_generation != generation:
        raise ApiError(Reason.SESSION_ENDED, "the terminal's credentials were replaced; "
                       "fetch a new token", 401, headers=_INVALID)
