"""A card's life: issued, suspended and reinstated, revoked or superseded.

Each step is one transaction with its audit record, ends the card's open sessions
when the card stops being usable, and signs a new CRL when the list changes.
Callers (API views, CLI commands) own the transaction; nothing here commits.

    active --suspend--> suspended --reinstate--> active
    active|suspended --revoke--> revoked | superseded (reason superseded)
    active|suspended --a new card for the same citizen--> superseded
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

from cryptography import x509
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit import record
from backend.auth.principal import Principal
from backend.cards import crl
from backend.cards.ca import CaError, IssuingCA, fingerprint
from backend.cards.context import state
from backend.cards.models import LIVE_STATUSES, Card
from backend.cards.sessions import end_card_sessions
from backend.cards.store import utcnow
from backend.errors import ApiError
from backend.reasons import Reason

SUSPEND_REASONS = ("certificateHold",)
# What a card can be revoked for (RFC 5280 names): lost or stolen is keyCompromise,
# a death is cessationOfOperation, a withdrawn entitlement privilegeWithdrawn.
REVOKE_REASONS = ("unspecified", "keyCompromise", "affiliationChanged", "superseded",
                  "cessationOfOperation", "privilegeWithdrawn")
SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_serial() -> str:
    """A card serial such as `7K3M-Q9XP-2HDA`: 60 random bits, easy to read aloud."""
    chars = "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(12))
    return "-".join(chars[i:i + 4] for i in range(0, 12, 4))


def normalise_serial(serial: str) -> str:
    return serial.strip().upper()


def get_card(db: Session, serial: str, *, lock: bool = False) -> Card:
    stmt = select(Card).where(Card.serial == normalise_serial(serial))
    if lock:
        stmt = stmt.with_for_update()
    card = db.execute(stmt).scalar_one_or_none()
    if card is None:
        raise ApiError(Reason.NOT_FOUND, f"no card with serial {serial}", 404)
    return card


def _invalid(card: Card, action: str) -> ApiError:
    return ApiError(Reason.CARD_STATE_INVALID, f"a {card.status} card cannot be {action}", 409,
                    {"serial": card.serial, "status": card.status})


def _set_status(db: Session, card: Card, status: str, reason: str | None,
                now: dt.datetime) -> None:
    card.status = status
    card.revocation_reason = reason
    card.status_changed_at = now
    db.flush()
    if status != "active":
        end_card_sessions(db.connection(), card.id, f"card_{status}", now)


def issuing_ca() -> IssuingCA:
    """The app's issuing CA, or a 503 refusal when it is missing or unusable."""
    try:
        return state().issuing_ca()
    except CaError as exc:
        raise ApiError(Reason.SERVICE_UNAVAILABLE, f"the issuing CA is unavailable: {exc}",
                       503) from exc


def _publish_crl(db: Session, note: str, now: dt.datetime) -> None:
    ca = issuing_ca()
    crl.publish(db, ca, current_app.config["CRL_VALIDITY_HOURS"], note=note, now=now)


def _audit(db: Session, action: str, card: Card, details: dict,
           principal: Principal | None) -> None:
    record(db, action=action, subject_type="card", subject_id=card.serial,
           citizen_id=card.citizen_id, details=details, principal=principal)


def suspend(db: Session, serial: str, reason: str = "certificateHold", note: str = "",
            principal: Principal | None = None) -> Card:
    """Put a card on hold (reported missing, under review): refused until reinstated."""
    if reason not in SUSPEND_REASONS:
        raise ApiError(Reason.VALIDATION_FAILED, "a suspension's reason is certificateHold")
    card = get_card(db, serial, lock=True)
    if card.status != "active":
        raise _invalid(card, "suspended")
    now = utcnow()
    _set_status(db, card, "suspended", reason, now)
    _audit(db, "card.suspend", card, {"reason": reason, "note": note}, principal)
    _publish_crl(db, f"suspended {card.serial}", now)
    return card


# Who may put a card on hold at a service counter, and only the card in front of them.
COUNTER_SUSPENDERS = ("clerk", "admin")


