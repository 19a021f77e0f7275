"""Card sessions as bearer tokens: `sks_...` resolved to a Principal of kind "card".

Every request checks the session row and its card's status in one indexed read, so
logout, card removal, suspension and revocation take effect on the next request.
"""

from __future__ import annotations

from flask import Request
from sqlalchemy import select

from backend.auth.principal import CardContext, Principal
from backend.cards.authentication import (
    SESSION_PREFIX,
    SESSION_TOKEN_MAX,
    as_utc,
    card_sessions,
    cards,
    digest,
    utcnow,
)
from backend.db import session
from backend.errors import ApiError
from backend.reasons import Reason

_LOOKUP = (
    select(card_sessions.c.public_id, card_sessions.c.terminal_id,
           card_sessions.c.terminal_kind, card_sessions.c.assurance,
           card_sessions.c.expires_at, card_sessions.c.ended_at, cards.c.serial,
           cards.c.citizen_id, cards.c.status)
    .join(cards, cards.c.id == card_sessions.c.card_id)
)


def _ended(message: str) -> ApiError:
    return ApiError(Reason.SESSION_ENDED, message, 401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def resolve_card_session(token: str, _request: Request) -> Principal | None:
    """The card Principal for a session token; None for tokens that are not ours."""
    if not token.startswith(SESSION_PREFIX) or len(token) > SESSION_TOKEN_MAX:
        return None
    row = session().connection().execute(
        _LOOKUP.where(card_sessions.c.token_hash == digest(token.encode()))).first()
    if row is None:
        return None
    if row.ended_at is not None:
        raise _ended("the card session has ended")
    if as_utc(row.expires_at) <= utcnow():
        raise ApiError(Reason.TOKEN_EXPIRED, "the card session has expired", 401,
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if row.status != "active":
        raise _ended(f"the card is {row.status}")
    context = CardContext(session_id=row.public_id, card_serial=row.serial,
                          citizen_id=row.citizen_id, assurance=row.assurance,
                          terminal_id=row.terminal_id)
    return Principal(kind="card", subject=row.serial, role=row.terminal_kind,
                     terminal_id=row.terminal_id, card=context)
