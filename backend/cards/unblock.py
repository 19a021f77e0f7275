"""Unblocking a PIN at a counter: a clerk vouches for the citizen, the citizen types the PUK.

The reader resets the PIN with RESET RETRY COUNTER; the hub decides whether it may
(the card must be an active card of ours, the clerk an enabled clerk or admin) and
audits the attempt, including a wrong PUK, which the card counts and so do we.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit import record
from backend.auth.principal import Principal
from backend.cards import lifecycle
from backend.cards.models import Card
from backend.db import database
from backend.errors import ApiError
from backend.identity import accounts
from backend.reasons import Reason

CLERK_ROLES = ("clerk", "admin")


class UnblockError(Exception):
    """The unblock did not happen; the message says why."""


def clerk_principal(db: Session, username: str) -> Principal:
    try:
        account = accounts.get_staff(db, username)
    except ApiError as exc:
        raise UnblockError(f"no staff account {username}") from exc
    if not account.enabled or account.role not in CLERK_ROLES:
        raise UnblockError(f"{username} is not an enabled clerk")
    return Principal(kind="staff", subject=account.username, role=account.role)


def card_by_certificate(db: Session, der_9e: bytes) -> Card:
    found = db.execute(select(Card).where(
        Card.cert_9e_sha256 == hashlib.sha256(der_9e).hexdigest())).scalar_one_or_none()
    if found is None:
        raise UnblockError("the card in the reader was not issued by this hub")
    return found


def _record_failure(db: Session, card: Card, clerk: Principal, reason: Reason) -> None:
    """A failed attempt is audited in its own transaction. The caller's would roll back
    anyway, so it is rolled back first: on SQLite it holds the write lock, which the
    audit's own transaction would otherwise wait for in vain."""
    serial, citizen_id = card.serial, card.citizen_id
    db.rollback()
    with database().transaction() as own:
        record(own, action="card.pin_unblock", subject_type="card", subject_id=serial,
               citizen_id=citizen_id, outcome=reason.value, principal=clerk)


def unblock_in_reader(db: Session, reader: str, clerk_username: str, puk: str,
                      new_pin: str) -> str:
    """Reset the PIN of the card in `reader`; returns its serial."""
    from card_reader.client import PivSession
    from card_reader.pcsc import PcscConnection
    from card_reader.piv import InvalidPinError, PinBlockedError, Slot, pin_is_valid

    if not pin_is_valid(new_pin):
        raise UnblockError("a PIN has 6 to 8 digits")
    clerk = clerk_principal(db, clerk_username)
    with PcscConnection(reader) as conn:
        piv = PivSession(conn)
        piv.select()
        card = card_by_certificate(db, piv.read_certificate(Slot.CARD_AUTH))
        try:
            lifecycle.authorise_pin_unblock(db, card.serial, principal=clerk)
        except ApiError as exc:
            raise UnblockError(exc.message) from exc
        try:
            piv.unblock_pin(puk, new_pin)
        except InvalidPinError as exc:
            _record_failure(db, card, clerk, Reason.PUK_INCORRECT)
            raise UnblockError(f"wrong PUK; {exc.attempts_remaining} tries left") from exc
        except PinBlockedError as exc:
            _record_failure(db, card, clerk, Reason.PUK_BLOCKED)
            raise UnblockError("the PUK is blocked: the card must be replaced") from exc
    return card.serial
