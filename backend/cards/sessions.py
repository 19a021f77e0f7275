"""Card sessions as bearer tokens: `sks_...` resolved to a Principal of kind "card".

Only the token's SHA-256 is stored. Every request reads the session row and its
card's status and tap lock in one indexed join, so logout, card removal, suspension,
revocation and (for tap sessions) the holder's tap lock take effect on the very next
request, whatever happened in between.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from flask import Request
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from backend.auth.principal import CardContext, Principal
from backend.cards.store import as_utc, card_sessions, cards, digest, utcnow
from backend.db import read_row
from backend.errors import ApiError
from backend.reasons import Reason
from backend.registry.refs import citizen_ref
from card_reader import wire

SESSION_PREFIX = "sks_"
SESSION_TOKEN_MAX = 64
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass(frozen=True)
class CardRow:
    id: int
    serial: str
    citizen_id: int


@dataclass(frozen=True)
class NewSession:
    """A session's secret and row values, made before the card is admitted."""

    token: str
    public_id: str
    assurance: str
    terminal_id: str
    terminal_kind: str
    created_at: dt.datetime
    expires_at: dt.datetime

    @classmethod
    def make(cls, terminal: Principal, assurance: str, ttl: int, now: dt.datetime
             ) -> NewSession:
        return cls(SESSION_PREFIX + secrets.token_urlsafe(32), secrets.token_hex(12),
                   assurance, terminal.terminal_id or terminal.subject, terminal.role or "",
                   now, now + dt.timedelta(seconds=ttl))

    def row(self, card_id: int | None = None) -> dict:
        values = {"token_hash": digest(self.token.encode()), "public_id": self.public_id,
                  "terminal_id": self.terminal_id, "terminal_kind": self.terminal_kind,
                  "assurance": self.assurance, "created_at": self.created_at,
                  "expires_at": self.expires_at}
        if card_id is not None:
            values["card_id"] = card_id
        return values


@dataclass(frozen=True)
class OpenedSession:
    new: NewSession
    card: CardRow

    def principal(self) -> Principal:
        """Who acts through this session (the card at its terminal), e.g. for the audit."""
        context = CardContext(session_id=self.new.public_id, card_serial=self.card.serial,
                              citizen_id=self.card.citizen_id, assurance=self.new.assurance,
                              terminal_id=self.new.terminal_id)
        return Principal(kind="card", subject=self.card.serial, role=self.new.terminal_kind,
                         terminal_id=self.new.terminal_id, card=context)

    def to_wire(self) -> wire.CardSession:
        return wire.CardSession(session_token=self.new.token, assurance=self.new.assurance,
                                card_serial=self.card.serial,
                                citizen_ref=citizen_ref(self.card.citizen_id),
                                expires_at=self.new.expires_at.isoformat())


def end_session(conn: Connection, public_id: str, reason: str, now: dt.datetime) -> bool:
    result = conn.execute(update(card_sessions)
                          .where(card_sessions.c.public_id == public_id,
                                 card_sessions.c.ended_at.is_(None))
                          .values(ended_at=now, end_reason=reason))
    return result.rowcount == 1


def log_out(sess: Session, card: CardContext, why: str,
            principal: Principal | None = None) -> bool:
    """End one card session now and say so in the audit log; False if it had ended.

    The API's logout, the reader's removal and a screen's "done" or timeout all end a
    session this one way."""
    from backend.audit import record

    if not end_session(sess.connection(), card.session_id, why, utcnow()):
        return False
    record(sess, action="card.logout", subject_type="card", subject_id=card.card_serial,
           citizen_id=card.citizen_id, details={"session": card.session_id, "why": why},
           principal=principal)
    return True


def end_card_sessions(conn: Connection, card_id: int, reason: str, now: dt.datetime,
                      *, assurance: str | None = None) -> int:
    """End every open session of a card (suspension, revocation, replacement), or only
    those of one assurance (a tap lock ends the tap sessions, not the PIN session that
    set it)."""
    stmt = update(card_sessions).where(card_sessions.c.card_id == card_id,
                                       card_sessions.c.ended_at.is_(None))
    if assurance is not None:
        stmt = stmt.where(card_sessions.c.assurance == assurance)
    return conn.execute(stmt.values(ended_at=now, end_reason=reason)).rowcount


_LOOKUP = (
    select(card_sessions.c.public_id, card_sessions.c.terminal_id,
           card_sessions.c.terminal_kind, card_sessions.c.assurance,
           card_sessions.c.expires_at, card_sessions.c.ended_at, cards.c.serial,
           cards.c.citizen_id, cards.c.status, cards.c.tap_locked)
    .join(cards, cards.c.id == card_sessions.c.card_id)
    .where(card_sessions.c.token_hash == bindparam("lookup_hash"))
)


def resolve_card_session(token: str, _request: Request) -> Principal | None:
    """The card Principal for a session token; None for tokens that are not ours."""
    if not token.startswith(SESSION_PREFIX) or len(token) > SESSION_TOKEN_MAX:
        return None
    row = read_row(_LOOKUP, {"lookup_hash": digest(token.encode())})
    if row is None:
        return None
    if row.ended_at is not None:
        raise ApiError(Reason.SESSION_ENDED, "the card session has ended", 401,
                       headers=_INVALID)
    if as_utc(row.expires_at) <= utcnow():
        raise ApiError(Reason.TOKEN_EXPIRED, "the card session has expired", 401,
                       headers=_INVALID)
    if row.status != "active":
        raise ApiError(Reason.SESSION_ENDED, f"the card is {row.status}", 401,
                       headers=_INVALID)
    if row.tap_locked and row.assurance == "tap":
        # Locking ends these at once; this catches one opened as the lock committed.
        raise ApiError(Reason.SESSION_ENDED, "the card is locked for taps", 401,
                       headers=_INVALID)
    context = CardContext(session_id=row.public_id, card_serial=row.serial,
                          citizen_id=row.citizen_id, assurance=row.assurance,
                          terminal_id=row.terminal_id)
    return Principal(kind="card", subject=row.serial, role=row.terminal_kind,
                     terminal_id=row.terminal_id, card=context)