def suspend_at_counter(db: Session, card_session: Principal, clerk: Principal,
                       note: str = "") -> Card:
    """A clerk puts on hold the card whose PIN session is open at their counter (the
    holder reports it lost, or fears someone saw the PIN).

    Suspending is otherwise the admins' (the API's `/cards/<serial>/suspend`); a clerk
    may suspend only this way, only the card the citizen has just proven with its PIN at
    a counter terminal, and never reinstate or revoke: a card taken away by mistake
    costs the holder a trip to an admin, a card suspended by a clerk from a list could
    be anyone's."""
    card = card_session.card
    if clerk.kind != "staff" or clerk.role not in COUNTER_SUSPENDERS:
        raise ApiError(Reason.ROLE_NOT_ALLOWED, "only a clerk or admin may do this", 403)
    if card is None or card_session.role != "counter" or card.assurance != "pin":
        raise ApiError(Reason.FORBIDDEN, "a clerk suspends only the card proven with its PIN "
                       "at their counter", 403)
    return suspend(db, card.card_serial, "certificateHold", note, principal=clerk)


def reinstate(db: Session, serial: str, note: str = "",
              principal: Principal | None = None) -> Card:
    """Lift a suspension (the card was found); the card works again at once."""
    card = get_card(db, serial, lock=True)
    if card.status != "suspended":
        raise _invalid(card, "reinstated")
    now = utcnow()
    _set_status(db, card, "active", None, now)
    _audit(db, "card.reinstate", card, {"reason": "removeFromCRL", "note": note}, principal)
    _publish_crl(db, f"reinstated {card.serial}", now)
    return card


def revoke(db: Session, serial: str, reason: str, note: str = "",
           principal: Principal | None = None) -> Card:
    """End a card for good; reason `superseded` marks it superseded rather than revoked."""
    if reason not in REVOKE_REASONS:
        raise ApiError(Reason.VALIDATION_FAILED, f"a revocation's reason is one of "
                       f"{', '.join(REVOKE_REASONS)}", details={"reason": reason})
    card = get_card(db, serial, lock=True)
    if card.status not in LIVE_STATUSES:
        raise _invalid(card, "revoked")
    now = utcnow()
    _set_status(db, card, "superseded" if reason == "superseded" else "revoked", reason, now)
    _audit(db, "card.revoke", card, {"reason": reason, "note": note}, principal)
    _publish_crl(db, f"revoked {card.serial} ({reason})", now)
    return card


@dataclass(frozen=True)
class NewCard:
    """What issuance hands over once the card is personalised."""

    citizen_id: int
    serial: str
    card_uuid: uuid.UUID
    certificates: dict[str, x509.Certificate]  # "9A", "9E"
    expires_at: dt.datetime


def record_issued(db: Session, new: NewCard, *, old_reason: str = "superseded",
                  principal: Principal | None = None) -> Card:
    """Record a personalised card; the citizen's previous live card is retired with it.

    `old_reason` is what happened to the previous card: superseded (a routine new card)
    or, for a replacement, e.g. keyCompromise (lost or stolen).
    """
    if old_reason not in REVOKE_REASONS:
        raise ApiError(Reason.VALIDATION_FAILED, f"unknown revocation reason {old_reason}")
    now = utcnow()
    previous = db.execute(select(Card).where(Card.citizen_id == new.citizen_id,
                                             Card.status.in_(LIVE_STATUSES))
                          .with_for_update()).scalars().all()
    for old in previous:
        status = "superseded" if old_reason == "superseded" else "revoked"
        _set_status(db, old, status, old_reason, now)
        _audit(db, "card.revoke", old, {"reason": old_reason, "replaced_by": new.serial},
               principal)
    card = Card(serial=new.serial, card_uuid=str(new.card_uuid), citizen_id=new.citizen_id,
                status="active", issued_at=now, expires_at=new.expires_at,
                cert_9a_sha256=fingerprint(new.certificates["9A"]),
                cert_9e_sha256=fingerprint(new.certificates["9E"]),
                cert_9a_serial=f"{new.certificates['9A'].serial_number:x}",
                cert_9e_serial=f"{new.certificates['9E'].serial_number:x}",
                replaces_id=previous[-1].id if previous else None)
    db.add(card)
    db.flush()
    _audit(db, "card.issue", card, {"card_uuid": card.card_uuid,
                                    "expires_at": new.expires_at.isoformat(),
                                    "replaces": previous[-1].serial if previous else None},
           principal)
    if previous:
        _publish_crl(db, f"issued {card.serial}, retired "
                     f"{', '.join(c.serial for c in previous)}", now)
    return card


def authorise_pin_unblock(db: Session, serial: str, principal: Principal | None = None
                          ) -> Card:
    """A clerk vouches for the citizen at a counter; the counter's reader then resets
    the PIN with the PUK. The hub only allows it for a usable card, and audits it."""
    card = get_card(db, serial)
    if card.status != "active":
        raise _invalid(card, "unblocked")
    _audit(db, "card.pin_unblock", card, {"by": "clerk and PUK"}, principal)
    return card
